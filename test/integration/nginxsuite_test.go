package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// envNginxTests names the directory of the conformance runner around
// nginx's own test suite (run.sh, nginx-tests/); by default it is looked
// for beside the repository.
const envNginxTests = "HEADROOM_NGINX_TESTS"

// nginxSuiteDir finds the runner of nginx's test suite, or "".
func nginxSuiteDir() string {
	candidates := []string{os.Getenv(envNginxTests)}
	if wd, err := os.Getwd(); err == nil {
		// test/integration → the repository → beside it.
		candidates = append(candidates, filepath.Join(wd, "..", "..", "..", "shared", "conformance"))
	}
	candidates = append(candidates, "/work/shared/conformance")
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "run.sh")); err == nil {
			return c
		}
	}
	return ""
}

// nginxSuiteShards is how many runs of the suite go side by side. Its
// files mostly wait (on timers, on nginx's own delays), so a few runs at
// once take a fraction of the time of one on two cores; each file picks
// free ports of its own, as nginx's suite does under "prove -j".
const nginxSuiteShards = 3

// TestNginxSuite runs the files of nginx's own test suite that headroom
// passes (testdata/nginx-suite-passing.txt) and fails when any of them no
// longer does: nginx's suite is the judge of behaving like nginx, and what
// passes once must keep passing. It is skipped, saying why, where the
// suite or perl's prove is missing.
func TestNginxSuite(t *testing.T) {
	t.Parallel()
	var hr *target
	for _, tg := range targets {
		if tg.isHeadroom() {
			hr = tg
		}
	}
	if hr == nil {
		t.Skip("headroom is not among the targets")
	}
	hr.require(t)
	dir := nginxSuiteDir()
	if dir == "" {
		t.Skipf("nginx's test suite not found: set %s to the directory holding run.sh and nginx-tests/", envNginxTests)
	}
	if _, err := exec.LookPath("prove"); err != nil {
		t.Skip("perl's prove is missing: nginx's test suite skipped; apt-get install perl")
	}
	f, err := os.Open(filepath.Join("testdata", "nginx-suite-passing.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var files []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			files = append(files, line)
		}
	}
	shards := make([][]string, nginxSuiteShards)
	for i, name := range files {
		shards[i%len(shards)] = append(shards[i%len(shards)], name)
	}
	for i, shard := range shards {
		t.Run(fmt.Sprintf("shard%d", i+1), func(t *testing.T) {
			t.Parallel()
			runNginxSuite(t, dir, hr.bin, shard)
		})
	}
}

// runNginxSuite runs some files of the suite with one run.sh and fails
// for each that does not pass.
func runNginxSuite(t *testing.T, dir, bin string, files []string) {
	logs := t.TempDir()
	os.Chmod(logs, 0o777)
	cmd := exec.Command(filepath.Join(dir, "run.sh"), append([]string{bin}, files...)...)
	cmd.Env = append(os.Environ(), "CONFORMANCE_LOGS="+logs)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	passed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, rest, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(rest, "ok") {
			passed[name] = true
		}
	}
	for _, name := range files {
		if !passed[name] {
			log, _ := os.ReadFile(filepath.Join(logs, strings.TrimSuffix(name, ".t")+".log"))
			t.Errorf("%s no longer passes:\n%s", name, tail(string(log), 3000))
		}
	}
	if t.Failed() {
		t.Logf("run.sh said:\n%s", out)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
