package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"iter"
	"net"
	"sync"
	"time"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/observe"
)

// This file terminates TLS on the event loop with crypto/tls unchanged.
// A tls.Conn runs over tlsSocket, an adapter on the slot's non-blocking
// socket: its Read returns a temporary error when the socket has nothing
// (crypto/tls keeps no such error, so the next Read goes on where this
// one stopped), and its Write never fails for a full socket, keeping what
// the socket did not take until the socket can take it. The handshake,
// which cannot be resumed after an error, runs as a coroutine on the
// loop's own thread (iter.Pull): its Read yields when the socket has
// nothing, and the next read event resumes it. No goroutine waits for any
// connection.

// tlsTransport is the transport of a connection to an address that
// listens with ssl. An idle keep-alive connection keeps it and crypto/tls's
// state, so it holds only what an established connection uses: the bools
// sit together, the first bytes stay in the socket until crypto/tls reads
// them, and what only the handshake needs is dropped when it ends.
type tlsTransport struct {
	sock *socketTransport
	conn *tls.Conn
	raw  tlsSocket
	// next and stop drive the handshake's coroutine while it runs.
	next func() (struct{}, bool)
	stop func()
	// hsErr is the handshake's failure.
	hsErr error
	// state is where the connection is: before its first byte, in the
	// handshake, established, or carrying plain HTTP (a client that
	// sent no TLS to a TLS port, answered 497).
	state tlsState
	// mayHold is set after a read that returned bytes: tls.Conn may
	// hold more, decrypted or not, with no event to say so.
	mayHold bool
	// closeWrite is set when the stream is to end once the records
	// still waiting are written.
	closeWrite bool
	// verified is the client certificate's check for the server that
	// asked last (tlsverify.go).
	verified clientVerify
	// stats are the worker's figures, which count client handshakes and
	// their time; nil for a transport to an upstream.
	stats *observe.Worker
}

type tlsState uint8

const (
	tlsFresh tlsState = iota
	tlsHandshake
	tlsOpen
	tlsPlain
)

// errTLSWait is the temporary error tlsSocket returns when the socket
// has nothing to read.
var errTLSWait net.Error = tlsWaitError{}

type tlsWaitError struct{}

func (tlsWaitError) Error() string   { return "tls: socket not ready" }
func (tlsWaitError) Timeout() bool   { return true }
func (tlsWaitError) Temporary() bool { return true }

// handshakeError is a failed handshake, which the connection logs as
// nginx does (at info: a client's failure is not the server's).
type handshakeError struct{ err error }

func (e *handshakeError) Error() string {
	if errors.Is(e.err, io.EOF) || errors.Is(e.err, io.ErrUnexpectedEOF) {
		return "peer closed connection in SSL handshake"
	}
	return "SSL_do_handshake() failed (SSL: " + e.err.Error() + ")"
}

// errHandshakeStopped ends a handshake whose connection closed.
var errHandshakeStopped = errors.New("tls: connection closed during the handshake")

// tlsSocket is the net.Conn crypto/tls reads and writes: the slot's
// socket, without blocking.
type tlsSocket struct {
	c *engine.Conn
	// pending holds what the socket did not take of a write; it goes
	// back to pendingPool once written, so that an idle connection does
	// not keep the largest burst it ever sent.
	pending []byte
	// yield suspends the handshake's coroutine while it runs; nil after.
	yield func(struct{}) bool
	// failed is the socket's error, after which nothing more is written.
	failed error
	// remote is the peer's address for crypto/tls (its client session
	// cache keys by it).
	remote net.Addr
	// curves and suites are the groups and suites the client offered,
	// kept only while a configuration names $ssl_curves or $ssl_ciphers
	// (keepHello); serverName is the SNI name it asked for.
	curves     []tls.CurveID
	suites     []uint16
	serverName string
	// rejected is set when ssl_reject_handshake refused the handshake:
	// the alert that follows says unrecognized_name, as nginx's does.
	rejected bool
}

func (s *tlsSocket) Read(p []byte) (int, error) {
	for {
		if !s.c.ReadReady {
			if s.yield == nil {
				return 0, errTLSWait
			}
			if !s.yield(struct{}{}) {
				return 0, errHandshakeStopped
			}
			continue
		}
		n, err := s.c.Read(p)
		switch {
		case n > 0:
			return n, nil
		case err == nil:
			return 0, io.EOF
		case err == engine.ErrAgain:
			continue
		default:
			return 0, err
		}
	}
}

// Write writes what the socket takes and keeps the rest for flush; it
// fails only once the socket has.
func (s *tlsSocket) Write(p []byte) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	// All of p is taken, written or kept: crypto/tls counts what it
	// wrote to size its records (small ones first, then full ones).
	total := len(p)
	if s.rejected && len(p) == 7 && p[0] == 0x15 {
		// A plaintext fatal alert record: crypto/tls says
		// internal_error for a refused ClientHello.
		p = append([]byte(nil), p...)
		p[6] = 112
	}
	if len(s.pending) == 0 {
		n, err := s.c.Write(p)
		if err != nil && err != engine.ErrAgain {
			s.failed = err
			return 0, err
		}
		p = p[n:]
		if len(p) == 0 {
			return total, nil
		}
		if b, ok := pendingPool.Get().(*[]byte); ok {
			s.pending = (*b)[:0]
		}
	}
	s.pending = append(s.pending, p...)
	return total, nil
}

// pendingPool holds the buffers of written records, so that a slow
// client's transport takes one while its socket is full and gives it back
// once the socket has taken everything.
var pendingPool sync.Pool

// flush writes what waits; it reports whether nothing does any more.
func (s *tlsSocket) flush() (bool, error) {
	for len(s.pending) > 0 {
		if s.failed != nil {
			return false, s.failed
		}
		n, err := s.c.Write(s.pending)
		if n > 0 {
			s.pending = s.pending[n:]
			continue
		}
		if err == engine.ErrAgain {
			return false, nil
		}
		s.failed = err
		return false, err
	}
	if cap(s.pending) > 0 {
		b := s.pending[:0:cap(s.pending)]
		pendingPool.Put(&b)
		s.pending = nil
	}
	return true, nil
}

func (s *tlsSocket) Close() error        { return nil }
func (s *tlsSocket) LocalAddr() net.Addr { return nil }
func (s *tlsSocket) RemoteAddr() net.Addr {
	if s.remote == nil {
		return peerAddr("")
	}
	return s.remote
}
func (s *tlsSocket) SetDeadline(t time.Time) error      { return nil }
func (s *tlsSocket) SetReadDeadline(t time.Time) error  { return nil }
func (s *tlsSocket) SetWriteDeadline(t time.Time) error { return nil }

// getTLS takes a TLS transport from the worker's free list.
func (w *worker) getTLS() *tlsTransport {
	if n := len(w.tlsFree); n > 0 {
		t := w.tlsFree[n-1]
		w.tlsFree = w.tlsFree[:n-1]
		t.stats = w.stats
		return t
	}
	return &tlsTransport{stats: w.stats}
}

// putTLS returns a closed connection's TLS transport to the free list.
func (w *worker) putTLS(t *tlsTransport) {
	t.Close()
	w.tlsFree = append(w.tlsFree, t)
}

// start readies a connection's transport for a TLS listener.
func (t *tlsTransport) start(sock *socketTransport, cfg *tls.Config) {
	*t = tlsTransport{sock: sock, stats: t.stats}
	t.raw.c = sock.c
	t.conn = tls.Server(&t.raw, cfg)
}

// Read gives the HTTP/1 connection plaintext. Before the first byte
// arrives it cannot know whether the client speaks TLS; the handshake
// runs inside the reads that the HTTP/1 connection makes anyway.
func (t *tlsTransport) Read(p []byte) (int, error) {
	switch t.state {
	case tlsFresh:
		// The first byte is peeked at, not read: it and the rest stay in
		// the socket for whichever reads them next, so that crypto/tls
		// reads the ClientHello straight into its own buffer, with no copy
		// kept here.
		var first [1]byte
		n, err := t.sock.Peek(first[:])
		if n == 0 {
			if err == nil {
				// The end of the stream, which stays readable as after
				// a read that saw it.
				t.sock.c.ReadReady = true
			}
			return 0, err
		}
		t.sock.c.ReadReady = true
		if first[0] != 0x16 {
			// Not a TLS record: plain HTTP to a TLS port, which the
			// request answers with 497.
			t.state = tlsPlain
			return t.sock.Read(p)
		}
		t.state = tlsHandshake
		t.next, t.stop = iter.Pull(t.handshake)
		fallthrough
	case tlsHandshake:
		began := time.Now()
		t.next()
		t.stats.TLSHandshakeRan(began)
		if t.state == tlsHandshake && t.hsErr == nil {
			// What the handshake wrote goes now; the rest when the
			// socket can take it (Flush).
			if _, err := t.raw.flush(); err != nil {
				return 0, err
			}
			return 0, engine.ErrAgain
		}
		t.stop()
		t.next, t.stop = nil, nil
		t.stats.TLSHandshakeEnded(t.hsErr == nil)
		if t.hsErr != nil {
			return 0, &handshakeError{t.hsErr}
		}
		if _, err := t.raw.flush(); err != nil {
			return 0, err
		}
		fallthrough
	case tlsOpen:
		n, err := t.conn.Read(p)
		if n > 0 {
			t.mayHold = true
			return n, nil
		}
		t.mayHold = false
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, engine.ErrAgain
		}
		if err == nil || err == io.EOF {
			return 0, nil
		}
		return 0, err
	default:
		return t.sock.Read(p)
	}
}

// handshake runs crypto/tls's handshake as the coroutine.
func (t *tlsTransport) handshake(yield func(struct{}) bool) {
	t.raw.yield = yield
	err := t.conn.Handshake()
	t.raw.yield = nil
	if err != nil {
		t.hsErr = err
		return
	}
	t.state = tlsOpen
}

// Write encrypts p as records. The socket takes what it can; the rest of
// the records waits in the adapter, and no more is taken until it is
// written, so that a slow client holds back the answer as it does on a
// plain connection.
func (t *tlsTransport) Write(p []byte) (int, error) {
	if t.state == tlsPlain {
		return t.sock.Write(p)
	}
	if t.state != tlsOpen {
		return 0, engine.ErrAgain
	}
	done, err := t.raw.flush()
	if err != nil {
		return 0, err
	}
	if !done {
		return 0, engine.ErrAgain
	}
	n, err := t.conn.Write(p)
	if err != nil {
		return n, err
	}
	return n, nil
}

// Readable includes what crypto/tls may hold: after a read that returned
// bytes, one more read finds out.
func (t *tlsTransport) Readable() bool {
	return t.sock.Readable() || t.mayHold
}

func (t *tlsTransport) PeerClosed() bool { return t.sock.PeerClosed() }

// Flush writes the records that wait for the socket; the connection's
// write handler calls it first, so that what an answer left here goes
// before anything else, and the stream ends after it when asked.
func (t *tlsTransport) Flush() (bool, error) {
	done, err := t.raw.flush()
	if done && t.closeWrite {
		t.closeWrite = false
		t.sock.CloseWrite()
	}
	return done, err
}

// CloseWrite sends close_notify, as nginx's SSL_shutdown does, and ends
// the stream once every record is written.
func (t *tlsTransport) CloseWrite() {
	if t.state == tlsOpen {
		t.conn.CloseWrite()
	}
	if done, _ := t.raw.flush(); !done {
		t.closeWrite = true
		return
	}
	t.sock.CloseWrite()
}

// Close ends a handshake still running and lets go of the connection's
// TLS state.
func (t *tlsTransport) Close() {
	if t.stop != nil {
		t.stop()
		t.stop, t.next = nil, nil
	}
	t.conn = nil
	t.raw = tlsSocket{}
}

// plain reports whether the client sent plain HTTP to the TLS port.
func (t *tlsTransport) plain() bool { return t.state == tlsPlain }

// tlsState returns the established connection's parameters.
func (t *tlsTransport) connectionState() (tls.ConnectionState, bool) {
	if t.state != tlsOpen {
		return tls.ConnectionState{}, false
	}
	return t.conn.ConnectionState(), true
}

// connTLS returns the TLS transport the request's bytes came through: the
// connection's own, or for a stream its HTTP/2 connection's.
func (cc *clientConn) connTLS() (*tlsTransport, bool) {
	if cc.sub != nil && cc.sub.parent != nil {
		return cc.sub.parent.connTLS()
	}
	tr := cc.tr
	if cc.h2 != nil {
		tr = cc.h2.hc.tr
	}
	t, ok := tr.(*tlsTransport)
	return t, ok
}

// handshaking reports whether the connection is a TLS one whose
// handshake has not ended (or not begun).
func (cc *clientConn) handshaking() bool {
	t, ok := cc.tr.(*tlsTransport)
	return ok && (t.state == tlsFresh || t.state == tlsHandshake)
}

// tlsOpen reports whether the connection is a TLS one past its
// handshake.
func (cc *clientConn) tlsOpen() bool {
	t, ok := cc.connTLS()
	return ok && t.state == tlsOpen
}

// tlsVar makes the getter of an ssl variable: not found on a connection
// without TLS, as in nginx.
func tlsVar(fn func(b []byte, st *tls.ConnectionState) []byte) getter {
	return func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		t, ok := cc.connTLS()
		if !ok || t.state != tlsOpen {
			return b, false
		}
		st := t.conn.ConnectionState()
		return fn(b, &st), true
	}
}

// tlsVersionName is OpenSSL's name of a protocol version, as
// $ssl_protocol has it.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return "unknown"
}

// opensslSuiteName is OpenSSL's name of a cipher suite, as $ssl_cipher
// has it.
func opensslSuiteName(id uint16) string {
	if name, ok := conf.OpenSSLSuiteName(id); ok {
		return name
	}
	return tls.CipherSuiteName(id)
}
