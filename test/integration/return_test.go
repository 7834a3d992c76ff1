package integration

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestReturn444ClosesWithoutAnswer checks nginx's non-standard 444:
// "return 444" closes the connection without sending anything, not even
// "100 Continue", and logs 444; with a text, 444 is an ordinary answer.
func TestReturn444ClosesWithoutAnswer(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    log_format st "$request_uri $status";
    server {
        listen 127.0.0.1:{{PORT}};
        access_log {{PREFIX}}/logs/st.log st;
        location = /drop { return 444; }
        location = /text { return 444 "text"; }
    }`)
		received := func(req string) string {
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write(req)
			rc.c.SetReadDeadline(time.Now().Add(3 * time.Second))
			b, _ := io.ReadAll(rc.c)
			return string(b)
		}
		if got := received("GET /drop HTTP/1.1\r\nHost: h\r\n\r\n"); got != "" {
			t.Errorf("return 444 sent %q, want nothing", got)
		}
		if got := received("POST /drop HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"); got != "" {
			t.Errorf("return 444 with Expect sent %q, want nothing", got)
		}
		if got := received("GET /text HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 444 \r\n") || !strings.HasSuffix(got, "\r\n\r\ntext") {
			t.Errorf("return 444 \"text\" sent %q, want a 444 answer with the text", got)
		}
		var lines []string
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if lines = logLines(p.readLog("st.log")); len(lines) >= 3 {
				break
			}
		}
		if got, want := strings.Join(lines, "\n"), "/drop 444\n/drop 444\n/text 444"; got != want {
			t.Errorf("access log:\n%s\nwant:\n%s", got, want)
		}
	})
}
