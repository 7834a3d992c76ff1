package proxy

import (
	"golang.org/x/sys/unix"

	"headroom/internal/engine"
)

// transport moves a connection's bytes, whatever carries them: a plain
// TCP or unix socket today, TLS over one next (nginx swaps c->recv and
// c->send; HAProxy has its xprt_ops). The HTTP/1 connection and the
// upstream attempt read, write and close through it and never touch the
// socket themselves, so a transport that keeps bytes of its own (TLS
// records already decrypted, or an in-memory pipe in tests) can report
// them as readable without an epoll edge.
//
// The engine's slot still owns the timer and the handlers; the transport
// owns the bytes and their readiness.
type transport interface {
	// Read reads what has arrived: n > 0 bytes, or 0 and nil at the end
	// of the stream, or 0 and engine.ErrAgain when nothing is there yet
	// (readiness is cleared until the next event), or 0 and the error.
	Read(p []byte) (int, error)
	// Write writes what the peer can take now: n > 0 bytes, or 0 and
	// engine.ErrAgain when it can take none (the write handler runs once
	// it can), or 0 and the error once the connection is broken.
	Write(p []byte) (int, error)
	// Readable reports whether a Read may return something without
	// waiting for an event: bytes, the end of the stream or an error.
	Readable() bool
	// PeerClosed reports whether the peer has closed its side.
	PeerClosed() bool
	// CloseWrite ends the stream in the write direction after the bytes
	// written so far, leaving the read side open (TCP's FIN).
	CloseWrite()
	// Flush writes what the transport holds of bytes Write took (TLS
	// records the socket had no room for); done reports that nothing
	// waits. The write handler calls it before anything else.
	Flush() (done bool, err error)
	// Close releases what the transport holds of its own once the
	// connection ends; the socket is closed with the slot.
	Close()
}

// socketTransport is a transport over the slot's own non-blocking socket:
// plain TCP or a unix domain socket, with the engine's edge-triggered
// readiness. It is a value kept inside the connection's state, so that
// using it through the interface allocates nothing.
type socketTransport struct {
	c *engine.Conn
	// more makes writes say that more bytes follow at once (a file
	// after its head with tcp_nopush; see engine.Conn.WriteMore).
	more bool
}

func (t *socketTransport) Read(p []byte) (int, error) { return t.c.Read(p) }

func (t *socketTransport) Write(p []byte) (int, error) {
	if t.more {
		return t.c.WriteMore(p)
	}
	return t.c.Write(p)
}

func (t *socketTransport) Readable() bool       { return t.c.ReadReady }
func (t *socketTransport) PeerClosed() bool     { return t.c.EOF }
func (t *socketTransport) CloseWrite()          { engine.Shutdown(t.c.Fd, unix.SHUT_WR) }
func (t *socketTransport) Close()               {}
func (t *socketTransport) Flush() (bool, error) { return true, nil }
