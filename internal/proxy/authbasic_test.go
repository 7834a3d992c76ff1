package proxy

import (
	"encoding/base64"
	"testing"

	"headroom/internal/http1"
)

func TestBasicCredentials(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, value, user, pass string
		ok                      bool
	}{
		{"plain", "Basic " + enc([]byte("u:p")), "u", "p", true},
		{"scheme in any case, spaces before", "bASIC    " + enc([]byte("u:p")), "u", "p", true},
		{"no padding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("us:pa")), "us", "pa", true},
		{"a colon in the password", "Basic " + enc([]byte("u:p:q")), "u", "p:q", true},
		{"an empty password", "Basic " + enc([]byte("u:")), "u", "", true},
		{"an empty user", "Basic " + enc([]byte(":p")), "", "", false},
		{"no colon", "Basic " + enc([]byte("up")), "", "", false},
		{"not base64", "Basic !!!!", "", "", false},
		{"a length nginx refuses", "Basic abcde", "", "", false},
		{"nothing after the scheme", "Basic ", "", "", false},
		{"another scheme", "Bearer " + enc([]byte("u:p")), "", "", false},
	} {
		h := []http1.Header{{Name: []byte("Authorization"), Value: []byte(tc.value)}}
		user, pass, ok := basicCredentials(h)
		if ok != tc.ok || string(user) != tc.user || string(pass) != tc.pass {
			t.Errorf("%s: got %q %q %v, want %q %q %v", tc.name, user, pass, ok, tc.user, tc.pass, tc.ok)
		}
	}
	if _, _, ok := basicCredentials(nil); ok {
		t.Errorf("no Authorization field gave credentials")
	}
}

func TestFindUser(t *testing.T) {
	file := []byte("# comment\n\nalice:{PLAIN}a\r\nbob:{PLAIN}b:extra\n\rcarol:{PLAIN}x\nalicia:{PLAIN}c\nalice:{PLAIN}second\ndave:{PLAIN}d")
	for _, tc := range []struct {
		user, pw string
		found    bool
	}{
		{"alice", "{PLAIN}a", true},
		{"bob", "{PLAIN}b", true},
		{"alicia", "{PLAIN}c", true},
		{"dave", "{PLAIN}d", true},
		{"carol", "", false},
		{"ali", "", false},
		{"# comment", "", false},
		{"", "", false},
	} {
		pw, found := findUser(file, []byte(tc.user))
		if found != tc.found || string(pw) != tc.pw {
			t.Errorf("%q: got %q %v, want %q %v", tc.user, pw, found, tc.pw, tc.found)
		}
	}
}

func TestPasswordCache(t *testing.T) {
	// Made by perl -e 'print crypt("secret", q($5$rounds=1000$saltsalt$))'.
	const stored = "$5$rounds=1000$saltsalt$eKLZU9t9OoPWrqOQsoTIKG0aYkZ5rGOoOQhiIvoSWX2"
	var pc passwordCache
	for i := range 3 {
		if !pc.verify([]byte(stored), []byte("secret")) {
			t.Fatalf("try %d: the right password did not match", i)
		}
		if pc.verify([]byte(stored), []byte("Secret")) {
			t.Fatalf("try %d: a wrong password matched", i)
		}
	}
	if len(pc.seen) != 1 || len(pc.ring) != 1 {
		t.Errorf("kept %d matches in a ring of %d, want the one", len(pc.seen), len(pc.ring))
	}
	// Another stored value with the same password is not the kept one.
	if pc.verify([]byte(stored[:len(stored)-1]+"3"), []byte("secret")) {
		t.Errorf("a changed stored value matched from the cache")
	}
	// The ring keeps the last passwordCacheSize matches: the first,
	// the real one, is the first to go.
	var first [32]byte
	for k := range pc.seen {
		first = k
	}
	for i := range passwordCacheSize {
		var key [32]byte
		key[0], key[1], key[2] = byte(i), byte(i>>8), 1
		pc.add(key)
	}
	if _, ok := pc.seen[first]; ok || len(pc.seen) != passwordCacheSize || len(pc.ring) != passwordCacheSize {
		t.Errorf("after %d more: the first kept %v, %d held in a ring of %d", passwordCacheSize, ok, len(pc.seen), len(pc.ring))
	}
}
