package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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

// envRedisBin overrides the redis-server binary (default: redis-server from
// PATH, else Debian's /usr/bin/redis-server).
const envRedisBin = "REDIS_SERVER_BIN"

// redisServer is a redis-server process on a loopback port, private to one
// test: no persistence, its own working directory, stopped when the test
// ends. Tests can kill it (kill9), freeze it (stop, cont) and start it again
// on the same port (restart), empty, as after a crash without persistence.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	addr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
	runs   int // processes started, for the log file names
}

// redisBinary finds redis-server, or says why it cannot.
func redisBinary() (string, error) {
	if v := os.Getenv(envRedisBin); v != "" {
		if _, err := os.Stat(v); err != nil {
			return "", fmt.Errorf("%s=%s: %v", envRedisBin, v, err)
		}
		return v, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redis-server not installed (not in PATH nor /usr/bin/redis-server)")
}

// requireRedis skips the test when redis-server is not installed.
func requireRedis(t testing.TB) string {
	t.Helper()
	bin, err := redisBinary()
	if err != nil {
		t.Skipf("%v: zone_sync test skipped; apt-get install redis-server (or set %s)", err, envRedisBin)
	}
	return bin
}

// startRedis starts redis-server on a free loopback port and waits until it
// answers PING. It skips the test when redis-server is not installed.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin := requireRedis(t)
	dir, err := os.MkdirTemp("", "headroom-redis-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r := &redisServer{t: t, bin: bin, dir: dir}
		r.port = freePort(t)
		r.addr = fmt.Sprintf("127.0.0.1:%d", r.port)
		if lastErr = r.launch(); lastErr == nil {
			t.Cleanup(func() {
				r.shutdown()
				if t.Failed() {
					r.dumpLog()
				}
			})
			return r
		}
		r.shutdown()
		if !strings.Contains(r.log(), "Address already in use") {
			r.dumpLog()
			t.Fatalf("redis-server did not start: %v", lastErr)
		}
	}
	t.Fatalf("redis-server did not start after 3 attempts: %v", lastErr)
	return nil
}

// url is the server's address as zone_sync names it.
func (r *redisServer) url() string { return "redis://" + r.addr }

// launch starts a redis-server process on r.port and waits (up to 10 s)
// until it answers PING.
func (r *redisServer) launch() error {
	r.mu.Lock()
	r.runs++
	logPath := filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.runs))
	out, err := os.Create(logPath)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	defer out.Close()
	cmd := exec.Command(r.bin,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", r.dir)
	cmd.Dir = r.dir
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group; killed with the test process should it die
	// without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	r.cmd, r.done, r.paused = cmd, done, false
	r.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited during start-up (%v)", cmd.ProcessState)
		default:
		}
		err := r.ping(200 * time.Millisecond)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING on %s after 10s: %v", r.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping sends PING and expects +PONG within timeout.
func (r *redisServer) ping(timeout time.Duration) error {
	v, err := r.doTimeout(timeout, "PING")
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("PING answered %q", v)
	}
	return nil
}

// do runs one command on a new connection (2 s deadline) and returns the
// reply: a status, an integer or a bulk string as text; arrays are not
// supported. An error reply is returned as an error.
func (r *redisServer) do(args ...string) (string, error) {
	return r.doTimeout(2*time.Second, args...)
}

func (r *redisServer) doTimeout(timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}

// info returns one field of INFO section (e.g. "clients",
// "connected_clients"), or "" when absent.
func (r *redisServer) info(section, field string) string {
	v, err := r.do("INFO", section)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(v, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && k == field {
			return val
		}
	}
	return ""
}

func (r *redisServer) process() (*exec.Cmd, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd, r.done
}

func (r *redisServer) signal(sig syscall.Signal) {
	r.t.Helper()
	cmd, done := r.process()
	if cmd == nil {
		r.t.Errorf("redis-server: %v: not running", sig)
		return
	}
	select {
	case <-done:
		r.t.Errorf("redis-server: %v: it has exited (%v)", sig, cmd.ProcessState)
		return
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil {
		r.t.Errorf("redis-server: %v: %v", sig, err)
	}
}

// kill9 kills the server with SIGKILL and waits until it is gone.
func (r *redisServer) kill9() {
	r.t.Helper()
	cmd, done := r.process()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.t.Errorf("redis-server still running 5s after SIGKILL")
	}
	r.mu.Lock()
	r.paused = false
	r.mu.Unlock()
}

// stop freezes the server with SIGSTOP: the kernel still accepts
// connections and takes requests, nothing is answered.
func (r *redisServer) stop() { r.t.Helper(); r.pause(syscall.SIGSTOP, true) }

// cont resumes a server frozen by stop.
func (r *redisServer) cont() { r.t.Helper(); r.pause(syscall.SIGCONT, false) }

// pause sends sig and records whether the server is frozen now.
func (r *redisServer) pause(sig syscall.Signal, paused bool) {
	r.t.Helper()
	r.signal(sig)
	r.mu.Lock()
	r.paused = paused
	r.mu.Unlock()
}

// restart starts a new, empty server on the same port (after kill9; a
// running one is killed first) and waits until it answers PING. Like the
// other signalling methods it may be called from any goroutine: a failure
// is reported with t.Errorf.
func (r *redisServer) restart() {
	r.t.Helper()
	if cmd, done := r.process(); cmd != nil {
		select {
		case <-done:
		default:
			r.kill9()
		}
	}
	if err := r.launch(); err != nil {
		r.t.Errorf("redis-server restart on %s: %v", r.addr, err)
	}
}

// shutdown ends the server at the end of the test: SIGCONT if frozen, then
// SIGTERM, then SIGKILL after 5 s.
func (r *redisServer) shutdown() {
	cmd, done := r.process()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(5 * time.Second):
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// log returns the current process's output.
func (r *redisServer) log() string {
	r.mu.Lock()
	n := r.runs
	r.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", n)))
	return string(b)
}

func (r *redisServer) dumpLog() {
	r.mu.Lock()
	n := r.runs
	r.mu.Unlock()
	for i := 1; i <= n; i++ {
		b, _ := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", i)))
		s := string(b)
		if len(s) > 4000 {
			s = "...\n" + s[len(s)-4000:]
		}
		if strings.TrimSpace(s) != "" {
			r.t.Logf("redis-server (run %d) output:\n%s", i, s)
		}
	}
}

// TestRedisHarness checks the Redis harness the zone_sync tests rely on:
// the server answers, SIGSTOP leaves connections accepted but unanswered,
// SIGCONT answers again, SIGKILL closes the port and restart brings up an
// empty server on the same port.
func TestRedisHarness(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	if v, err := r.do("SET", "k", "v"); err != nil || v != "OK" {
		t.Fatalf("SET: %q %v", v, err)
	}
	if v, err := r.do("GET", "k"); err != nil || v != "v" {
		t.Fatalf("GET: %q %v", v, err)
	}
	r.stop()
	c, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		t.Errorf("a stopped server should still accept (backlog): %v", err)
	} else {
		c.Close()
	}
	if err := r.ping(100 * time.Millisecond); err == nil {
		t.Errorf("a stopped server answered PING")
	}
	r.cont()
	if err := r.ping(2 * time.Second); err != nil {
		t.Errorf("PING after SIGCONT: %v", err)
	}
	r.kill9()
	if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still accepts after SIGKILL", r.port)
	}
	r.restart()
	if v, err := r.do("EXISTS", "k"); err != nil || v != "0" {
		t.Errorf("after restart: EXISTS k = %q %v, want 0 (an empty server)", v, err)
	}
}
