package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonAndSignals runs the binary as nginx is usually run, with
// "daemon on" (the default): the command returns once the server listens,
// the pid file names the running process, "-s reload" through that pid
// file reloads a changed configuration in the same process, "-s stop" ends it,
// and the pid file is removed. Both targets.
func TestDaemonAndSignals(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		prefix := makePrefix(t)
		port := freePort(t)
		conf := filepath.Join(prefix, "conf", "daemon.conf")
		pid := filepath.Join(prefix, "logs", "daemon.pid")
		cfg := fmt.Sprintf(`worker_processes 1;
pid %s;
error_log %s/logs/error.log info;
events {}
http {
    access_log %s/logs/access.log;
    server { listen 127.0.0.1:%d; location / { return 200 "daemon\n"; } }
}
`, pid, prefix, prefix, port)
		os.MkdirAll(filepath.Dir(conf), 0o777)
		if err := os.WriteFile(conf, []byte(cfg), 0o666); err != nil {
			t.Fatal(err)
		}
		args := func(extra ...string) []string {
			a := []string{"-p", prefix + "/", "-c", conf}
			if tg.isNginx() {
				a = append(a, "-e", filepath.Join(prefix, "logs", "error.log"))
			}
			return append(a, extra...)
		}
		if _, stderr, code := runCLI(t, tg, args()...); code != 0 {
			t.Fatalf("start: exit %d: %s", code, stderr)
		}
		defer func() {
			// Make sure nothing is left running if the test fails midway.
			if b, err := os.ReadFile(pid); err == nil {
				if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}()
		b, err := os.ReadFile(pid)
		if err != nil {
			t.Fatalf("no pid file after start: %v", err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(n, 0) != nil {
			t.Fatalf("pid file %q does not name a running process", b)
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("daemon does not answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "daemon\n" {
			t.Errorf("body %q", body)
		}
		// "-s reload" through the pid file: the changed configuration
		// answers soon after, from the same process.
		if err := os.WriteFile(conf, []byte(strings.Replace(cfg, `"daemon\n"`, `"reloaded\n"`, 1)), 0o666); err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := runCLI(t, tg, args("-s", "reload")...); code != 0 {
			t.Fatalf("-s reload: exit %d: %s", code, stderr)
		}
		reloaded := false
		for deadline := time.Now().Add(5 * time.Second); !reloaded && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				reloaded = string(b) == "reloaded\n"
			}
		}
		if !reloaded {
			t.Errorf("the changed configuration does not answer 5 s after -s reload")
		}
		if b, _ := os.ReadFile(pid); strings.TrimSpace(string(b)) != strconv.Itoa(n) {
			t.Errorf("pid file after reload says %q, want %d", b, n)
		}
		if _, stderr, code := runCLI(t, tg, args("-s", "stop")...); code != 0 {
			t.Fatalf("-s stop: exit %d: %s", code, stderr)
		}
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(n, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if syscall.Kill(n, 0) == nil {
			t.Fatalf("process %d still runs 5 s after -s stop", n)
		}
		if _, err := os.Stat(pid); !os.IsNotExist(err) {
			t.Errorf("pid file left after stop (%v)", err)
		}
	})
}
