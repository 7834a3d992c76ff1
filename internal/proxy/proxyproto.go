package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"headroom/internal/engine"
	"headroom/internal/logs"
)

// This file is the PROXY protocol (listen ... proxy_protocol): the header
// a load balancer sends before anything else on a connection to say whom
// the connection is really from. It is read from the slot's own socket
// before any other layer sees a byte, as nginx's ngx_proxy_protocol_read
// is called before the first request (and, for ssl listeners, before the
// handshake): the socket is peeked at and exactly the header is consumed,
// so that whatever is layered over the socket (TLS) starts at the byte
// after it. Once it is consumed, proxyHeaderDone hands the connection to
// the HTTP/1 connection's handlers.

// proxyHeader is what a PROXY protocol header said of its connection:
// the source (the client) and destination (the address the client
// reached) as nginx keeps them, v1's addresses as written and v2's as
// text. It is allocated only for connections whose header names
// addresses, so a plain connection pays one nil pointer for it.
type proxyHeader struct {
	srcAddr, dstAddr []byte
	srcPort, dstPort uint16
}

// The ways a PROXY protocol header is not (yet) one, each closing the
// connection as nginx does: errProxyMore is not a failure but a header
// begun and not complete, waited for; the v2 address block cut short is
// closed without a line, as nginx 1.22 does.
var (
	errProxyMore      = errors.New("PROXY protocol header incomplete")
	errProxyBroken    = errors.New("broken header")
	errProxyTooLarge  = errors.New("header is too large")
	errProxyAddrShort = errors.New("PROXY protocol v2 address block too short")
)

// proxyVersionError is a v2 signature with a version other than 2.
type proxyVersionError int

func (e proxyVersionError) Error() string {
	return "unknown PROXY protocol version: " + strconv.Itoa(int(e))
}

// proxyV2Sig starts every PROXY protocol v2 header; 16 bytes (the
// signature, version and command, family and transport, length) come
// before the addresses.
const (
	proxyV2Sig     = "\r\n\r\n\x00\r\nQUIT\n"
	proxyV2HeadLen = 16
)

// parseProxyHeader reads a PROXY protocol header at the start of b as
// nginx 1.22's ngx_proxy_protocol_read does, and returns what it names
// (nil for "UNKNOWN", a v2 LOCAL command and families or transports other
// than TCP over IPv4 and IPv6, which carry no addresses) and its length.
//
// nginx parses whatever its first read returned, so a header split
// across two of the client's writes can be called broken there. Here a
// header is waited for: while b could still become one, and more bytes
// could arrive within limit (nginx's client_header_buffer_size, the most
// its first read takes), the answer is errProxyMore; a caller that will
// get no more bytes passes limit = len(b) and gets nginx's verdict on b.
// A header that arrives whole gets exactly nginx's verdict.
func parseProxyHeader(b []byte, limit int) (*proxyHeader, int, error) {
	more := errProxyBroken
	if len(b) < limit {
		more = errProxyMore
	}
	if len(b) > 0 && b[0] == proxyV2Sig[0] {
		if len(b) < proxyV2HeadLen {
			if agree, _ := partialPrefix(b, proxyV2Sig); agree {
				return nil, 0, more
			}
			return nil, 0, errProxyBroken
		}
		if string(b[:len(proxyV2Sig)]) == proxyV2Sig {
			return parseProxyV2(b, limit)
		}
		return nil, 0, errProxyBroken
	}
	return parseProxyV1(b, more)
}

// partialPrefix reports whether b and s agree as far as both go, and
// whether b holds all of s.
func partialPrefix(b []byte, s string) (agree, whole bool) {
	n := min(len(b), len(s))
	return string(b[:n]) == s[:n], len(b) >= len(s)
}

// parseProxyV1 reads the text header: "PROXY TCP4|TCP6 src dst sport
// dport\r\n", or "PROXY UNKNOWN" and anything up to CRLF. more is what
// running out of bytes means (errProxyMore, or errProxyBroken when no
// more can come).
func parseProxyV1(b []byte, more error) (*proxyHeader, int, error) {
	agree, whole := partialPrefix(b, "PROXY ")
	if !agree {
		return nil, 0, errProxyBroken
	}
	// nginx wants 8 bytes before it looks further, so "PROXY X" is
	// waited on rather than judged.
	if !whole || len(b) < 8 {
		if len(b) > 6 && b[6] != 'U' && b[6] != 'T' {
			return nil, 0, errProxyBroken
		}
		return nil, 0, more
	}
	p := b[6:]
	if agree, whole := partialPrefix(p, "UNKNOWN"); agree {
		if !whole {
			return nil, 0, more
		}
		// Whatever follows, up to the first CRLF, is skipped.
		if i := bytes.Index(p[7:], []byte("\r\n")); i >= 0 {
			return nil, len(b) - len(p) + 7 + i + 2, nil
		}
		return nil, 0, more
	}
	for i, want := range []byte("TCP4 ") {
		if i == len(p) {
			return nil, 0, more
		}
		if c := p[i]; c != want && (i != 3 || c != '6') {
			return nil, 0, errProxyBroken
		}
	}
	p = p[5:]
	h := &proxyHeader{}
	var err error
	if h.srcAddr, p, err = proxyV1Addr(p, more); err != nil {
		return nil, 0, err
	}
	if h.dstAddr, p, err = proxyV1Addr(p, more); err != nil {
		return nil, 0, err
	}
	if h.srcPort, p, err = proxyV1Port(p, ' ', more); err != nil {
		return nil, 0, err
	}
	if h.dstPort, p, err = proxyV1Port(p, '\r', more); err != nil {
		return nil, 0, err
	}
	if len(p) == 0 {
		return nil, 0, more
	}
	if p[0] != '\n' {
		return nil, 0, errProxyBroken
	}
	return h, len(b) - len(p) + 1, nil
}

// proxyV1Addr reads an address up to its space: hex digits, ':' and '.',
// any number of them (nginx checks no more; an address that is not one
// is for realip to refuse). The address is copied out of the buffer,
// which the request reuses.
func proxyV1Addr(p []byte, more error) ([]byte, []byte, error) {
	for i, c := range p {
		switch {
		case c == ' ':
			return bytes.Clone(p[:i]), p[i+1:], nil
		case c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
		default:
			return nil, nil, errProxyBroken
		}
	}
	return nil, nil, more
}

// proxyV1Port reads a port up to sep: one or more digits, at most 65535
// (nginx's ngx_atoi). A byte that is neither fails at once, since more
// bytes could not make the port valid.
func proxyV1Port(p []byte, sep byte, more error) (uint16, []byte, error) {
	v := 0
	for i, c := range p {
		switch {
		case c == sep && i > 0:
			return uint16(v), p[i+1:], nil
		case '0' <= c && c <= '9':
			v = v*10 + int(c-'0')
			if v > 65535 {
				return 0, nil, errProxyBroken
			}
		default:
			return 0, nil, errProxyBroken
		}
	}
	return 0, nil, more
}

// parseProxyV2 reads the binary header whose 16 first bytes are in b: a
// PROXY command over TCP (STREAM) names IPv4 or IPv6 addresses and ports;
// anything else (LOCAL, which a balancer's health check sends, UDP,
// AF_UNIX, AF_UNSPEC) is skipped whole and leaves the connection's own
// addresses, as in nginx. TLVs after the addresses are skipped:
// nginx 1.22 has no $proxy_protocol_tlv_* variables.
func parseProxyV2(b []byte, limit int) (*proxyHeader, int, error) {
	if v := int(b[12] >> 4); v != 2 {
		return nil, 0, proxyVersionError(v)
	}
	end := proxyV2HeadLen + (int(b[14])<<8 | int(b[15]))
	if len(b) < end {
		if end <= limit {
			return nil, 0, errProxyMore
		}
		return nil, 0, errProxyTooLarge
	}
	if b[12]&0x0f != 1 || b[13]&0x0f != 1 {
		return nil, end, nil
	}
	body := b[proxyV2HeadLen:end]
	h := &proxyHeader{}
	switch b[13] >> 4 {
	case 1:
		if len(body) < 12 {
			return nil, 0, errProxyAddrShort
		}
		h.srcAddr = netip.AddrFrom4([4]byte(body[0:4])).AppendTo(nil)
		h.dstAddr = netip.AddrFrom4([4]byte(body[4:8])).AppendTo(nil)
		body = body[8:]
	case 2:
		if len(body) < 36 {
			return nil, 0, errProxyAddrShort
		}
		h.srcAddr = netip.AddrFrom16([16]byte(body[0:16])).AppendTo(nil)
		h.dstAddr = netip.AddrFrom16([16]byte(body[16:32])).AppendTo(nil)
		body = body[32:]
	default:
		return nil, end, nil
	}
	h.srcPort = uint16(body[0])<<8 | uint16(body[1])
	h.dstPort = uint16(body[2])<<8 | uint16(body[3])
	return h, end, nil
}

// proxyHeaderSource is the transport under every layer, from which the
// PROXY header is read: it shows what has arrived without consuming it,
// so that the header is taken from the socket and nothing after it. The
// bytes that follow stay in the socket for whatever reads it next: the
// HTTP/1 connection, or a TLS transport layered over the socket.
type proxyHeaderSource interface {
	// Peek copies what has arrived into p and leaves it there: n > 0
	// bytes, or 0 and nil at the end of the stream, or 0 and
	// engine.ErrAgain when nothing is there, or 0 and the error. Either
	// way readiness is cleared: bytes already shown make no new event.
	Peek(p []byte) (int, error)
	// Discard consumes n bytes Peek has shown, and sets readiness again,
	// since more may follow them.
	Discard(n int) error
	// PeerClosed reports whether the peer has closed its side, after
	// which what Peek shows is all there will be.
	PeerClosed() bool
}

// Peek and Discard make the slot's socket a proxyHeaderSource.
func (t *socketTransport) Peek(p []byte) (int, error) {
	for {
		n, _, err := unix.Recvfrom(t.c.Fd, p, unix.MSG_PEEK)
		switch {
		case err == nil:
			t.c.ReadReady = false
			return n, nil
		case err == unix.EAGAIN:
			t.c.ReadReady = false
			return 0, engine.ErrAgain
		case err != unix.EINTR:
			return 0, err
		}
	}
}

func (t *socketTransport) Discard(n int) error {
	var buf [256]byte
	for n > 0 {
		k, err := engine.Read(t.c.Fd, buf[:min(n, len(buf))])
		switch {
		case k > 0:
			n -= k
		case err == nil:
			return io.ErrUnexpectedEOF
		case err != unix.EINTR:
			return err
		}
	}
	t.c.ReadReady = true
	return nil
}

// headerSource returns the transport the PROXY header is read from: the
// slot's socket, whatever is layered over it; in the package's tests,
// whose clients have no socket, the transport they were started with.
func (cc *clientConn) headerSource() proxyHeaderSource {
	if cc.sock.c != nil {
		return &cc.sock
	}
	src, _ := cc.tr.(proxyHeaderSource)
	return src
}

// proxyHeaderLimit is how many bytes the header and what follows it may
// be looked at in: the default server's client_header_buffer_size, the
// size of nginx's first read (within the buffer the bytes are looked at
// in); when a layer (TLS) is over the socket, the 108 bytes nginx 1.22
// peeks at before its handshake.
func (cc *clientConn) proxyHeaderLimit() int {
	if cc.sock.c != nil && cc.tr != transport(&cc.sock) {
		return proxyLayeredLimit
	}
	return min(cc.ln.vhosts.def.Loc.ClientHeaderBufferSize, bufSize)
}

// proxyLayeredLimit is nginx 1.22's NGX_PROXY_PROTOCOL_MAX_HEADER + 1.
const proxyLayeredLimit = 108

// startProxyHeader makes a new connection on a proxy_protocol listener
// wait for its PROXY header before anything else: the slot's handlers
// are the header's until it is consumed. The client_header_timeout the
// connection was given at accept covers the header and the first
// request together, as in nginx.
func (cc *clientConn) startProxyHeader() {
	c := cc.c
	c.OnRead = onProxyHeaderRead
	c.OnWrite = onProxyHeaderWrite
	c.OnTimer = onProxyHeaderTimer
}

func onProxyHeaderRead(c *engine.Conn) {
	c.Data.(*clientConn).readProxyHeader()
}

// onProxyHeaderWrite ignores writability: nothing is written before the
// header is read.
func onProxyHeaderWrite(*engine.Conn) {}

func onProxyHeaderTimer(c *engine.Conn) {
	cc := c.Data.(*clientConn)
	cc.logConn(logs.Info, "client timed out (110: Connection timed out) while reading PROXY protocol")
	cc.close()
}

// readProxyHeader looks at what has arrived and consumes the header once
// it is whole. It never waits: a header not yet complete stays in the
// socket, and the connection holds no buffer for it, until the next
// read event shows it again with more.
func (cc *clientConn) readProxyHeader() {
	src := cc.headerSource()
	if src == nil {
		cc.close()
		return
	}
	limit := cc.proxyHeaderLimit()
	buf := cc.w.getBuf()
	n, err := src.Peek(buf[:limit])
	switch {
	case err == engine.ErrAgain:
		cc.w.putBuf(buf)
		return
	case err != nil:
		cc.w.putBuf(buf)
		cc.logConn(logs.Info, "recv() failed ("+logs.SysError(err)+") while reading PROXY protocol")
		cc.close()
		return
	case n == 0:
		cc.w.putBuf(buf)
		cc.logConn(logs.Info, "client closed connection while reading PROXY protocol")
		cc.close()
		return
	}
	seen := buf[:n]
	if src.PeerClosed() {
		// Nothing more will come: what is here is judged as nginx
		// judges its one read.
		limit = n
	}
	h, hlen, err := parseProxyHeader(seen, limit)
	switch err {
	case nil:
	case errProxyMore:
		cc.w.putBuf(buf)
		return
	default:
		switch err {
		case errProxyBroken:
			cc.logConn(logs.Error, "broken header: \""+string(seen)+"\" while reading PROXY protocol")
		case errProxyAddrShort:
			// nginx 1.22 closes without a line.
		default:
			cc.logConn(logs.Error, err.Error()+" while reading PROXY protocol")
		}
		cc.w.putBuf(buf)
		// What was looked at is taken, as nginx's read took it, so
		// that the close is an orderly one rather than a reset for
		// unread bytes.
		src.Discard(n)
		cc.close()
		return
	}
	cc.w.putBuf(buf)
	if err := src.Discard(hlen); err != nil {
		cc.logConn(logs.Info, "recv() failed ("+logs.SysError(err)+") while reading PROXY protocol")
		cc.close()
		return
	}
	cc.pp = h
	cc.proxyHeaderDone()
}

// proxyHeaderDone hands a connection whose PROXY header is consumed to
// what its listener speaks: its transport (the socket, or TLS layered
// over it at accept, which has read nothing yet) reads on from the first
// byte after the header, and the HTTP/1 connection's handlers take over.
func (cc *clientConn) proxyHeaderDone() {
	c := cc.c
	c.OnRead = onClientRead
	c.OnWrite = onClientWrite
	c.OnTimer = onClientTimer
	if cc.tr.Readable() {
		cc.readHead()
	}
}

// logConn writes an error log line about a connection that has no
// request yet, with the context nginx gives such lines: the client's
// own address and the listening address (", server: 127.0.0.1:8080"),
// in the default server's error log.
func (cc *clientConn) logConn(level logs.Level, msg string) {
	el := cc.w.srv.errorLogFor(cc.ln.vhosts.def.Loc)
	if !el.Enabled(level) {
		return
	}
	b := make([]byte, 0, len(msg)+64)
	b = appendConnNumber(b, cc.id)
	b = append(b, msg...)
	b = append(b, ", client: "...)
	b = appendAddr(b, cc.remote.Addr())
	b = append(b, ", server: "...)
	b = append(b, cc.ln.addr...)
	el.Logf(level, cc.w.id, "%s", b)
}

// appendProxyAddr and appendProxyPort append a PROXY header's address
// and port as $proxy_protocol_addr and $proxy_protocol_port have them:
// not found without a header that names addresses, and a port of 0
// written as nothing, as nginx writes it.
func appendProxyAddr(b []byte, h *proxyHeader, server bool) ([]byte, bool) {
	if h == nil {
		return b, false
	}
	if server {
		return append(b, h.dstAddr...), true
	}
	return append(b, h.srcAddr...), true
}

func appendProxyPort(b []byte, h *proxyHeader, server bool) ([]byte, bool) {
	if h == nil {
		return b, false
	}
	port := h.srcPort
	if server {
		port = h.dstPort
	}
	if port == 0 {
		return b, true
	}
	return strconv.AppendUint(b, uint64(port), 10), true
}
