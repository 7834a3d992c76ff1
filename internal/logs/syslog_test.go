package logs

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSyslogHeader(t *testing.T) {
	local := time.Local
	defer func() { time.Local = local }()
	time.Local = time.FixedZone("X", 3600)
	at := time.Date(2026, 3, 4, 4, 5, 6, 0, time.UTC) // 05:05:06 local
	tests := []struct {
		name     string
		s        Syslog
		severity int
		want     string
	}{
		{"defaults, a one-digit day padded with a space", Syslog{Facility: 23, Tag: "nginx"}, 6, "<190>Mar  4 05:05:06 " + hostname + " nginx: "},
		{"facility and severity", Syslog{Facility: 1, Tag: "web_1"}, 1, "<9>Mar  4 05:05:06 " + hostname + " web_1: "},
		{"no host name", Syslog{Facility: 0, Tag: "t", NoHostname: true}, 0, "<0>Mar  4 05:05:06 t: "},
		{"an empty tag", Syslog{Facility: 16, Tag: ""}, 3, "<131>Mar  4 05:05:06 " + hostname + " : "},
	}
	for _, tt := range tests {
		if got := string(tt.s.AppendHeader(nil, tt.severity, at)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := string((&Syslog{Tag: "x"}).AppendHeader(nil, 0, time.Date(2026, 12, 24, 23, 0, 0, 0, time.Local))); !strings.HasPrefix(got, "<0>Dec 24 23:00:00 ") {
		t.Errorf("two-digit day: %q", got)
	}
}

// TestSyslogConnRecovers checks that a refused send closes the socket
// and that the next message opens a new one, so that a syslog daemon
// that comes back is found again.
func TestSyslogConnRecovers(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	c := NewSyslogConn(&Syslog{Network: "udp", Addr: addr})
	defer c.Close()
	read := func() string {
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 100)
		n, _, err := pc.ReadFrom(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	if err := c.Send([]byte("one")); err != nil || read() != "one" {
		t.Fatalf("first send: %v", err)
	}
	pc.Close()
	// The first datagram after the port closed is sent; the refusal
	// it brings back fails the one after.
	var failed *SyslogError
	for i := 0; i < 3 && failed == nil; i++ {
		failed = c.Send([]byte("lost"))
	}
	if failed == nil || failed.Op != "send()" || failed.Error() != "send() failed (111: Connection refused)" {
		t.Fatalf("send to a closed port: %v", failed)
	}
	if level, quiet := failed.Level(); level != Error || quiet {
		t.Errorf("level %v quiet %v, want error", level, quiet)
	}
	pc, err = net.ListenPacket("udp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	defer pc.Close()
	if err := c.Send([]byte("again")); err != nil || read() != "again" {
		t.Fatalf("send after the server came back: %v", err)
	}
}

// TestErrorLogToSyslog checks that an error log's syslog destination
// gets each line without its line feed, at the line's own severity,
// only down to its level.
func TestErrorLogToSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l := NewErrorLog()
	s := &Syslog{Network: "udp", Addr: pc.LocalAddr().String(), Facility: 1, Severity: 1, Tag: "nginx"}
	if err := l.Open([]Target{{Level: Warn, Syslog: s}}); err != nil {
		t.Fatal(err)
	}
	defer l.Open(nil)
	l.Logf(Info, 0, "not sent")
	l.Logf(Error, 3, "sent %d", 1)
	pc.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 4096)
	n, _, err := pc.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b[:n])
	// facility user (1) * 8 + error (3), whatever severity= says.
	want := regexp.MustCompile(`^<11>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ` + regexp.QuoteMeta(hostname) +
		` nginx: \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] ` + strconv.Itoa(l.pid) + `#3: sent 1$`)
	if !want.MatchString(got) {
		t.Errorf("got %q, want %s", got, want)
	}
	pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := pc.ReadFrom(b); err == nil {
		t.Errorf("a line below the level was sent: %q", b[:n])
	}
}
