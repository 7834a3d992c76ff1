package proxy

import "testing"

// TestInvalidRefererVariable checks that $invalid_referer is "1" for a
// Referer that valid_referers does not list and empty for one it does,
// and empty everywhere without valid_referers.
func TestInvalidRefererVariable(t *testing.T) {
	b := newBench(t, `
    server {
        listen 127.0.0.1:0;
        server_name localhost;
        location /checked {
            valid_referers none server_names *.example.org;
            return 200 "[$invalid_referer]";
        }
        location / { return 200 "[$invalid_referer]"; }
    }`)
	for _, tc := range []struct{ path, referer, want string }{
		{"/checked", "", "[]"},
		{"/checked", "http://www.example.org/page", "[]"},
		{"/checked", "http://localhost:8080/", "[]"},
		{"/checked", "http://elsewhere.example/", "[1]"},
		{"/checked", "www.example.org", "[1]"},
		{"/", "http://elsewhere.example/", "[]"},
	} {
		req := "GET " + tc.path + " HTTP/1.0\r\n"
		if tc.referer != "" {
			req += "Referer: " + tc.referer + "\r\n"
		}
		c := b.connect()
		_, body := c.roundTrip(req + "\r\n")
		if body != tc.want {
			t.Errorf("%s with Referer %q: %s, want %s", tc.path, tc.referer, body, tc.want)
		}
	}
}
