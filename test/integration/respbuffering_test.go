package integration

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestResponseBuffering checks proxy_buffering, nginx's default: while
// the client does not read, the upstream's large response is read whole
// (into memory, then a temporary file, logged at warn) and the upstream
// is done with it; with proxy_buffering off, "X-Accel-Buffering: no" or
// proxy_max_temp_file_size 0 the upstream waits for the client. Either
// way the client gets the whole body.
func TestResponseBuffering(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		// Larger than what the kernel's socket buffers on the way hold,
		// so that an upstream that waits for the client cannot finish.
		const size = 24 << 20
		body := strings.Repeat("0123456789abcdef", size/16)
		sum := sha256.Sum256([]byte(body))
		var mu sync.Mutex
		finished := map[string]time.Time{}
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			var extra []string
			if strings.Contains(r.Target, "noaccel") {
				extra = append(extra, "X-Accel-Buffering: no")
			}
			c.respond(200, body, extra...)
			mu.Lock()
			finished[r.Target] = time.Now()
			mu.Unlock()
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    proxy_temp_path {{PREFIX}}/ptemp;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%[1]s; }
        location /off/ { proxy_pass http://%[1]s; proxy_buffering off; }
        location /memory/ { proxy_pass http://%[1]s; proxy_max_temp_file_size 0; }
    }`, up.addr))

		cases := []struct {
			path     string
			buffered bool
		}{
			{"/buffered", true},
			{"/off/x", false},
			{"/buffered-noaccel", false},
			{"/memory/x", false},
		}
		for _, c := range cases {
			t.Run(strings.Trim(c.path, "/"), func(t *testing.T) {
				// A small receive buffer: a client that does not read
				// holds back what is sent to it early.
				conn := slowConn(t, p.addr, "", 4096)
				start := time.Now()
				io.WriteString(conn, "GET "+c.path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
				// The client reads nothing for a while.
				time.Sleep(1500 * time.Millisecond)
				mu.Lock()
				done, ok := finished[c.path]
				mu.Unlock()
				if c.buffered && !ok {
					t.Errorf("the upstream was still sending after 1.5 s of a client that did not read")
				}
				if !c.buffered && ok {
					t.Errorf("the upstream finished after %v although the client read nothing", done.Sub(start))
				}
				conn.SetReadDeadline(time.Now().Add(30 * time.Second))
				resp, err := readResponse(bufio.NewReaderSize(conn, 1<<20), "GET")
				if err != nil {
					t.Fatalf("reading the response: %v", err)
				}
				if resp.Status != 200 || len(resp.Body) != size || sha256.Sum256(resp.Body) != sum {
					t.Errorf("got %d with %d body bytes, want 200 with the %d bytes sent", resp.Status, len(resp.Body), size)
				}
			})
		}
		if !strings.Contains(p.readLog("error.log"), "an upstream response is buffered to a temporary file "+p.prefix+"/ptemp/") {
			t.Errorf("no warn line naming a temporary file in %s/ptemp", p.prefix)
		}
		waitEmptyDir(t, p.prefix+"/ptemp")
	})
}
