package proxy

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUpstreamNodelayWhenMoreFollows checks when an upstream socket gets
// TCP_NODELAY: not for a request written whole in one call (as nginx, which
// saves a system call per connection), but before body bytes that follow
// the head, so that they do not wait for the acknowledgement of the head.
func TestUpstreamNodelayWhenMoreFollows(t *testing.T) {
	got := make(chan string, 4)
	// The upstream answers only when told, so that the test sees the
	// connection while the request is in it.
	answer := make(chan bool, 4)
	up := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		var all []byte
		for {
			n, err := c.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
			s := string(all)
			if strings.Contains(s, "\r\n\r\n") && (!strings.HasPrefix(s, "POST") || strings.HasSuffix(s, "body!!")) {
				break
			}
		}
		got <- string(all)
		<-answer
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location / { proxy_pass http://%s; proxy_request_buffering off; }
	}`, up))

	nodelay := func(m *memConn) (set, known bool) {
		b.do(func() {
			r := m.cc.r
			if r == nil || r.up == nil || r.up.connecting {
				return
			}
			v, err := unix.GetsockoptInt(r.up.c.Fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
			if err != nil {
				t.Errorf("getsockopt: %v", err)
				return
			}
			set, known = v != 0, true
		})
		return set, known
	}

	cases := []struct {
		name     string
		head     string
		rest     string
		wantLast bool
	}{
		{"request in one write", "GET /one HTTP/1.1\r\nHost: x\r\n\r\n", "", false},
		{"body after the head", "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n", "body!!", true},
	}
	// One bench for all cases, whose helpers fail the test itself: no
	// subtests.
	for _, tc := range cases {
		{
			m := b.connect()
			m.send(tc.head)
			b.eventually("the head written upstream", func() bool {
				var sent bool
				b.do(func() { sent = m.cc.r != nil && m.cc.r.up != nil && m.cc.r.up.sent > 0 })
				return sent
			})
			if set, known := nodelay(m); !known || set {
				t.Fatalf("%s: after the head: TCP_NODELAY set=%v (known %v), want not set", tc.name, set, known)
			}
			if tc.rest != "" {
				m.send(tc.rest)
				b.eventually("the body written upstream", func() bool {
					var sent int64
					b.do(func() {
						if m.cc.r != nil && m.cc.r.up != nil {
							sent = m.cc.r.up.sent
						}
					})
					return sent > int64(len(tc.head))
				})
				if set, known := nodelay(m); !known || set != tc.wantLast {
					t.Fatalf("%s: after the body: TCP_NODELAY set=%v, want %v", tc.name, set, tc.wantLast)
				}
			}
			req := <-got
			if !strings.HasSuffix(req, tc.rest) {
				t.Fatalf("%s: upstream got %q, want it to end with the body", tc.name, req)
			}
			answer <- true
			method, _, _ := strings.Cut(tc.head, " ")
			resp := m.response(method)
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("%s: answer %d %q, want 200 \"ok\"", tc.name, resp.StatusCode, body)
			}
		}
	}
}
