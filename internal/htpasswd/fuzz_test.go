package htpasswd

import (
	"bytes"
	"testing"
)

// FuzzVerify checks that Verify never panics, that it refuses every value
// Scheme does not name, and that whatever crypt computes from a setting is
// itself a stored value the same password matches, as crypt(3)'s output
// always is.
func FuzzVerify(f *testing.F) {
	for _, v := range vectors {
		f.Add([]byte(v.stored), []byte(v.password))
	}
	f.Fuzz(func(t *testing.T, stored, password []byte) {
		if expensive(stored) {
			t.Skip("a cost that takes seconds by design")
		}
		ok := Verify(stored, password)
		if ok && Scheme(stored) == "" {
			t.Fatalf("Verify(%q, %q) = true for a scheme Scheme does not name", stored, password)
		}
		setting, pw := cString(stored), cString(password)
		out, computed := crypt(nil, setting, pw)
		if !computed {
			if ok && Scheme(stored) != SchemeBcrypt {
				t.Fatalf("Verify(%q, %q) = true but crypt computes nothing", stored, password)
			}
			return
		}
		if bytes.IndexByte(out, 0) >= 0 {
			t.Fatalf("crypt(%q, %q) = %q holds a NUL", setting, pw, out)
		}
		if ok != bytes.Equal(out, setting) {
			t.Fatalf("Verify(%q, %q) = %v, but crypt gives %q", stored, password, ok, out)
		}
		if !Verify(out, password) {
			t.Fatalf("crypt(%q, %q) = %q, which the password does not match", setting, pw, out)
		}
	})
}

// expensive reports whether stored asks for enough rounds to slow the
// fuzzer down: SHA-crypt rounds above 20000 or a bcrypt cost above 6.
func expensive(stored []byte) bool {
	stored = cString(stored)
	switch Scheme(stored) {
	case SchemeSHA256Crypt, SchemeSHA512Crypt:
		rest := stored[3:]
		if bytes.HasPrefix(rest, []byte(shaRoundsPrefix)) {
			n, _, ok := parseRounds(rest[len(shaRoundsPrefix):])
			return ok && n > 20000
		}
	case SchemeBcrypt:
		return len(stored) >= 6 && (stored[4] != '0' || stored[5] > '6')
	}
	return false
}
