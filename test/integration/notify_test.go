package integration

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs headroom as systemd runs a Type=notify service
// (contrib/headroom.service): with NOTIFY_SOCKET set it reports READY=1
// once it serves, RELOADING=1 with the monotonic time and READY=1 again
// around a reload, and STOPPING=1 when told to stop. The test listens on
// the socket as systemd would. nginx does not speak this protocol.
func TestSystemdNotify(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			sock := filepath.Join(t.TempDir(), "notify")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			next := func(want string) string {
				t.Helper()
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				n, err := conn.Read(buf)
				if err != nil {
					t.Fatalf("waiting for %s: %v", want, err)
				}
				msg := string(buf[:n])
				if !strings.Contains(msg, want) {
					t.Fatalf("got %q, want %s", msg, want)
				}
				return msg
			}
			p := startProxyConfig(t, tg, proxyConfig{env: []string{"NOTIFY_SOCKET=" + sock}, http: `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "ok\n"; }
    }`})
			if msg := next("READY=1"); !strings.Contains(msg, fmt.Sprintf("MAINPID=%d", p.cmd.Process.Pid)) {
				t.Errorf("READY without MAINPID: %q", msg)
			}
			p.cmd.Process.Signal(syscall.SIGHUP)
			if msg := next("RELOADING=1"); !strings.Contains(msg, "MONOTONIC_USEC=") {
				t.Errorf("RELOADING without MONOTONIC_USEC: %q", msg)
			}
			next("READY=1")
			if st, _, _ := get(t, p.url("/")); st != 200 {
				t.Errorf("after reload: %d", st)
			}
			p.stopSignal(syscall.SIGQUIT)
			next("STOPPING=1")
		})
	}
}
