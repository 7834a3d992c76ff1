package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syslogSink is a datagram socket that stands for a syslog daemon.
type syslogSink struct {
	conn net.PacketConn
	addr string
}

func newSyslogSink(t *testing.T, network, addr string) *syslogSink {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &syslogSink{conn: c, addr: c.LocalAddr().String()}
}

// read returns the datagrams that arrive within wait of each other, the
// first within two seconds.
func (s *syslogSink) read(wait time.Duration) []string {
	var out []string
	buf := make([]byte, 65536)
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.conn.SetReadDeadline(deadline)
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
		deadline = time.Now().Add(wait)
	}
}

// syslogTime and errorLogHead are the parts of a message that change
// from run to run: the header's time, and an error line's date, process
// and connection numbers.
var (
	syslogTime   = regexp.MustCompile(`^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d `)
	errorLogHead = regexp.MustCompile(`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: \*\d+ `)
	localTime    = regexp.MustCompile(`\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]`)
)

// normalSyslog replaces what changes between runs and between nginx and
// headroom with fixed words.
func normalSyslog(msgs []string, host, prefix string, port int) []string {
	var out []string
	for _, m := range msgs {
		m = syslogTime.ReplaceAllString(m, "${1}TIME ")
		m = strings.Replace(m, " "+host+" ", " HOST ", 1)
		m = errorLogHead.ReplaceAllString(m, "DATE [$1] PID: *N ")
		m = localTime.ReplaceAllString(m, "[LOCALTIME]")
		m = strings.ReplaceAll(m, prefix, "PREFIX")
		m = strings.ReplaceAll(m, fmt.Sprint(port), "PORT")
		out = append(out, m)
	}
	return out
}

// TestSyslogAsNginx sends access and error log lines to syslog servers
// over UDP and a unix socket and compares every datagram, byte for byte
// after the time and process numbers, with what nginx sends: the
// priority from facility= and severity= (an error line's own level
// wherever severity= says otherwise), the host name or nohostname, the
// tag, if=, the lines of two destinations, and the warning for a line
// that could not be sent.
func TestSyslogAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		udp := newSyslogSink(t, "udp", "127.0.0.1:0")
		other := newSyslogSink(t, "udp", "127.0.0.1:0")
		// A short directory: a socket's path has room for 107 bytes.
		dir := socketDir(t, "hrsys")
		unixSink := newSyslogSink(t, "unixgram", filepath.Join(dir, "log"))
		// nginx's workers run as nobody.
		os.Chmod(filepath.Join(dir, "log"), 0o666)
		dead := newSyslogSink(t, "udp", "127.0.0.1:0")
		deadAddr := dead.addr
		dead.conn.Close()

		p := startProxyConfig(t, tg, proxyConfig{
			main: "error_log syslog:server=" + other.addr + " notice;",
			http: fmt.Sprintf(`
    log_format short '$uri:$status';
    server {
        listen 127.0.0.1:{{PORT}};
        location /a { access_log syslog:server=%[1]s; return 200; }
        location /as { access_log syslog:server=%[1]s,facility=local3,severity=notice,tag=web_1 short; return 204; }
        location /an { access_log syslog:server=%[1]s,nohostname short; return 200; }
        location /ai { access_log syslog:server=%[1]s short if=$arg_log; return 200; }
        location /two { access_log syslog:server=%[1]s short; access_log syslog:server=%[1]s,tag=again short; return 200; }
        location /e { error_log syslog:server=%[1]s,facility=user,severity=alert; }
        location /unix { access_log syslog:server=unix:%[2]s short; error_log syslog:server=unix:%[2]s; }
        location /dead {
            access_log syslog:server=%[3]s short;
            error_log syslog:server=%[1]s warn;
            return 200;
        }
    }`, udp.addr, filepath.Join(dir, "log"), deadAddr),
		})
		host, _ := os.Hostname()
		host = strings.ToLower(host)
		check := func(sink *syslogSink, want []string, paths ...string) {
			t.Helper()
			for _, path := range paths {
				get(t, p.url(path))
			}
			got := normalSyslog(sink.read(200*time.Millisecond), host, p.prefix, p.port)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("after %v:\n got: %q\nwant: %q", paths, got, want)
			}
		}
		const ua = `"-" "Go-http-client/1.1"`
		check(udp, []string{`<190>TIME HOST nginx: 127.0.0.1 - - [LOCALTIME] "GET /a HTTP/1.1" 200 0 ` + ua}, "/a")
		check(udp, []string{`<157>TIME HOST web_1: /as:204`}, "/as")
		check(udp, []string{`<190>TIME nginx: /an:200`}, "/an")
		check(udp, []string{`<190>TIME HOST nginx: /ai:200`, `<190>TIME HOST nginx: /ai:200`}, "/ai", "/ai?log=0", "/ai?log=", "/ai?log=1", "/ai?log=yes")
		check(udp, []string{`<190>TIME HOST nginx: /two:200`, `<190>TIME HOST again: /two:200`}, "/two")
		check(udp, []string{`<11>TIME HOST nginx: DATE [error] PID: *N open() "PREFIX/html/e" failed (2: No such file or directory), client: 127.0.0.1, server: , request: "GET /e HTTP/1.1", host: "127.0.0.1:PORT"`}, "/e")
		check(unixSink, []string{
			`<187>TIME HOST nginx: DATE [error] PID: *N open() "PREFIX/html/unix" failed (2: No such file or directory), client: 127.0.0.1, server: , request: "GET /unix HTTP/1.1", host: "127.0.0.1:PORT"`,
			`<190>TIME HOST nginx: /unix:404`,
		}, "/unix")
		// The first line goes out; the port's refusal comes back and
		// fails the second, which is lost with a warning; the third
		// goes out on a new socket.
		check(udp, []string{`<188>TIME HOST nginx: DATE [warn] PID: *N send() to syslog failed while logging request, client: 127.0.0.1, server: , request: "GET /dead HTTP/1.1", host: "127.0.0.1:PORT"`}, "/dead", "/dead", "/dead")

		// The main error log's lines go to syslog as to its file (while
		// running: nginx's worker closes its syslog socket before its
		// last line).
		var sent []string
		for _, m := range other.read(200 * time.Millisecond) {
			// nginx's master sends its first lines before it knows
			// the host's name: the header is left out here.
			_, m, _ = strings.Cut(m, " nginx: ")
			sent = append(sent, m)
		}
		var file []string
		for _, l := range logLines(p.readLog("error.log")) {
			if m := regexp.MustCompile(`\[(emerg|alert|crit|error|warn|notice)\]`).FindString(l); m != "" {
				file = append(file, l)
			}
		}
		if len(file) == 0 || strings.Join(sent, "\n") != strings.Join(file, "\n") {
			t.Errorf("the main error log's lines at notice and above:\n file: %q\n sent: %q", file, sent)
		}
		// The refused send is in the main error log.
		if !regexp.MustCompile(`\[error\] \d+#\d+: send\(\) failed \(111: Connection refused\)`).MatchString(strings.Join(file, "\n")) {
			t.Errorf("no line for the refused send in the main error log: %q", file)
		}
	})
}
