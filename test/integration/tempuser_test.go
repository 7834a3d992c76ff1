package integration

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"testing"
)

// TestTempFilesAfterUserSwitch starts the server as root with a "user"
// directive: the temporary file directories it makes at start must be
// given to that user, as nginx gives them, or a body too large for memory
// gets 500 once privileges are dropped.
func TestTempFilesAfterUserSwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody")
	}
	group := "nogroup"
	if _, err := user.LookupGroup(group); err != nil {
		group = "nobody"
	}
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
