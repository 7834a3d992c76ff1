package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h2specInstall is how to install the h2spec conformance tool.
const h2specInstall = "go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// h2specTests is the number of tests h2spec 2.2.1 runs for "http2"; all of
// them must pass.
const h2specTests = 145

// h2specSummary matches h2spec's closing line, e.g. "145 tests, 145 passed,
// 0 skipped, 0 failed".
var h2specSummary = regexp.MustCompile(`(?m)^(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

// findH2spec returns the path of the h2spec binary, from PATH or from the
// bin directory of the Go workspace, or "" when there is none.
func findH2spec() string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		p := filepath.Join(dir, "bin", "h2spec")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// TestH2spec runs the h2spec conformance suite against headroom's HTTP/2,
// over TLS (with ALPN) and in cleartext with prior knowledge, and requires
// every one of its tests to pass. It checks the protocol itself, not a
// comparison, so nginx is not run.
func TestH2spec(t *testing.T) {
	t.Parallel()
	bin := findH2spec()
	if bin == "" {
		t.Skip("h2spec not installed: " + h2specInstall)
	}
	var hr *target
	for _, tg := range targets {
		if tg.isHeadroom() {
			hr = tg
		}
	}
	if hr == nil {
		t.Skipf("the headroom target is not selected (%s=%s)", envTargets, os.Getenv(envTargets))
	}
	hr.require(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cert, key := writeCert(t, dir, "h2spec.test")
	// worker_connections is left at its default (512): each stream
	// holds one of headroom's client slots, and with the suite's usual
	// 256 the client budget (127) is below the 128 streams h2spec opens
	// to test http2_max_concurrent_streams. The body is longer than the
	// few bytes h2spec's flow-control tests need, or it skips one.
	p := startProxyConfig(t, hr, proxyConfig{workerConnections: -1, http: fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}} ssl http2;
        listen 127.0.0.1:{{PORT1}} http2;
        ssl_certificate %s;
        ssl_certificate_key %s;
        location = /r { return 200 "a response for h2spec\n"; }
    }`, cert, key)})
	// One run at a time, so that a failure or a crash is the run's own.
	for _, c := range []struct {
		name  string
		port  int
		flags []string
	}{
		{"tls", p.ports[0], []string{"-t", "-k"}},
		{"cleartext", p.ports[1], nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			args := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-P", "/r", "-o", "2"}, c.flags...)
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("h2spec %s did not finish within 4 minutes:\n%s", strings.Join(args, " "), tail(string(out), 8000))
			}
			m := h2specSummary.FindAllStringSubmatch(string(out), -1)
			if len(m) == 0 {
				t.Fatalf("h2spec %s (%v) printed no summary line:\n%s", strings.Join(args, " "), err, tail(string(out), 8000))
			}
			last := m[len(m)-1]
			total, _ := strconv.Atoi(last[1])
			passed, _ := strconv.Atoi(last[2])
			if total != h2specTests || passed != h2specTests {
				t.Errorf("h2spec %s: %q, want %d tests, %d passed (exit: %v):\n%s",
					strings.Join(args, " "), last[0], h2specTests, h2specTests, err, h2specFailures(string(out)))
			}
			if p.exited() {
				t.Errorf("headroom exited during h2spec (%v)", p.cmd.ProcessState)
			}
		})
	}
}

// h2specFailures returns the part of h2spec's output from its list of
// failures on, or its whole output's tail when it has no such list.
func h2specFailures(out string) string {
	if i := strings.Index(out, "Failures:"); i >= 0 {
		return tail(out[i:], 8000)
	}
	return tail(out, 8000)
}
