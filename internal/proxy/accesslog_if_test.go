package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccessLogIf checks access_log's if=: a request whose condition is
// empty or "0" is not written to that log, any other value is.
func TestAccessLogIf(t *testing.T) {
	b := newBench(t, `
		log_format u '$uri';
		server {
			listen 127.0.0.1:0;
			access_log logs/cond.log u if=$arg_log;
			location / { return 204; }
		}`)
	m := b.connect()
	for _, q := range []string{"/a?log=1", "/b?log=0", "/c", "/d?log=", "/e?log=yes", "/f?log=00"} {
		if resp, _ := m.roundTrip("GET " + q + " HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 204 {
			t.Fatalf("%s: status %d", q, resp.StatusCode)
		}
	}
	want := "/a\n/e\n/f\n"
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.do(b.w.flushLogs)
		got, _ := os.ReadFile(filepath.Join(b.dir, "logs", "cond.log"))
		if string(got) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log holds %q, want %q", got, want)
		}
		if len(got) > len(want) || !strings.HasPrefix(want, string(got)) {
			t.Fatalf("log holds %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
