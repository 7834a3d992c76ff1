package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHarness checks the harness itself: the proxy starts from a prefix
// directory, serves a request, writes its logs there (nginx's workers run
// as nobody, hence the world-writable prefix) and exits on SIGTERM.
func TestHarness(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "harness\n"; }
    }`)
		st, _, body := get(t, p.url("/hello"))
		if st != 200 || body != "harness\n" {
			t.Fatalf("got %d %q, want 200 \"harness\\n\"", st, body)
		}
		fi, err := os.Stat(p.prefix)
		if err != nil || fi.Mode().Perm() != 0o777 {
			t.Errorf("prefix %s mode %v, want 0777 (%v)", p.prefix, fi.Mode().Perm(), err)
		}
		p.stop()
		if !p.exited() {
			t.Fatal("proxy still running after stop")
		}
		if access := p.readLog("access.log"); !strings.Contains(access, `"GET /hello HTTP/1.1" 200`) {
			t.Errorf("access.log lacks the request line; got:\n%s", access)
		}
		if _, err := os.Stat(filepath.Join(p.prefix, "logs", "error.log")); err != nil {
			t.Errorf("error.log missing: %v", err)
		}
	})
}
