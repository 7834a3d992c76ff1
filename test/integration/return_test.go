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

// TestDiscardCheckedBeforeAnswer checks that the body bytes that came
// with the head are read before an answer that does not need the body,
// as nginx discards them: a bad chunked body there is answered 400, a
// good one is dropped and the next request on the connection is served.
func TestDiscardCheckedBeforeAnswer(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "TEST"; }
    }`)
		resp := sendRaw(t, p.addr, "GET /bad HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nSEE-THIS\r\n0\r\n\r\n")
		if resp.Status != 400 {
			t.Errorf("a bad chunked body with the head: %d, want 400", resp.Status)
		}
		rc := dialRaw(t, p.addr)
		defer rc.c.Close()
		rc.write("GET /good HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nSEE-\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
		for _, path := range []string{"/good", "/next"} {
			if r := rc.read("GET"); r.Status != 200 || string(r.Body) != "TEST" {
				t.Errorf("%s: %d %q, want 200 TEST", path, r.Status, r.Body)
			}
		}
	})
}
