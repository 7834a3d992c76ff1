package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTempFilesAfterUserSwitch starts the server as root with a "user"
// directive: the temporary file directories it makes at start must be
// given to that user, as nginx gives them, or a body too large for memory
// gets 500 once privileges are dropped.
func TestTempFilesAfterUserSwitch(t *testing.T) {
	group := nobodyGroup(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, fmt.Sprint(len(r.Body)))
		})
		p := startProxyConfig(t, tg, proxyConfig{main: "user nobody " + group + ";", http: fmt.Sprintf(`
    client_body_temp_path {{PREFIX}}/body;
    proxy_temp_path {{PREFIX}}/resp;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
    }`, up.addr)})
		body := strings.Repeat("b", 100<<10)
		resp := sendRaw(t, p.addr, fmt.Sprintf("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
		if resp.Status != 200 || string(resp.Body) != fmt.Sprint(len(body)) {
			t.Errorf("a body written to a temporary file after the switch to nobody: %d %q", resp.Status, resp.Body)
		}
	})
}

// TestPidFileWithUserSwitch starts the server as root with a "user"
// directive and its pid file in a directory only root may write, as
// Debian's nginx.conf has it (/run/nginx.pid with "user www-data"): the
// pid file must be written and name the process while it serves. At exit
// nginx's master, still root, removes it; headroom, which runs as the
// user by then, empties it where it cannot remove it, so that it names no
// process that is gone.
func TestPidFileWithUserSwitch(t *testing.T) {
	group := nobodyGroup(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		os.Mkdir(filepath.Join(dir, "logs"), 0o755)
		port := freePort(t)
		pid := filepath.Join(dir, "run.pid")
		text := fmt.Sprintf(`user nobody `+group+`;
daemon off;
pid %s;
error_log %s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    server { listen 127.0.0.1:%d; location / { return 200 "up"; } }
}
`, pid, dir, port)
		confPath := filepath.Join(dir, "test.conf")
		if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tg.bin, proxyArgs(tg, dir, confPath)...)
		out, _ := os.Create(filepath.Join(dir, "stderr.log"))
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-done })
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(pid)
			if strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
				break
			}
			select {
			case <-done:
				log, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
				t.Fatalf("%s exited at start: %s", tg.name, log)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no pid file naming it after 10 s", tg.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if code, _, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != 200 || body != "up" {
			t.Errorf("%s: %d %q", tg.name, code, body)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		b, err := os.ReadFile(pid)
		if err == nil && len(b) > 0 {
			t.Errorf("%s: after exit the pid file still says %q", tg.name, b)
		}
	})
}

// nobodyGroup skips the test unless it runs as root and the user nobody
// exists, and names nobody's group (nogroup on Debian).
func nobodyGroup(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	if _, err := user.LookupGroup("nogroup"); err == nil {
		return "nogroup"
	}
	return "nobody"
}
