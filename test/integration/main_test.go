package integration

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment variables understood by the suite.
const (
	// envTargets restricts the targets, e.g. "nginx" or "headroom,nginx".
	envTargets = "HEADROOM_TEST_TARGETS"
	// envHeadroomBin names a prebuilt headroom binary to use instead of
	// building ./cmd/headroom.
	envHeadroomBin = "HEADROOM_BIN"
	// envNginxBin overrides the nginx binary (default /usr/sbin/nginx).
	envNginxBin = "NGINX_BIN"
)

const defaultNginxBin = "/usr/sbin/nginx"

// target is one proxy implementation the tests run against.
type target struct {
	name string // "headroom" or "nginx"
	bin  string
	// unavailable is set when the target cannot run; skip decides whether
	// its subtests are skipped (nginx not installed) or fail (headroom did
	// not build).
	unavailable string
	skip        bool
}

func (tg *target) isNginx() bool    { return tg.name == "nginx" }
func (tg *target) isHeadroom() bool { return tg.name == "headroom" }

// require stops the calling subtest when the target cannot run.
func (tg *target) require(t *testing.T) {
	t.Helper()
	if tg.unavailable == "" {
		return
	}
	if tg.skip {
		t.Skip(tg.unavailable)
	}
	t.Fatal(tg.unavailable)
}

var (
	targets  []*target
	buildDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	raiseParallelism()
	if err := setupTargets(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(2)
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// raiseParallelism lets more parallel tests run than there are CPUs (the go
// test default): most of the suite waits on sockets and timeouts, not CPU.
// An explicit -test.parallel wins.
func raiseParallelism() {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			set = true
		}
	})
	if !set {
		flag.Set("test.parallel", "8")
	}
}

func setupTargets() error {
	names := []string{"headroom", "nginx"}
	if v := strings.TrimSpace(os.Getenv(envTargets)); v != "" {
		names = nil
		for _, n := range strings.Split(v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if n != "headroom" && n != "nginx" {
				return fmt.Errorf("%s: unknown target %q (want headroom and/or nginx)", envTargets, n)
			}
			names = append(names, n)
		}
		if len(names) == 0 {
			return fmt.Errorf("%s is set but names no target", envTargets)
		}
	}
	for _, n := range names {
		switch n {
		case "headroom":
			targets = append(targets, headroomTarget())
		case "nginx":
			targets = append(targets, nginxTarget())
		}
	}
	return nil
}

func nginxTarget() *target {
	tg := &target{name: "nginx", bin: defaultNginxBin}
	if v := os.Getenv(envNginxBin); v != "" {
		tg.bin = v
	}
	if _, err := os.Stat(tg.bin); err != nil {
		tg.unavailable = "nginx not installed: differential test skipped; apt-get install nginx"
		tg.skip = true
	}
	return tg
}

func headroomTarget() *target {
	tg := &target{name: "headroom"}
	if v := os.Getenv(envHeadroomBin); v != "" {
		tg.bin = v
		if _, err := os.Stat(v); err != nil {
			tg.unavailable = fmt.Sprintf("%s=%s: %v", envHeadroomBin, v, err)
		}
		return tg
	}
	root, err := moduleRoot()
	if err != nil {
		tg.unavailable = "cannot build headroom: " + err.Error()
		return tg
	}
	buildDir, err = os.MkdirTemp("", "headroom-bin-")
	if err != nil {
		tg.unavailable = "cannot build headroom: " + err.Error()
		return tg
	}
	tg.bin = filepath.Join(buildDir, "headroom")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", tg.bin, "headroom/cmd/headroom")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		tg.unavailable = fmt.Sprintf("building headroom (go build -o %s headroom/cmd/headroom in %s) failed: %v\n%s",
			tg.bin, root, err, out)
		return tg
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "integration: built headroom in %v\n", time.Since(start).Round(time.Millisecond))
	}
	return tg
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// forEachTarget runs fn as a parallel subtest per target, named after the
// target, and marks the calling test parallel.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg *target)) {
	t.Helper()
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			tg.require(t)
			fn(t, tg)
		})
	}
}
