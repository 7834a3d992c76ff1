package logs

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Syslog is a syslog destination as nginx's "syslog:" prefix of
// error_log and access_log names one. Messages go out as RFC 3164
// datagrams, "<PRI>Mmm dd hh:mm:ss host tag: message", one per line.
type Syslog struct {
	// Spec is the destination as written ("syslog:server=...").
	Spec string
	// Network is "udp" or "unixgram"; Addr is an IP:port or a socket
	// path.
	Network string
	Addr    string
	// Facility is 0 (kern) to 23 (local7); nginx's default is local7.
	Facility int
	// Severity is 0 (emerg) to 7 (debug) for access log lines (info by
	// default); error logs send each message at its own level, as nginx
	// does whatever severity= says.
	Severity int
	// Tag names the sender; nginx's default "nginx" keeps the rules of
	// log pipelines that select nginx's lines by program name working.
	Tag        string
	NoHostname bool
}

// SyslogKey names the socket a destination sends through: destinations
// that differ only in their header share it. It is a value, so that
// finding a request's socket allocates nothing.
type SyslogKey struct{ Network, Addr string }

// Key is the destination's socket's name.
func (s *Syslog) Key() SyslogKey { return SyslogKey{s.Network, s.Addr} }

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// hostname is the machine's name, lower-cased as nginx keeps it.
var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return strings.ToLower(h)
}()

// AppendHeader appends the PRI and HEADER parts, "<PRI>Mmm dd hh:mm:ss
// host tag: ", for a message of the given severity sent at now (in
// local time, as syslog daemons expect).
func (s *Syslog) AppendHeader(b []byte, severity int, now time.Time) []byte {
	now = now.Local()
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(s.Facility*8+severity), 10)
	b = append(b, '>')
	b = append(b, months[now.Month()-1]...)
	b = append(b, ' ')
	if now.Day() < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(now.Day()), 10)
	b = append(b, ' ')
	b = appendTwo(b, now.Hour())
	b = append(b, ':')
	b = appendTwo(b, now.Minute())
	b = append(b, ':')
	b = appendTwo(b, now.Second())
	b = append(b, ' ')
	if !s.NoHostname {
		b = append(b, hostname...)
		b = append(b, ' ')
	}
	b = append(b, s.Tag...)
	return append(b, ':', ' ')
}

func appendTwo(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// SyslogConn is the datagram socket to one syslog server. It is opened
// at the first message and closed after a failed send, so that the next
// message opens it again: a daemon that was restarted is found again, as
// nginx finds it. Sends never block; a message the socket cannot take at
// once is dropped. One connection is shared by every worker.
type SyslogConn struct {
	mu      sync.Mutex
	network string
	addr    string
	fd      int
}

// NewSyslogConn returns the connection for s's server, not yet opened.
func NewSyslogConn(s *Syslog) *SyslogConn {
	return &SyslogConn{network: s.Network, addr: s.Addr, fd: -1}
}

// errSyslogAddr reports an address that cannot be a socket address.
var errSyslogAddr = errors.New("invalid syslog server address")

// SyslogError is a failed system call on a syslog socket.
type SyslogError struct {
	// Op is the call as nginx names it in its log: "socket()",
	// "connect()" or "send()".
	Op  string
	Err error
}

func (e *SyslogError) Error() string { return e.Op + " failed (" + SysError(e.Err) + ")" }

func (e *SyslogError) Unwrap() error { return e.Err }

// Level is the level nginx logs the failure at: a send refused or cut
// by the network is an error, anything else an alert, and a full socket
// buffer nothing (Quiet).
func (e *SyslogError) Level() (level Level, quiet bool) {
	switch e.Err {
	case syscall.EAGAIN:
		return Info, true
	case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.ENOTCONN, syscall.ETIMEDOUT,
		syscall.ECONNREFUSED, syscall.ENETDOWN, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.EHOSTUNREACH:
		if e.Op == "send()" {
			return Error, false
		}
	}
	return Alert, false
}

func (c *SyslogConn) open() *SyslogError {
	var sa syscall.Sockaddr
	family := syscall.AF_UNIX
	if c.network == "unixgram" {
		sa = &syscall.SockaddrUnix{Name: c.addr}
	} else {
		ap, err := netip.ParseAddrPort(c.addr)
		if err != nil {
			return &SyslogError{Op: "connect()", Err: errSyslogAddr}
		}
		if ap.Addr().Is4() {
			family = syscall.AF_INET
			sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		} else {
			family = syscall.AF_INET6
			sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return &SyslogError{Op: "socket()", Err: err}
	}
	if err := syscall.Connect(fd, sa); err != nil {
		syscall.Close(fd)
		return &SyslogError{Op: "connect()", Err: err}
	}
	c.fd = fd
	return nil
}

// Send sends one message as one datagram. An error means it was not
// sent.
func (c *SyslogConn) Send(msg []byte) *SyslogError {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		if err := c.open(); err != nil {
			return err
		}
	}
	for {
		_, err := syscall.Write(c.fd, msg)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return &SyslogError{Op: "send()", Err: err}
		}
		// An error reported for an earlier datagram (ECONNREFUSED
		// after the server's port closed) or a dead socket: start
		// again with a new one at the next message.
		syscall.Close(c.fd)
		c.fd = -1
		return &SyslogError{Op: "send()", Err: err}
	}
}

// Close closes the socket.
func (c *SyslogConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}
