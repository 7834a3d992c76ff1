package proxy

import (
	"net/http"
	"testing"
)

// TestUpstreamAddrInResponseHead checks that $upstream_addr and
// $upstream_status, read while the response head is made (add_header),
// name the try in progress after the earlier ones, as nginx's do: a
// request retried on a 404 shows both servers, and an empty list never
// drops the field.
func TestUpstreamAddrInResponseHead(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		w.Write([]byte("SEE-THIS"))
	})
	b := newBench(t, `
		upstream u { server `+up+` max_fails=0; server `+up+` max_fails=0; }
		server {
			listen 127.0.0.1:0;
			add_header X-IP $upstream_addr always;
			add_header X-Status $upstream_status always;
			location / { proxy_pass http://u; proxy_next_upstream error timeout http_404; }
		}`)
	tests := []struct {
		name, method, addr, status string
	}{
		{"retried GET", "GET", up + ", " + up, "404, 404"},
		{"POST not retried", "POST", up, "404"},
	}
	for _, tc := range tests {
		m := b.connect()
		resp, body := m.roundTrip(tc.method + " /404 HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
		if resp.StatusCode != 404 || body != "SEE-THIS" {
			t.Errorf("%s: %d %q, want the upstream's 404", tc.name, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-IP"); got != tc.addr {
			t.Errorf("%s: X-IP %q, want %q", tc.name, got, tc.addr)
		}
		if got := resp.Header.Get("X-Status"); got != tc.status {
			t.Errorf("%s: X-Status %q, want %q", tc.name, got, tc.status)
		}
	}
}
