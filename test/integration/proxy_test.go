package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Placeholders substituted in configurations given to startProxy.
//
//	{{PORT}}    the main listen port
//	{{PORT1}}.. {{PORT3}} extra listen ports
//	{{PREFIX}}  the prefix directory, without trailing slash
const maxExtraPorts = 3

// proxyConfig describes a proxy process to start.
type proxyConfig struct {
	// http is the content of the http{} block, after the access_log line.
	http string
	// main holds extra directives for the main context.
	main string
	// workerConnections is events{worker_connections}; default 256, and
	// a negative value leaves the directive out.
	workerConnections int
	// env is added to the process's environment.
	env []string
}

// proxy is a running headroom or nginx process.
type proxy struct {
	t      testing.TB
	tg     *target
	prefix string
	conf   string
	// port is {{PORT}}; ports[i] is {{PORTi}}.
	port  int
	ports [maxExtraPorts + 1]int
	addr  string

	cmd     *exec.Cmd
	env     []string
	done    chan struct{}
	stopMu  sync.Mutex
	stopped bool
}

var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
)

// freePort returns a loopback port that was free a moment ago and that no
// other test of this process has been given.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		portMu.Lock()
		if !usedPorts[port] {
			usedPorts[port] = true
			portMu.Unlock()
			return port
		}
		portMu.Unlock()
	}
	t.Fatal("no free port found")
	return 0
}

// makePrefix creates a world-writable prefix directory with conf/ and logs/
// (nginx's workers run as nobody when nginx is started as root).
func makePrefix(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "headroom-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{dir, filepath.Join(dir, "conf"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// renderConfig builds the whole configuration file.
func renderConfig(prefix string, pc proxyConfig) string {
	wc := pc.workerConnections
	if wc == 0 {
		wc = 256
	}
	var b strings.Builder
	fmt.Fprintf(&b, "daemon off;\n")
	// nginx's default, spelled out: round robin state, failure
	// accounting and the upstream connection cache are per worker, and
	// the tests expect one.
	fmt.Fprintf(&b, "worker_processes 1;\n")
	fmt.Fprintf(&b, "pid %s/logs/p.pid;\n", prefix)
	fmt.Fprintf(&b, "error_log %s/logs/error.log info;\n", prefix)
	if pc.main != "" {
		b.WriteString(pc.main)
		b.WriteString("\n")
	}
	if wc < 0 {
		b.WriteString("events {\n}\n")
	} else {
		fmt.Fprintf(&b, "events {\n    worker_connections %d;\n}\n", wc)
	}
	fmt.Fprintf(&b, "http {\n    access_log %s/logs/access.log;\n", prefix)
	b.WriteString(pc.http)
	b.WriteString("\n}\n")
	return b.String()
}

// startProxy starts tg with the given http{} content and waits until it
// accepts connections. The process is stopped when the test ends.
func startProxy(t testing.TB, tg *target, httpConf string) *proxy {
	t.Helper()
	return startProxyConfig(t, tg, proxyConfig{http: httpConf})
}

func startProxyConfig(t testing.TB, tg *target, pc proxyConfig) *proxy {
	t.Helper()
	var lastErr string
	for attempt := 0; attempt < 3; attempt++ {
		p := &proxy{t: t, tg: tg, prefix: makePrefix(t), env: pc.env}
		p.port = freePort(t)
		p.ports[0] = p.port
		for i := 1; i <= maxExtraPorts; i++ {
			p.ports[i] = freePort(t)
		}
		p.addr = fmt.Sprintf("127.0.0.1:%d", p.port)
		text := p.expand(renderConfig(p.prefix, pc))
		p.conf = filepath.Join(p.prefix, "conf", "test.conf")
		if err := os.WriteFile(p.conf, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		retry, err := p.start()
		if err == nil {
			t.Cleanup(func() {
				p.stop()
				// A binary built with -race (HEADROOM_BIN) reports data
				// races on its stderr; any such report fails the test.
				if strings.Contains(p.readLog("stderr.log"), "WARNING: DATA RACE") {
					t.Errorf("%s reported a data race", tg.name)
				}
				if t.Failed() {
					p.dumpLogs()
				}
			})
			return p
		}
		lastErr = err.Error()
		p.stop()
		if !retry {
			p.dumpLogs()
			t.Fatalf("%s did not start: %v", tg.name, err)
		}
	}
	t.Fatalf("%s did not start after 3 attempts: %s", tg.name, lastErr)
	return nil
}

// expand substitutes the placeholders.
func (p *proxy) expand(s string) string {
	s = strings.ReplaceAll(s, "{{PREFIX}}", p.prefix)
	s = strings.ReplaceAll(s, "{{PORT}}", strconv.Itoa(p.port))
	for i := 1; i <= maxExtraPorts; i++ {
		s = strings.ReplaceAll(s, fmt.Sprintf("{{PORT%d}}", i), strconv.Itoa(p.ports[i]))
	}
	return s
}

// proxyArgs is the command line for running a configuration.
func proxyArgs(tg *target, prefix, conf string, extra ...string) []string {
	args := []string{"-p", prefix + "/", "-c", conf}
	if tg.isNginx() {
		// Keep nginx away from its compiled-in /var/log/nginx error log.
		args = append(args, "-e", filepath.Join(prefix, "logs", "error.log"))
	}
	return append(args, extra...)
}

// start runs the process and waits until it is ready. retry is true when
// the failure looks like a port taken by someone else.
func (p *proxy) start() (retry bool, err error) {
	out, err := os.OpenFile(filepath.Join(p.prefix, "logs", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return false, err
	}
	defer out.Close()
	p.cmd = exec.Command(p.tg.bin, proxyArgs(p.tg, p.prefix, p.conf)...)
	p.cmd.Dir = p.prefix
	if len(p.env) > 0 {
		p.cmd.Env = append(os.Environ(), p.env...)
	}
	p.cmd.Stdout = out
	p.cmd.Stderr = out
	// Own process group, so that a hung nginx master and its workers can
	// be killed together.
	// Pdeathsig stops it (and nginx's workers with it) should the test
	// process die without cleaning up.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return false, err
	}
	p.done = make(chan struct{})
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()

	// Ready is when the pid file names the process: both nginx and
	// headroom write it once their listening sockets are open, headroom
	// after its start line and with its workers running. A port that
	// accepts says less: the kernel completes handshakes on a listening
	// socket before the server has logged its plan or started its loops.
	pidFile := filepath.Join(p.prefix, "logs", "p.pid")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.exited() {
			return p.addrInUse(), fmt.Errorf("exited during start-up (%v)", p.cmd.ProcessState)
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(p.cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			return p.addrInUse(), fmt.Errorf("no pid file %s after 10s", pidFile)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A port accepting connections may belong to another process; the proxy
	// then reports that its bind failed.
	if p.addrInUse() {
		return true, fmt.Errorf("a listen port is in use by another process")
	}
	return false, nil
}

func (p *proxy) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proxy) addrInUse() bool {
	for _, f := range []string{"error.log", "stderr.log"} {
		b, _ := os.ReadFile(filepath.Join(p.prefix, "logs", f))
		if strings.Contains(strings.ToLower(string(b)), "address already in use") {
			return true
		}
	}
	return false
}

// stop sends SIGTERM and waits up to 5 s, then kills the process group.
// It may be called more than once.
func (p *proxy) stop() {
	p.stopSignal(syscall.SIGTERM)
}

// stopSignal stops the proxy with sig (SIGTERM: fast shutdown, SIGQUIT:
// graceful shutdown).
func (p *proxy) stopSignal(sig syscall.Signal) {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()
	if p.stopped || p.cmd == nil || p.cmd.Process == nil || p.done == nil {
		return
	}
	p.stopped = true
	if !p.exited() {
		p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.done:
		return
	case <-time.After(5 * time.Second):
	}
	p.t.Errorf("%s did not exit within 5s of %v; killing it", p.tg.name, sig)
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.t.Errorf("%s did not exit after SIGKILL", p.tg.name)
	}
}

// readLog returns a file of the logs directory.
func (p *proxy) readLog(name string) string {
	b, _ := os.ReadFile(filepath.Join(p.prefix, "logs", name))
	return string(b)
}

func (p *proxy) dumpLogs() {
	for _, f := range []string{"stderr.log", "error.log"} {
		s := p.readLog(f)
		if len(s) > 8000 {
			s = "...\n" + s[len(s)-8000:]
		}
		if strings.TrimSpace(s) != "" {
			p.t.Logf("%s %s:\n%s", p.tg.name, f, s)
		}
	}
	if b, err := os.ReadFile(p.conf); err == nil {
		p.t.Logf("%s configuration:\n%s", p.tg.name, b)
	}
}

// url returns http://127.0.0.1:PORT + path.
func (p *proxy) url(path string) string {
	return "http://" + p.addr + path
}
