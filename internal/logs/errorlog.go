// Package logs writes nginx-style error logs and buffered access logs.
package logs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Level is an error log severity, ordered as nginx's.
type Level int

// Levels, most severe first as in nginx.
const (
	Emerg Level = iota
	Alert
	Crit
	Error
	Warn
	Notice
	Info
	Debug
)

var levelNames = [...]string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

func (l Level) String() string { return levelNames[l] }

// ParseLevel maps nginx's level names; unknown names give Error.
func ParseLevel(s string) Level {
	for i, n := range levelNames {
		if n == s {
			return Level(i)
		}
	}
	return Error
}

type sink struct {
	f     *os.File
	level Level
	// sys and conn are set instead of f for a syslog destination.
	sys  *Syslog
	conn *SyslogConn
}

// ErrorLog writes lines such as
// "2026/11/25 23:33:55 [warn] 1234#0: message" to one or more files, each
// with its own minimum level. Error logging is rare and off the hot path,
// so each line is one write under a mutex.
type ErrorLog struct {
	mu    sync.Mutex
	sinks []sink
	pid   int
}

// NewErrorLog returns a log that writes to stderr at level "error" until
// Open is called, so that problems while starting are seen.
func NewErrorLog() *ErrorLog {
	return &ErrorLog{sinks: []sink{{f: os.Stderr, level: Error}}, pid: os.Getpid()}
}

// Target is one destination to open.
type Target struct {
	// Path is a file path or "stderr"; with Syslog set it is not used.
	Path   string
	Level  Level
	Syslog *Syslog
}

// Open replaces the destinations; files are opened for appending and
// created if missing, as nginx does.
func (l *ErrorLog) Open(targets []Target) error {
	var sinks []sink
	for _, t := range targets {
		if t.Syslog != nil {
			sinks = append(sinks, sink{level: t.Level, sys: t.Syslog, conn: NewSyslogConn(t.Syslog)})
			continue
		}
		if t.Path == "stderr" {
			sinks = append(sinks, sink{f: os.Stderr, level: t.Level})
			continue
		}
		f, err := os.OpenFile(t.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("open() \"%s\" failed (%v)", t.Path, err)
		}
		sinks = append(sinks, sink{f: f, level: t.Level})
	}
	l.mu.Lock()
	old := l.sinks
	l.sinks = sinks
	l.mu.Unlock()
	for _, s := range old {
		switch {
		case s.conn != nil:
			s.conn.Close()
		case s.f != os.Stderr:
			s.f.Close()
		}
	}
	return nil
}

// Enabled reports whether any destination takes messages of this level,
// so callers can skip formatting.
func (l *ErrorLog) Enabled(level Level) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sinks {
		if level <= s.level {
			return true
		}
	}
	return false
}

// Logf writes one line for worker w (use 0 outside workers).
func (l *ErrorLog) Logf(level Level, w int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	now := time.Now()
	line := Format(now, level, l.pid, w, msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sinks {
		if level > s.level {
			continue
		}
		if s.conn != nil {
			s.sendSyslog(level, now, line)
			continue
		}
		s.f.WriteString(line)
	}
}

// maxErrorLine is nginx's bound on an error message (NGX_MAX_ERROR_STR),
// kept for syslog so that a message fits a datagram wherever it goes.
const maxErrorLine = 2048

// sendSyslog sends one line, without its line feed, at the line's own
// severity; a failed send is not reported anywhere, as a log cannot
// report its own failure.
func (s *sink) sendSyslog(level Level, now time.Time, line string) {
	line = strings.TrimSuffix(line, "\n")
	if len(line) > maxErrorLine-1 {
		line = line[:maxErrorLine-1]
	}
	b := make([]byte, 0, 64+len(line))
	b = s.sys.AppendHeader(b, int(level), now)
	b = append(b, line...)
	s.conn.Send(b)
}

// Format renders one error log line in nginx's form.
func Format(t time.Time, level Level, pid, tid int, msg string) string {
	var b strings.Builder
	b.Grow(40 + len(msg))
	b.WriteString(t.Format("2006/01/02 15:04:05"))
	fmt.Fprintf(&b, " [%s] %d#%d: %s\n", level, pid, tid, msg)
	return b.String()
}

// SysError formats an error from a system call as nginx writes one in
// parentheses: "98: Address already in use". Errors that carry no errno
// are written as they are.
func SysError(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	text := errno.Error()
	if text != "" {
		// glibc's strerror texts start with a capital letter.
		text = strings.ToUpper(text[:1]) + text[1:]
	}
	return strconv.Itoa(int(errno)) + ": " + text
}
