package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLines returns the non-empty lines of a log file.
func logLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestAccessLog checks access log lines: the default combined format, a
// custom log_format with upstream variables and timings, and escaping. The
// logs are read after the proxy has stopped, so buffered writes are
// flushed; both SIGTERM (fast) and SIGQUIT (graceful) shutdowns must leave
// every line.
func TestAccessLog(t *testing.T) {
	for _, s := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"SIGQUIT", syscall.SIGQUIT}} {
		t.Run(s.name, func(t *testing.T) {
			forEachTarget(t, func(t *testing.T, tg *target) {
				testAccessLog(t, tg, s.sig)
			})
		})
	}
}

func testAccessLog(t *testing.T, tg *target, sig syscall.Signal) {
	up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
		if r.Target == "/slow" {
			time.Sleep(250 * time.Millisecond)
		}
		c.respond(200, "hello")
	})
	dead := refusedAddr(t)
	p := startProxy(t, tg, fmt.Sprintf(`
    log_format custom '$status $body_bytes_sent $upstream_addr $upstream_status $request_time "$request"';
    upstream failover {
        server %[2]s;
        server %[1]s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%[1]s; }
        location /local { return 200 "local!"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        access_log {{PREFIX}}/logs/custom.log custom;
        location / { proxy_pass http://%[1]s; }
        location /failover { proxy_pass http://failover; }
        location /local { return 200 "local!"; }
    }`, up.addr, dead))
	port1 := fmt.Sprintf("127.0.0.1:%d", p.ports[1])

	// Each exchange ends with the client closing and the proxy closing
	// in turn: by then the request has been logged (nginx logs an error
	// response only after its lingering close).
	send := func(addr, req string) {
		t.Helper()
		if _, closed := sendRawLinger(t, addr, req); !closed {
			t.Errorf("connection not closed after %q", req)
		}
	}
	send(p.addr, "GET /path?q=1 HTTP/1.1\r\nHost: h\r\nReferer: http://ref.example/\r\nUser-Agent: agent/1.0\r\n\r\n")
	// A control byte would be refused by headroom (RFC 9110 5.5), so the
	// escaping of bytes outside printable ASCII is checked with obs-text.
	send(p.addr, "GET /local HTTP/1.1\r\nHost: h\r\nUser-Agent: quote\"and\xe9obs\r\n\r\n")
	send(p.addr, "HEAD /head HTTP/1.0\r\n\r\n")
	send(port1, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	send(port1, "GET /local HTTP/1.1\r\nHost: h\r\n\r\n")
	send(port1, "GET /failover HTTP/1.1\r\nHost: h\r\n\r\n")
	send(port1, "GET / HTTP/2.0\r\nHost: h\r\n\r\n")

	p.stopSignal(sig)

	const ts = `\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]`
	combined := logLines(p.readLog("access.log"))
	wantCombined := []string{
		`^127\.0\.0\.1 - - ` + ts + ` "GET /path\?q=1 HTTP/1\.1" 200 5 "http://ref\.example/" "agent/1\.0"$`,
		// Variables escape '"' and bytes outside printable ASCII as \xXX.
		`^127\.0\.0\.1 - - ` + ts + ` "GET /local HTTP/1\.1" 200 6 "-" "quote\\x22and\\xE9obs"$`,
		`^127\.0\.0\.1 - - ` + ts + ` "HEAD /head HTTP/1\.0" 200 0 "-" "-"$`,
	}
	checkLines(t, "access.log", combined, wantCombined)

	custom := logLines(p.readLog("custom.log"))
	up1 := regexp.QuoteMeta(up.addr)
	wantCustom := []string{
		`^200 5 ` + up1 + ` 200 (0\.(2[4-9]|[3-9]\d)\d|[1-9]\.\d{3}) "GET /slow HTTP/1\.1"$`,
		`^200 6 - - 0\.\d{3} "GET /local HTTP/1\.1"$`,
		// Every server tried is listed, in order.
		`^200 5 ` + regexp.QuoteMeta(dead) + `, ` + up1 + ` 502, 200 0\.\d{3} "GET /failover HTTP/1\.1"$`,
		// The request line is logged even for a rejected version.
		`^505 \d+ - - 0\.\d{3} "GET / HTTP/2\.0"$`,
	}
	checkLines(t, "custom.log", custom, wantCustom)
}

func checkLines(t *testing.T, file string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d lines, want %d:\n%s", file, len(got), len(want), strings.Join(got, "\n"))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !regexp.MustCompile(want[i]).MatchString(got[i]) {
			t.Errorf("%s line %d:\n got  %s\n want %s", file, i+1, got[i], want[i])
		}
	}
}

// TestAccessLogVariablePath checks access logs whose paths have
// variables, against nginx: each request's line goes to the file its
// path names when the request ends, a relative path is under the prefix,
// nothing is logged while the server's root directory is missing, a file
// that cannot be opened is a [crit] line in the error log, and with
// open_log_file_cache a file used min_uses times stays open, so that its
// lines follow it when it is renamed.
func TestAccessLogVariablePath(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    log_format short "$uri $status";
    server {
        listen 127.0.0.1:{{PORT}};
        location /plain/ { access_log logs/plain_$arg_n.log short; return 200 "ok\n"; }
        location /cached/ {
            open_log_file_cache max=2 min_uses=2;
            access_log {{PREFIX}}/dir/cached_$arg_n.log short;
            return 200 "ok\n";
        }
        location /noroot/ { root {{PREFIX}}/missing; access_log logs/noroot$arg_n.log short; return 200 "ok\n"; }
    }`)
		if err := os.Mkdir(filepath.Join(p.prefix, "dir"), 0o777); err != nil {
			t.Fatal(err)
		}
		// Writable by nginx's workers whatever user they run as.
		os.Chmod(filepath.Join(p.prefix, "dir"), 0o777)
		writeHTML(t, p, "index.html", "root\n")
		for _, path := range []string{
			"/plain/1?n=a", "/plain/2?n=b", "/plain/3?n=a", "/noroot/x",
			"/cached/1?n=kept", "/cached/2?n=kept", "/cached/3?n=once",
		} {
			if st, _, _ := get(t, p.url(path)); st != 200 {
				t.Fatalf("%s: %d", path, st)
			}
		}
		// A line is written when its request ends, which may be just
		// after the client has its answer.
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(p.prefix, "dir", "cached_once.log")); err == nil {
				break
			}
		}
		// The kept file stays open across the rename; the other one
		// is opened anew and fails.
		if err := os.Rename(filepath.Join(p.prefix, "dir"), filepath.Join(p.prefix, "moved")); err != nil {
			t.Fatal(err)
		}
		get(t, p.url("/cached/4?n=kept"))
		get(t, p.url("/cached/5?n=once"))
		p.stop()
		for name, want := range map[string]string{
			"logs/plain_a.log":      "/plain/1 200\n/plain/3 200\n",
			"logs/plain_b.log":      "/plain/2 200\n",
			"moved/cached_kept.log": "/cached/1 200\n/cached/2 200\n/cached/4 200\n",
			"moved/cached_once.log": "/cached/3 200\n",
		} {
			b, err := os.ReadFile(filepath.Join(p.prefix, name))
			if err != nil || string(b) != want {
				t.Errorf("%s: %q (%v), want %q", name, b, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(p.prefix, "logs", "noroot.log")); !os.IsNotExist(err) {
			t.Errorf("logs/noroot.log exists (%v): nothing is logged without the root directory", err)
		}
		errs := p.readLog("error.log")
		for _, want := range []string{
			`testing "` + p.prefix + `/missing" existence failed (2: No such file or directory)`,
			`[crit]`, `open() "` + p.prefix + `/dir/cached_once.log" failed (2: No such file or directory)`,
		} {
			if !strings.Contains(errs, want) {
				t.Errorf("error.log lacks %q:\n%s", want, errs)
			}
		}
	})
}
