package proxy

import (
	"testing"

	"headroom/internal/conf"
)

// TestGeoVariableFollowsAddress checks that a geo variable is looked up
// by the client address, by the address in the geo's variable, and by
// X-Forwarded-For when the request comes from one of the geo's proxies
// (the rightmost address, or with proxy_recursive the rightmost one that
// is not a proxy).
func TestGeoVariableFollowsAddress(t *testing.T) {
	b := newBench(t, `
    geo $geo { 127.0.0.0/8 loopback; default world; }
    geo $arg_ip $from_arg { default none; 192.0.2.0/24 doc; }
    geo $xff { default none; proxy 127.0.0.1; 127.0.0.0/8 loopback; 192.0.2.0/24 doc; }
    geo $xfr { proxy_recursive; default none; proxy 127.0.0.1; 127.0.0.0/8 loopback; 192.0.2.0/24 doc; }
    server {
        listen 127.0.0.1:0;
        location / { return 200 "$geo $from_arg $xff $xfr"; }
    }`)
	for _, tc := range []struct {
		req  string
		want string
	}{
		{"GET / HTTP/1.0\r\n\r\n", "loopback none loopback loopback"},
		{"GET /?ip=192.0.2.7 HTTP/1.0\r\n\r\n", "loopback doc loopback loopback"},
		{"GET /?ip=bad HTTP/1.0\r\n\r\n", "loopback none loopback loopback"},
		{"GET / HTTP/1.0\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n", "loopback none doc doc"},
		{"GET / HTTP/1.0\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n", "loopback none none none"},
		{"GET / HTTP/1.0\r\nX-Forwarded-For: 192.0.2.1, 127.0.0.1\r\n\r\n", "loopback none loopback doc"},
	} {
		c := b.connect()
		_, body := c.roundTrip(tc.req)
		if body != tc.want {
			t.Errorf("%q: body %q, want %q", tc.req, body, tc.want)
		}
	}
}

// TestSplitClientsVariableHashesString checks that a split_clients
// variable takes the part that the MurmurHash2 of its string falls in,
// and that the value read twice in a request is the same.
func TestSplitClientsVariableHashesString(t *testing.T) {
	b := newBench(t, `
    split_clients "${arg_k}" $variant { 50% a; * b; }
    server {
        listen 127.0.0.1:0;
        location / { return 200 "$variant$variant"; }
    }`)
	for _, k := range []string{"x", "y", "zz", "127.0.0.1", "user-42"} {
		want := "b"
		if conf.MurmurHash2([]byte(k)) < 0x7fffffff {
			want = "a"
		}
		c := b.connect()
		_, body := c.roundTrip("GET /?k=" + k + " HTTP/1.0\r\n\r\n")
		if body != want+want {
			t.Errorf("k=%s: body %q, want %q", k, body, want+want)
		}
	}
}
