package conf

import (
	"strings"
	"testing"
)

// TestListenersShareWildcards checks the addresses that get a socket of
// their own: an address on a port where its family's wildcard listens is
// served through the wildcard's socket, unless one of its listens says
// bind or sets a socket option.
func TestListenersShareWildcards(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    server {
        listen 80;
        listen [::]:80;
        listen 127.0.0.1:80;
        listen 127.0.0.1:81;
    }
    server {
        listen 127.0.0.2:80;
        listen 127.0.0.3:80;
        listen [::1]:80;
    }
    server {
        listen 127.0.0.3:80 deferred;
        listen 127.0.0.1:82;
        listen 127.0.0.2:82;
    }
}
`)
	var got []string
	for _, l := range cfg.Listeners() {
		got = append(got, l.Addr)
	}
	want := "0.0.0.0:80 [::]:80 127.0.0.1:81 127.0.0.3:80 127.0.0.1:82 127.0.0.2:82"
	if strings.Join(got, " ") != want {
		t.Errorf("sockets for %v, want %s", got, want)
	}
	for _, c := range []struct {
		addr string
		bind bool
		want string
	}{
		{"127.0.0.1:80", false, "0.0.0.0:80"},
		{"127.0.0.1:80", true, ""},
		{"[::1]:80", false, "[::]:80"},
		{"0.0.0.0:80", false, ""},
		{"127.0.0.1:81", false, ""},
		{"unix:/tmp/s", false, ""},
	} {
		listened := map[string]bool{"0.0.0.0:80": true, "[::]:80": true, "127.0.0.1:81": true}
		if got := SharedWildcard(c.addr, c.bind, listened); got != c.want {
			t.Errorf("SharedWildcard(%s, bind=%v) = %q, want %q", c.addr, c.bind, got, c.want)
		}
	}
}
