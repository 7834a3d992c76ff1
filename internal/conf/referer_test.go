package conf

import "testing"

// TestRefererInvalidFollowsNginx checks how $invalid_referer judges a
// Referer: none and blocked, exact and wildcard hosts with and without a
// URI prefix (after the port), server names with their regexes matched
// against the lower-cased host, caseless regexes matched after the
// scheme, and the 256-byte bound on the host.
func TestRefererInvalidFollowsNginx(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    server {
        listen 8080;
        server_name localhost ~^www\d+\.test$;
        location /none { valid_referers none www.example.org; }
        location /blocked { valid_referers blocked www.example.org; }
        location /uri { valid_referers www.example.org/uri; }
        location /wc { valid_referers *.example.com www.example.* .example.net; }
        location /sn { valid_referers server_names; }
        location /re { valid_referers ~example\.org$ ~(?-i)example\.NET; }
        location /all { valid_referers ~.*; }
    }
}
`)
	locs := map[string]*Referers{}
	for _, l := range cfg.HTTP.Servers[0].Locations {
		locs[l.Path] = l.Loc.Referers
	}
	for _, tc := range []struct {
		loc, ref string
		present  bool
		invalid  bool
	}{
		{"/none", "", false, false},
		{"/none", "", true, true},
		{"/uri", "", false, true},
		{"/blocked", "foobar", true, false},
		{"/blocked", "http://su", true, false},
		{"/blocked", "http://other.example", true, true},
		{"/none", "http://www.example.org", true, false},
		{"/none", "HTTPS://WWW.example.org:8080/x", true, false},
		{"/none", "ftp://www.example.org", true, true},
		{"/uri", "http://www.example.org/urii", true, false},
		{"/uri", "http://www.example.org:80/uri", true, false},
		{"/uri", "http://www.example.org/uRi", true, true},
		{"/uri", "http://www.example.org/ur", true, true},
		{"/wc", "http://a.b.example.com", true, false},
		{"/wc", "http://example.com", true, true},
		{"/wc", "http://www.example.de", true, false},
		{"/wc", "http://example.net", true, false},
		{"/wc", "http://x.example.net", true, false},
		{"/sn", "http://LocalHost/x", true, false},
		{"/sn", "http://WWW12.test", true, false},
		{"/sn", "http://www.test", true, true},
		{"/re", "https://www.eXample.org", true, false},
		{"/re", "http://www.example.org/", true, true},
		{"/re", "http://example.NET", true, false},
		{"/re", "http://example.net", true, true},
		{"/all", "http://" + string(make256('a')), true, false},
		{"/all", "http://" + string(make256('a')) + "a", true, true},
	} {
		if got := locs[tc.loc].Invalid([]byte(tc.ref), tc.present); got != tc.invalid {
			t.Errorf("%s with Referer %q (present %v): invalid %v, want %v", tc.loc, tc.ref, tc.present, got, tc.invalid)
		}
	}
	var none *Referers
	if none.Invalid(nil, false) {
		t.Error("without valid_referers a request without Referer is invalid")
	}
}

func make256(c byte) []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = c
	}
	return b
}

// TestRefererListsInherit checks that a level without valid_referers
// takes its parent's list whole, and one with its own list takes the
// parent's regexes when it has none, but not none or blocked.
func TestRefererListsInherit(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    server {
        listen 8080;
        valid_referers none a.example ~regex-from-server;
        location /inherit { }
        location /own { valid_referers b.example; }
    }
}
`)
	locs := map[string]*Referers{}
	for _, l := range cfg.HTTP.Servers[0].Locations {
		locs[l.Path] = l.Loc.Referers
	}
	if r := locs["/inherit"]; r == nil || !r.None || r.Exact["a.example"] != "" || len(r.Regexes) != 1 {
		t.Errorf("inherited list %+v", r)
	}
	r := locs["/own"]
	if r.None || len(r.Regexes) != 1 {
		t.Errorf("own list %+v: want no none and the server's regex", r)
	}
	if _, ok := r.Exact["a.example"]; ok {
		t.Errorf("own list %+v has the server's host", r)
	}
	if r.Invalid([]byte("http://x/regex-from-server"), true) {
		t.Error("the inherited regex does not match")
	}
}
