package proxy

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// TestInvalidHeaderNamesAreIgnored checks ignore_invalid_headers and
// underscores_in_headers: by default a field whose name has an
// underscore or a dot does not reach the upstream and is logged at level
// info; underscores_in_headers keeps underscores; with
// ignore_invalid_headers off token names are passed on.
func TestInvalidHeaderNamesAreIgnored(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "x") || strings.HasPrefix(k, "_") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		w.Write([]byte(strings.Join(names, ",")))
	})
	b := newBench(t, `
    server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }
    server { listen 127.0.0.1:0; underscores_in_headers on; location / { proxy_pass http://`+up+`; } }
    server { listen 127.0.0.1:0; ignore_invalid_headers off; location / { proxy_pass http://`+up+`; } }`)
	req := "GET / HTTP/1.0\r\nX-Good: 1\r\nx_under: 2\r\nx.dot: 3\r\n\r\n"
	for i, want := range []string{"X-Good", "X-Good,X_under", "X-Good,X.dot,X_under"} {
		c := b.connectTo(i)
		_, body := c.roundTrip(req)
		if body != want {
			t.Errorf("server %d: upstream saw %q, want %q", i, body, want)
		}
	}
	b.waitErrorLog(`client sent invalid header line: "x_under: 2"`)
	b.waitErrorLog(`client sent invalid header line: "x.dot: 3"`)
}

// TestMergeSlashesOff checks that with merge_slashes off the empty
// segments of the path stay in $uri.
func TestMergeSlashesOff(t *testing.T) {
	b := newBench(t, `
    server { listen 127.0.0.1:0; location / { return 200 "$uri"; } }
    server { listen 127.0.0.1:0; merge_slashes off; location / { return 200 "$uri"; } }`)
	for i, want := range []string{"/bar", "/foo//bar"} {
		c := b.connectTo(i)
		_, body := c.roundTrip("GET /foo///../bar HTTP/1.0\r\n\r\n")
		if body != want {
			t.Errorf("server %d: $uri %q, want %q", i, body, want)
		}
	}
}
