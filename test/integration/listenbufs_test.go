package integration

import (
	"fmt"
	"os/exec"
	"regexp"
	"testing"
)

// skmem matches the receive and send buffer sizes ss reports for a
// socket ("rb" and "tb", which Linux doubles from the requested size).
var skmem = regexp.MustCompile(`skmem:\(r\d+,rb(\d+),t\d+,tb(\d+),`)

// TestListenBufferSizes checks listen's sndbuf= and rcvbuf=: the
// listening socket gets the same buffer sizes as nginx gives its own, as
// "ss -m" reports them.
func TestListenBufferSizes(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed: listen buffer sizes not checked")
	}
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}} sndbuf=48k rcvbuf=24k;
        location / { return 200; }
    }`)
		out, err := exec.Command("ss", "-ltnmH", fmt.Sprintf("sport = :%d", p.port)).CombinedOutput()
		if err != nil {
			t.Fatalf("ss: %v\n%s", err, out)
		}
		m := skmem.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("no skmem in %q", out)
		}
		// The kernel doubles what setsockopt asks for.
		if m[1] != fmt.Sprint(2*24*1024) || m[2] != fmt.Sprint(2*48*1024) {
			t.Errorf("listening socket rb=%s tb=%s, want rb=%d tb=%d", m[1], m[2], 2*24*1024, 2*48*1024)
		}
	})
}
