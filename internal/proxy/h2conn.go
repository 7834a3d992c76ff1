package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/h2"
	"headroom/internal/logs"
)

// This file is the HTTP/2 connection, a sibling of the HTTP/1 one
// (h1conn.go) on the same kind of slot: it reads frames in place from its
// buffer, keeps the streams and both directions' flow control, and
// writes the frames its streams produce. Each stream is a request on a
// slot of its own (h2stream.go), so that a stream counts against the
// client budget as a client would, and the request code that serves it
// is the one that serves HTTP/1.
//
// A connection becomes HTTP/2 after its first bytes: over TLS when ALPN
// chose "h2", in cleartext when they are the client preface (prior
// knowledge). The accepted connection's clientConn stays as the holder
// of what the connection is (addresses, listener, transport, PROXY
// header), and its slot's handlers become this file's.

// h2Conn is an HTTP/2 connection's state.
type h2Conn struct {
	w  *worker
	c  *engine.Conn
	cc *clientConn
	tr transport

	// in holds frames read and not yet handled; nil while nothing
	// waits, so that an idle connection holds no buffer.
	in          []byte
	inPos, inLn int
	prefaceDone bool

	// out holds frames waiting for the socket; outOff is the first byte
	// not yet written. Streams write into it while it has room and wait
	// in writers otherwise.
	out     []byte
	outOff  int
	writers []*h2Stream
	// readers are the streams whose bodies grew in this read.
	readers []*h2Stream
	// dataAt is where the newest DATA frame in out starts, dataEnd where
	// it ends and dataStream its stream: while nothing follows it and
	// none of it was written, a stream's next bytes extend it.
	dataAt, dataEnd int
	dataStream      uint32
	// pending is set while the connection is on its worker's list of
	// connections whose frames go out after this round of events.
	pending bool

	dec *h2.Decoder
	// blockIn gathers a header block's fragments until its last.
	blockIn []byte
	// fields are the decoded fields of the block being read, their
	// bytes in fieldBuf; block is a header block being encoded.
	block     []byte
	fields    []h2Field
	fieldBuf  []byte
	fieldSize int
	// hdrStream is the stream whose header block continues in
	// CONTINUATION frames (0 when none), hdrEnd whether that block ends
	// the stream, hdrLen the block's bytes so far.
	hdrStream uint32
	hdrEnd    bool
	hdrLen    int
	hdrRefuse bool

	streams    map[uint32]*h2Stream
	lastStream uint32
	// served counts the streams started (keepalive_requests bounds them);
	// newStreams those started in this read event (rapid reset).
	served     int
	newStreams int
	// discarding counts the streams whose response is complete and
	// whose body is dropped as it comes; discards lists them, oldest
	// first.
	discarding int
	discards   []*h2Stream

	// Flow control: sendWindow is what the peer lets us send on the
	// connection, recvWindow what we let it send; peerWindow is the
	// peer's initial window for new streams and peerFrame its largest
	// frame.
	sendWindow int64
	recvWindow int64
	peerWindow int64
	peerFrame  int

	// skip is what remains of a frame dropped after its header block
	// timed out.
	skip int
	// ourResets are the last streams this side reset, resetNext where
	// the next goes: DATA the client sent before it learnt is ignored.
	ourResets [8]uint32
	resetNext uint8
	// idleSince is when the connection last had no stream in progress;
	// zero while it has some.
	idleSince time.Time
	// goingAway is set once GOAWAY was sent or received: no new streams.
	goingAway bool
	closing   bool
	closed    bool
	// settingsAcked is set once the client acknowledged our SETTINGS,
	// and with them the streams' initial window (the preread size).
	settingsAcked bool
}

// h2Field is a decoded header field, as offsets into fieldBuf.
type h2Field struct {
	name, value [2]int
}

// h2InSize is the size of a connection's frame buffers while it has
// bytes to read or write: a whole frame of the default largest size with
// its header, and room to read more behind it. 32 KiB is the largest
// size Go's allocator serves from its size classes; a byte more makes a
// large object of 40 KiB.
const h2InSize = 32 << 10

// h2BufsKept bounds the frame buffers a worker keeps for reuse: enough
// for the connections busy at once in ordinary load, while the memory a
// burst of busy connections took goes back to the heap once they are
// idle.
const h2BufsKept = 64

// h2OutRoom is how many bytes of frames may wait for the socket before
// streams are held back: a write handler's worth, as a client that does
// not read must not make the connection buffer without end.
const h2OutRoom = bufSize

// errStreamReset is what a stream's Read and Write return once the
// stream was reset or its connection closed.
var errStreamReset = errors.New("stream reset")

// startH2 turns an accepted connection whose first bytes (already read
// into cc.in) start HTTP/2 into an HTTP/2 connection.
func (cc *clientConn) startH2() {
	w := cc.w
	w.idleRemove(cc)
	hc := &h2Conn{w: w, c: cc.c, cc: cc, tr: cc.tr,
		sendWindow: h2.DefaultWindow, recvWindow: h2.DefaultWindow,
		peerWindow: h2.DefaultWindow, peerFrame: h2.DefaultMaxFrameSize}
	hc.dec = h2.NewDecoder()
	if cc.inPos < cc.inLen {
		hc.in = w.getH2Buf()
		hc.inLn = copy(hc.in, cc.in[cc.inPos:cc.inLen])
	}
	cc.w.dropBuf(&cc.in)
	cc.inLen, cc.inPos = 0, 0
	cc.detach()
	c := cc.c
	c.Data = hc
	c.OnRead = onH2Read
	c.OnWrite = onH2Write
	c.OnTimer = onH2Timer
	lc := cc.ln.vhosts.def.Loc
	hc.ensureOut()
	hc.out = h2.AppendSettings(hc.out,
		h2.Setting{ID: h2.SettingMaxConcurrentStreams, Val: uint32(lc.HTTP2MaxConcurrentStreams)},
		h2.Setting{ID: h2.SettingInitialWindowSize, Val: uint32(lc.HTTP2BodyPrereadSize)},
		h2.Setting{ID: h2.SettingMaxFrameSize, Val: h2.MaxFrameSizeLimit})
	// The connection's window is opened wide at once, as nginx does:
	// each stream's window bounds what a stream's body may hold.
	hc.out = h2.AppendWindowUpdate(hc.out, 0, h2.MaxWindow-h2.DefaultWindow)
	hc.recvWindow = h2.MaxWindow
	hc.idleSince = w.loop.Now()
	c.SetTimer(lc.ClientHeaderTimeout)
	hc.process()
	if !hc.closed {
		hc.flush()
	}
}

func onH2Read(c *engine.Conn)  { c.Data.(*h2Conn).readable() }
func onH2Write(c *engine.Conn) { c.Data.(*h2Conn).writable() }
func onH2Timer(c *engine.Conn) { c.Data.(*h2Conn).timedOut() }

// readable reads what arrived and handles the whole frames in it. It
// stops reading while frames wait for the socket: a peer that sends
// without reading (a PING or SETTINGS flood) is held back by its own
// TCP window rather than growing the connection's output.
func (hc *h2Conn) readable() {
	hc.newStreams = 0
	hc.ensureOut()
	for !hc.closed {
		if hc.closing {
			hc.lingerRead()
			return
		}
		if len(hc.out)-hc.outOff >= h2OutRoom {
			if hc.tr.PeerClosed() {
				// The client went while its frames waited: nothing
				// more can reach it.
				hc.close()
				return
			}
			break
		}
		if !hc.tr.Readable() {
			break
		}
		if hc.in == nil {
			hc.in = hc.w.getH2Buf()
			hc.inPos, hc.inLn = 0, 0
		}
		if hc.inLn == len(hc.in) {
			hc.compact()
		}
		n, err := hc.tr.Read(hc.in[hc.inLn:])
		if n > 0 {
			hc.inLn += n
			hc.process()
			continue
		}
		if err == engine.ErrAgain {
			continue
		}
		// The client closed or the connection broke.
		hc.close()
		return
	}
	if hc.closed {
		return
	}
	if hc.in != nil && hc.inPos == hc.inLn {
		hc.w.putH2Buf(hc.in)
		hc.in = nil
		hc.inPos, hc.inLn = 0, 0
	}
	hc.flush()
	hc.trimIdle()
	hc.armTimer()
}

// trimIdle lets go of what only streams in progress need once the
// connection has none: the decoded fields and their bytes, the header
// block buffers, the stream map and the lists of streams. An idle
// connection keeps its HPACK table (the peer's next block may refer to
// it) and little else; the next stream allocates them again. It runs
// only where no header block is being read or written: after a read
// event and after a round's flush.
func (hc *h2Conn) trimIdle() {
	if hc.closed || len(hc.streams) > 0 || hc.hdrStream != 0 {
		return
	}
	hc.fields, hc.fieldBuf, hc.blockIn, hc.block = nil, nil, nil, nil
	hc.streams = nil
	hc.writers, hc.readers, hc.discards = nil, nil, nil
	hc.dec.Trim()
}

// compact moves the unread bytes to the front of the read buffer.
func (hc *h2Conn) compact() {
	n := copy(hc.in, hc.in[hc.inPos:hc.inLn])
	hc.inPos, hc.inLn = 0, n
}

// process handles every whole frame in the read buffer, then lets the
// requests whose bodies grew read what came, all of it at once, as nginx
// runs a body's handler after the read buffer is parsed.
func (hc *h2Conn) process() {
	hc.processFrames()
	for len(hc.readers) > 0 && !hc.closed {
		st := hc.readers[0]
		hc.readers = hc.readers[1:]
		st.readPending = false
		st.notifyRead()
	}
	hc.readers = hc.readers[:0]
}

// processFrames handles every whole frame in the read buffer.
func (hc *h2Conn) processFrames() {
	for hc.in != nil && !hc.closed && !hc.closing {
		buf := hc.in[hc.inPos:hc.inLn]
		if hc.skip > 0 {
			n := min(hc.skip, len(buf))
			hc.skip -= n
			hc.inPos += n
			if len(buf) == n {
				break
			}
			continue
		}
		if !hc.prefaceDone {
			if len(buf) < len(h2.Preface) {
				return
			}
			if string(buf[:len(h2.Preface)]) != h2.Preface {
				hc.logf(logs.Info, "client sent invalid http2 connection preface")
				hc.connError(h2.ProtocolError)
				return
			}
			hc.prefaceDone = true
			hc.inPos += len(h2.Preface)
			continue
		}
		if len(buf) < h2.HeaderLen {
			break
		}
		fh := h2.ParseHeader(buf)
		if fh.Type == h2.TypePushPromise {
			// Wrong whatever its payload: judged on its header, as
			// nginx judges it.
			hc.logf(logs.Info, "client sent PUSH_PROMISE frame")
			hc.connError(h2.ProtocolError)
			return
		}
		end := h2.HeaderLen + int(fh.Length)
		if end > len(hc.in) {
			// Larger than the read buffer: headroom announces nginx's
			// largest frame size, and bounds frames by what they may
			// carry instead.
			if !hc.bigFrame(fh) {
				return
			}
			continue
		}
		if len(buf) < end {
			if fh.Type == h2.TypeHeaders && hc.hdrStream == 0 && !fh.Has(h2.FlagPadded|h2.FlagPriority) &&
				h2.CheckPrefix(buf[h2.HeaderLen:]) != nil {
				hc.logf(logs.Info, "client sent header field with too long length value")
				hc.connError(h2.CompressionError)
				return
			}
			break
		}
		hc.inPos += end
		hc.frame(fh, buf[h2.HeaderLen:end])
		if len(hc.out)-hc.outOff >= h2OutRoom {
			// Output first: what the peer sent waits in the buffer.
			hc.flush()
			if len(hc.out)-hc.outOff >= h2OutRoom {
				return
			}
		}
	}
	if hc.closed || hc.in == nil {
		return
	}
	if hc.inPos == hc.inLn {
		hc.inPos, hc.inLn = 0, 0
	} else if hc.inPos > 0 && len(hc.in)-hc.inPos < h2.HeaderLen+h2.DefaultMaxFrameSize {
		hc.compact()
	}
}

// frame handles one whole frame.
func (hc *h2Conn) frame(fh h2.Header, p []byte) {
	if hc.hdrStream != 0 && (fh.Type != h2.TypeContinuation || fh.StreamID != hc.hdrStream) {
		// Nothing may come between a header block's frames.
		hc.logf(logs.Info, "client sent unexpected frame while expecting CONTINUATION")
		hc.connError(h2.ProtocolError)
		return
	}
	switch fh.Type {
	case h2.TypeData:
		hc.onData(fh, p)
	case h2.TypeHeaders:
		hc.onHeaders(fh, p)
	case h2.TypeContinuation:
		if hc.hdrStream == 0 {
			hc.logf(logs.Info, "client sent unexpected CONTINUATION frame")
			hc.connError(h2.ProtocolError)
			return
		}
		hc.headerFragment(fh, p)
	case h2.TypePriority:
		if fh.StreamID == 0 {
			hc.connError(h2.ProtocolError)
			return
		}
		if len(p) != 5 {
			hc.resetStream(fh.StreamID, h2.FrameSizeError)
			return
		}
		if h2.Uint31(p) == fh.StreamID {
			hc.resetStream(fh.StreamID, h2.ProtocolError)
		}
	case h2.TypeRSTStream:
		hc.onRST(fh, p)
	case h2.TypeSettings:
		hc.onSettings(fh, p)
	case h2.TypePushPromise:
		hc.logf(logs.Info, "client sent PUSH_PROMISE frame")
		hc.connError(h2.ProtocolError)
	case h2.TypePing:
		if fh.StreamID != 0 {
			hc.connError(h2.ProtocolError)
			return
		}
		if len(p) != 8 {
			hc.connError(h2.FrameSizeError)
			return
		}
		if !fh.Has(h2.FlagAck) {
			hc.out = h2.AppendPingAck(hc.out, p)
		}
	case h2.TypeGoAway:
		if fh.StreamID != 0 {
			hc.connError(h2.ProtocolError)
			return
		}
		if len(p) < 8 {
			hc.connError(h2.FrameSizeError)
			return
		}
		hc.goingAway = true
	case h2.TypeWindowUpdate:
		hc.onWindowUpdate(fh, p)
	default:
		// Unknown frame types are ignored (RFC 9113 4.1).
	}
}

// onData takes a stream's body bytes.
func (hc *h2Conn) onData(fh h2.Header, p []byte) {
	if fh.StreamID == 0 {
		hc.logf(logs.Info, "client sent DATA frame with incorrect identifier")
		hc.connError(h2.ProtocolError)
		return
	}
	size := int64(len(p))
	if size > hc.recvWindow {
		hc.logf(logs.Info, "client violated connection flow control: received DATA frame length %d, available window %d", size, hc.recvWindow)
		hc.connError(h2.FlowControlError)
		return
	}
	hc.recvWindow -= size
	if hc.recvWindow < h2.MaxWindow/4 {
		hc.out = h2.AppendWindowUpdate(hc.out, 0, uint32(h2.MaxWindow-hc.recvWindow))
		hc.recvWindow = h2.MaxWindow
	}
	data, ok := unpad(fh, p)
	if !ok {
		hc.connError(h2.ProtocolError)
		return
	}
	st := hc.streams[fh.StreamID]
	if st == nil {
		if fh.StreamID > hc.lastStream {
			// An idle stream.
			hc.connError(h2.ProtocolError)
			return
		}
		if hc.resetByUs(fh.StreamID) {
			// Sent before our RST_STREAM reached the client: ignored
			// (RFC 9113 5.1).
			return
		}
		hc.streamError(fh.StreamID, h2.StreamClosed)
		return
	}
	if st.recvEnd {
		st.fail(h2.StreamClosed)
		return
	}
	if size > st.recvWindow {
		hc.logf(logs.Info, "client violated flow control for stream %d: received DATA frame length %d, available window %d", fh.StreamID, size, st.recvWindow)
		st.fail(h2.FlowControlError)
		return
	}
	st.recvWindow -= size
	// Padding counts against the windows but is not the stream's: it
	// is given back at once.
	if pad := size - int64(len(data)); pad > 0 {
		st.consumed += pad
	}
	st.onData(data, fh.Has(h2.FlagEndStream))
}

// bigFrame makes room for a frame larger than the read buffer when what
// it may carry allows it: DATA within a stream's window, a header block
// within the header limits; an unknown type is skipped as it comes. It
// reports false when the connection ended.
func (hc *h2Conn) bigFrame(fh h2.Header) bool {
	lc := hc.cc.ln.vhosts.def.Loc
	n := int(fh.Length)
	switch fh.Type {
	case h2.TypeData:
		if n > lc.HTTP2BodyPrereadSize {
			hc.logf(logs.Info, "client violated flow control: received DATA frame length %d, available window %d", n, lc.HTTP2BodyPrereadSize)
			hc.connError(h2.FlowControlError)
			return false
		}
	case h2.TypeHeaders, h2.TypeContinuation:
		if n > 2*hc.headerLimit() {
			hc.logf(logs.Info, "client exceeded http2_max_header_size limit")
			hc.connError(h2.EnhanceYourCalm)
			return false
		}
	case h2.TypeSettings, h2.TypePing, h2.TypeGoAway, h2.TypeWindowUpdate,
		h2.TypeRSTStream, h2.TypePriority, h2.TypePushPromise:
		hc.logf(logs.Info, "client sent frame with too large length")
		hc.connError(h2.FrameSizeError)
		return false
	default:
		if hc.hdrStream != 0 {
			hc.connError(h2.ProtocolError)
			return false
		}
		hc.skip = h2.HeaderLen + n
		return true
	}
	big := make([]byte, h2.HeaderLen+n+h2InSize)
	hc.inLn = copy(big, hc.in[hc.inPos:hc.inLn])
	hc.inPos = 0
	hc.w.putH2Buf(hc.in)
	hc.in = big
	return true
}

// unpad returns a DATA or HEADERS payload without its padding.
func unpad(fh h2.Header, p []byte) ([]byte, bool) {
	if !fh.Has(h2.FlagPadded) {
		return p, true
	}
	if len(p) < 1 || int(p[0]) >= len(p) {
		return nil, false
	}
	return p[1 : len(p)-int(p[0])], true
}

// onHeaders starts a header block: a new stream's request head, or the
// trailers of one whose body is coming.
func (hc *h2Conn) onHeaders(fh h2.Header, p []byte) {
	id := fh.StreamID
	if id == 0 || id&1 == 0 {
		hc.logf(logs.Info, "client sent HEADERS frame with incorrect identifier %d", id)
		hc.connError(h2.ProtocolError)
		return
	}
	p, ok := unpad(fh, p)
	if !ok {
		hc.connError(h2.ProtocolError)
		return
	}
	if fh.Has(h2.FlagPriority) {
		if len(p) < 5 {
			hc.connError(h2.FrameSizeError)
			return
		}
		if h2.Uint31(p) == id {
			// A stream that depends on itself.
			hc.streamError(id, h2.ProtocolError)
			hc.skipBlock(fh, p[5:])
			return
		}
		p = p[5:]
	}
	hc.fields = hc.fields[:0]
	hc.fieldBuf = hc.fieldBuf[:0]
	hc.fieldSize = 0
	hc.blockIn = hc.blockIn[:0]
	hc.hdrEnd = fh.Has(h2.FlagEndStream)
	hc.hdrRefuse = false
	hc.hdrLen = 0
	if st := hc.streams[id]; st != nil {
		// Trailers: they must end the stream.
		if st.recvEnd || !hc.hdrEnd {
			hc.connError(h2.ProtocolError)
			return
		}
	} else if id <= hc.lastStream {
		// A stream that was used or skipped: nginx's PROTOCOL_ERROR.
		hc.logf(logs.Info, "client sent HEADERS frame with incorrect identifier %d, the last was %d", id, hc.lastStream)
		hc.connError(h2.ProtocolError)
		return
	} else {
		hc.lastStream = id
		if hc.goingAway {
			hc.hdrRefuse = true
		} else if !hc.settingsAcked && !hc.hdrEnd && hc.cc.ln.vhosts.def.Loc.HTTP2BodyPrereadSize < h2.DefaultWindow {
			// The client may send body within the default window, not
			// knowing yet that this side's is smaller: refused, as
			// nginx refuses it, rather than a flow control error.
			hc.logf(logs.Info, "client sent stream with data before settings were acknowledged")
			hc.hdrRefuse = true
		}
	}
	hc.hdrStream = id
	hc.headerFragment(fh, p)
}

// skipBlock decodes a header block that no stream takes, so that the
// decoder's table stays in step with the peer's.
func (hc *h2Conn) skipBlock(fh h2.Header, p []byte) {
	hc.hdrStream = fh.StreamID
	hc.hdrRefuse = true
	hc.fields = hc.fields[:0]
	hc.fieldBuf = hc.fieldBuf[:0]
	hc.fieldSize = 0
	hc.blockIn = hc.blockIn[:0]
	hc.headerFragment(fh, p)
}

// headerFragment takes one frame's part of a header block, and decodes
// the block on END_HEADERS.
func (hc *h2Conn) headerFragment(fh h2.Header, p []byte) {
	hc.hdrLen += len(p)
	if hc.hdrLen > hc.headerLimit()*2 {
		// A header block spread over endless CONTINUATION frames.
		hc.logf(logs.Info, "client exceeded http2_max_header_size limit")
		hc.connError(h2.EnhanceYourCalm)
		return
	}
	hc.blockIn = append(hc.blockIn, p...)
	if !fh.Has(h2.FlagEndHeaders) {
		return
	}
	err := hc.dec.Decode(hc.blockIn, hc.onField)
	hc.blockIn = hc.blockIn[:0]
	if cap(hc.blockIn) > 4096 {
		hc.blockIn = nil
	}
	switch {
	case err == errFieldTooLarge:
		hc.logf(logs.Info, "client exceeded http2_max_field_size limit")
		hc.connError(h2.EnhanceYourCalm)
		return
	case err == errHeaderTooLarge:
		hc.logf(logs.Info, "client exceeded http2_max_header_size limit")
		hc.connError(h2.EnhanceYourCalm)
		return
	case err == h2.ErrTruncated:
		hc.logf(logs.Info, "client sent header block with incorrect length")
		hc.connError(h2.FrameSizeError)
		return
	case err != nil:
		hc.logf(logs.Info, "client sent invalid header block")
		hc.connError(h2.CompressionError)
		return
	}
	id := hc.hdrStream
	hc.hdrStream = 0
	if hc.hdrRefuse {
		hc.streamError(id, h2.RefusedStream)
		return
	}
	if st := hc.streams[id]; st != nil {
		st.onTrailers()
		return
	}
	hc.openStream(id)
}

// errFieldTooLarge and errHeaderTooLarge stop the decoding of a block
// beyond large_client_header_buffers (which replaced nginx's
// http2_max_field_size and http2_max_header_size).
var (
	errFieldTooLarge  = errors.New("field too large")
	errHeaderTooLarge = errors.New("header too large")
)

// headerLimit is the largest request head accepted, nginx's
// large_client_header_buffers number × size (which replaced
// http2_max_header_size).
func (hc *h2Conn) headerLimit() int {
	lc := hc.cc.ln.vhosts.def.Loc
	return lc.LargeClientHeaderBuffersNum * lc.LargeClientHeaderBuffersSize
}

// onField keeps a decoded field of the block being read: a name or a
// value longer than a large_client_header_buffers buffer, or fields
// longer than all of them together, end the connection as in nginx.
func (hc *h2Conn) onField(name, value []byte) error {
	lc := hc.cc.ln.vhosts.def.Loc
	if len(name) > lc.LargeClientHeaderBuffersSize || len(value) > lc.LargeClientHeaderBuffersSize {
		return errFieldTooLarge
	}
	hc.fieldSize += len(name) + len(value)
	if hc.fieldSize > hc.headerLimit() {
		return errHeaderTooLarge
	}
	var fl h2Field
	fl.name[0] = len(hc.fieldBuf)
	hc.fieldBuf = append(hc.fieldBuf, name...)
	fl.name[1] = len(hc.fieldBuf)
	fl.value[0] = len(hc.fieldBuf)
	hc.fieldBuf = append(hc.fieldBuf, value...)
	fl.value[1] = len(hc.fieldBuf)
	hc.fields = append(hc.fields, fl)
	return nil
}

func (hc *h2Conn) fieldName(f h2Field) []byte  { return hc.fieldBuf[f.name[0]:f.name[1]] }
func (hc *h2Conn) fieldValue(f h2Field) []byte { return hc.fieldBuf[f.value[0]:f.value[1]] }

// onRST ends a stream the client reset.
func (hc *h2Conn) onRST(fh h2.Header, p []byte) {
	if len(p) != 4 {
		hc.connError(h2.FrameSizeError)
		return
	}
	if fh.StreamID == 0 || fh.StreamID > hc.lastStream {
		hc.connError(h2.ProtocolError)
		return
	}
	if st := hc.streams[fh.StreamID]; st != nil {
		st.peerReset()
	}
}

// onSettings applies the peer's settings and acknowledges them.
func (hc *h2Conn) onSettings(fh h2.Header, p []byte) {
	if fh.StreamID != 0 {
		hc.connError(h2.ProtocolError)
		return
	}
	if fh.Has(h2.FlagAck) {
		if len(p) != 0 {
			hc.connError(h2.FrameSizeError)
		}
		hc.settingsAcked = true
		return
	}
	if len(p)%6 != 0 {
		hc.connError(h2.FrameSizeError)
		return
	}
	for i := 0; i < len(p)/6; i++ {
		s := h2.ParseSetting(p, i)
		switch s.ID {
		case h2.SettingEnablePush:
			if s.Val > 1 {
				hc.connError(h2.ProtocolError)
				return
			}
		case h2.SettingInitialWindowSize:
			if s.Val > h2.MaxWindow {
				hc.connError(h2.FlowControlError)
				return
			}
			delta := int64(s.Val) - hc.peerWindow
			hc.peerWindow = int64(s.Val)
			for _, st := range hc.streams {
				st.sendWindow += delta
				if st.sendWindow > h2.MaxWindow {
					hc.connError(h2.FlowControlError)
					return
				}
			}
			if delta > 0 {
				hc.wakeAll()
			}
		case h2.SettingMaxFrameSize:
			if s.Val < h2.DefaultMaxFrameSize || s.Val > h2.MaxFrameSizeLimit {
				hc.connError(h2.ProtocolError)
				return
			}
			hc.peerFrame = int(s.Val)
		}
	}
	hc.out = h2.AppendSettingsAck(hc.out)
}

// onWindowUpdate opens a window for sending.
func (hc *h2Conn) onWindowUpdate(fh h2.Header, p []byte) {
	if len(p) != 4 {
		hc.connError(h2.FrameSizeError)
		return
	}
	incr := int64(h2.Uint31(p))
	if fh.StreamID == 0 {
		if incr == 0 {
			hc.connError(h2.ProtocolError)
			return
		}
		hc.sendWindow += incr
		if hc.sendWindow > h2.MaxWindow {
			hc.connError(h2.FlowControlError)
			return
		}
		hc.wakeAll()
		return
	}
	st := hc.streams[fh.StreamID]
	if st == nil {
		if fh.StreamID > hc.lastStream {
			hc.connError(h2.ProtocolError)
		} else if incr == 0 {
			hc.streamError(fh.StreamID, h2.ProtocolError)
		}
		return
	}
	if incr == 0 {
		st.fail(h2.ProtocolError)
		return
	}
	st.sendWindow += incr
	if st.sendWindow > h2.MaxWindow {
		st.fail(h2.FlowControlError)
		return
	}
	hc.wake(st)
}

// streamError resets a stream that has no request (or no longer has).
func (hc *h2Conn) streamError(id uint32, code h2.ErrCode) {
	hc.ensureOut()
	hc.out = h2.AppendRSTStream(hc.out, id, code)
	hc.ourResets[hc.resetNext%uint8(len(hc.ourResets))] = id
	hc.resetNext++
}

// resetStream resets a stream for an error of the client's: one whose
// request is in progress ends with it.
func (hc *h2Conn) resetStream(id uint32, code h2.ErrCode) {
	if st := hc.streams[id]; st != nil {
		st.fail(code)
		return
	}
	hc.streamError(id, code)
}

// resetByUs reports whether the stream is one of the last this side
// reset, whose frames in flight are ignored.
func (hc *h2Conn) resetByUs(id uint32) bool {
	for _, x := range hc.ourResets {
		if x == id {
			return true
		}
	}
	return false
}

// connError ends the connection with GOAWAY: every stream is reset and
// the frames already queued go out before it.
func (hc *h2Conn) connError(code h2.ErrCode) {
	if hc.closing || hc.closed {
		return
	}
	hc.ensureOut()
	hc.out = h2.AppendGoAway(hc.out, hc.lastStream, code)
	hc.goingAway = true
	hc.resetAll()
	hc.shutdown()
}

// goAway tells the client that no new streams will be taken; the
// connection closes once those in progress end (a reload, or
// keepalive_requests reached).
func (hc *h2Conn) goAway() {
	if hc.goingAway {
		return
	}
	hc.goingAway = true
	hc.ensureOut()
	hc.out = h2.AppendGoAway(hc.out, hc.lastStream, h2.NoError)
	hc.schedule()
	if len(hc.streams) == 0 {
		hc.shutdown()
	}
}

// shutdown writes what waits, ends the write side and reads what the
// client still sends for a while, so that it sees the last frames
// instead of a reset (nginx's lingering close).
func (hc *h2Conn) shutdown() {
	hc.closing = true
	hc.flush()
	if hc.closed {
		return
	}
	if hc.outOff < len(hc.out) {
		// The rest goes out from the write handler, then the stream
		// ends there.
		hc.c.SetTimer(hc.cc.ln.vhosts.def.Loc.SendTimeout)
		return
	}
	hc.finishClose()
}

// finishClose ends the write side once the last frames are out and
// lingers as lingering_close says (lingering_timeout bounds the wait).
func (hc *h2Conn) finishClose() {
	lc := hc.cc.ln.vhosts.def.Loc
	hc.tr.CloseWrite()
	if lc.LingeringClose == conf.LingerOff {
		hc.close()
		return
	}
	hc.c.SetTimer(min(lc.LingeringTimeout, lc.LingeringTime))
	hc.lingerRead()
}

// lingerRead drops what arrives on a closing connection until the
// client closes or the timer ends it.
func (hc *h2Conn) lingerRead() {
	var buf [4096]byte
	for !hc.closed {
		n, err := hc.tr.Read(buf[:])
		if n > 0 {
			continue
		}
		if err != engine.ErrAgain {
			hc.close()
		}
		return
	}
}

// resetAll ends every stream's request, as the connection goes.
func (hc *h2Conn) resetAll() {
	for _, st := range hc.streams {
		st.peerReset()
	}
}

// close ends the connection and every stream on it.
func (hc *h2Conn) close() {
	if hc.closed {
		return
	}
	hc.closed = true
	hc.goingAway = true
	hc.resetAll()
	w := hc.w
	if hc.pending {
		hc.pending = false
		for i, p := range w.h2Pending {
			if p == hc {
				w.h2Pending = append(w.h2Pending[:i], w.h2Pending[i+1:]...)
				break
			}
		}
	}
	if hc.in != nil {
		w.putH2Buf(hc.in)
		hc.in = nil
	}
	if hc.out != nil {
		w.putH2Buf(hc.out)
		hc.out = nil
	}
	hc.writers = nil
	cc := hc.cc
	cc.c.Data = cc
	cc.close()
}

// timedOut is the connection's timer: keepalive_timeout while no stream
// is open, client_header_timeout while a frame is incomplete,
// send_timeout while frames wait for the client, or the end of a
// lingering close.
func (hc *h2Conn) timedOut() {
	if !hc.closing && hc.outOff == len(hc.out) && len(hc.streams) == hc.discarding && (hc.in == nil || hc.inPos == hc.inLn || hc.partialData()) {
		// Idle: go away politely.
		hc.goAway()
		if !hc.closed && !hc.closing {
			hc.shutdown()
		}
		return
	}
	if hc.headerTimedOut() {
		return
	}
	hc.close()
}

// headerTimedOut handles client_header_timeout on a header block that
// did not come whole: as nginx does, its stream is reset with
// PROTOCOL_ERROR and the rest of its frame, when it comes, is skipped,
// while the connection goes on. It reports false when no header block
// was incomplete.
func (hc *h2Conn) headerTimedOut() bool {
	if hc.closing || hc.in == nil {
		return false
	}
	buf := hc.in[hc.inPos:hc.inLn]
	id := hc.hdrStream
	if len(buf) >= h2.HeaderLen {
		fh := h2.ParseHeader(buf)
		switch {
		case fh.Type == h2.TypeHeaders && fh.StreamID > hc.lastStream && fh.StreamID&1 == 1:
			id = fh.StreamID
			hc.lastStream = id
		case fh.Type == h2.TypeContinuation && fh.StreamID == hc.hdrStream:
		default:
			return false
		}
		hc.skip = h2.HeaderLen + int(fh.Length) - len(buf)
		hc.inPos = hc.inLn
	} else if id == 0 || len(buf) > 0 {
		return false
	}
	hc.hdrStream = 0
	hc.logf(logs.Info, "client timed out while reading header of stream %d", id)
	hc.ensureOut()
	hc.streamError(id, h2.ProtocolError)
	hc.flush()
	if !hc.closed {
		hc.armTimer()
	}
	return true
}

// armTimer sets the connection's timer for what it waits for.
func (hc *h2Conn) armTimer() {
	if hc.closing || hc.closed {
		return
	}
	lc := hc.cc.ln.vhosts.def.Loc
	switch {
	case hc.outOff < len(hc.out):
		hc.c.SetTimer(lc.SendTimeout)
	case hc.in != nil && hc.inPos < hc.inLn && !hc.partialData():
		hc.c.SetTimer(lc.ClientHeaderTimeout)
	case len(hc.streams) == hc.discarding && hc.lastStream == 0:
		// The first stream has client_header_timeout to come.
		hc.c.SetTimer(lc.ClientHeaderTimeout)
	case len(hc.streams) == hc.discarding && lc.KeepaliveTimeout == 0:
		// keepalive_timeout 0: the connection ends with its streams.
		hc.goAway()
	case len(hc.streams) == hc.discarding:
		hc.c.SetTimer(lc.KeepaliveTimeout)
	default:
		hc.c.StopTimer()
	}
}

// writable goes on writing once the socket has room.
func (hc *h2Conn) writable() {
	if hc.closed {
		return
	}
	hc.flush()
	if hc.closed {
		return
	}
	if hc.closing {
		if hc.outOff == len(hc.out) {
			hc.finishClose()
		}
		return
	}
	// Input held back while output waited.
	if hc.tr.Readable() || (hc.in != nil && hc.inPos < hc.inLn) {
		hc.process()
		hc.readable()
		return
	}
	hc.armTimer()
}

// flush writes the frames that wait, then lets waiting streams write
// more while there is room.
func (hc *h2Conn) flush() {
	for _, st := range hc.discards {
		if st.rstLate {
			st.rstLate = false
			st.rstSent = true
			hc.ensureOut()
			hc.streamError(st.id, h2.NoError)
		}
	}
	for !hc.closed {
		if done, err := hc.tr.Flush(); !done {
			if err != nil {
				hc.close()
			}
			return
		}
		for hc.outOff < len(hc.out) {
			n, err := hc.tr.Write(hc.out[hc.outOff:])
			if n > 0 {
				hc.outOff += n
				continue
			}
			if err != engine.ErrAgain {
				hc.close()
			}
			return
		}
		hc.out = hc.out[:0]
		hc.outOff = 0
		hc.dataEnd = 0
		if len(hc.writers) == 0 || hc.closing {
			if len(hc.writers) == 0 && hc.out != nil {
				// An idle connection holds no buffer.
				hc.w.putH2Buf(hc.out)
				hc.out = nil
			}
			return
		}
		// Each waiting stream in turn gets to write; one that still
		// cannot goes back to the end of the line.
		ws := hc.writers
		hc.writers = nil
		for i, st := range ws {
			st.waiting = false
			if hc.closed {
				return
			}
			st.writable()
			if len(hc.out) >= h2OutRoom {
				// The rest keep their turn, ahead of any that came
				// to wait meanwhile.
				hc.writers = append(ws[i+1:len(ws):len(ws)], hc.writers...)
				break
			}
		}
		if len(hc.out) == 0 {
			return
		}
	}
}

// schedule has the connection's frames written after this round of
// events, so that what several streams produced in it goes out in one
// write.
func (hc *h2Conn) schedule() {
	if !hc.pending && !hc.closed {
		hc.pending = true
		hc.w.h2Pending = append(hc.w.h2Pending, hc)
	}
}

// flushH2 writes the frames of every connection that has some waiting
// after this round of events.
func (w *worker) flushH2() {
	for len(w.h2Pending) > 0 {
		list := w.h2Pending
		w.h2Pending = nil
		for _, hc := range list {
			hc.pending = false
			if hc.closed {
				continue
			}
			hc.flush()
			if !hc.closed && hc.closing && hc.outOff == len(hc.out) {
				hc.finishClose()
				continue
			}
			hc.trimIdle()
			hc.armTimer()
		}
	}
}

// room is how many bytes of frames the connection takes now.
func (hc *h2Conn) room() int { return h2OutRoom - len(hc.out) }

// waitRoom puts a stream in line for room in the output.
func (hc *h2Conn) waitRoom(st *h2Stream) {
	if !st.waiting {
		st.waiting = true
		hc.writers = append(hc.writers, st)
	}
}

// wake lets a stream that waited for its window write.
func (hc *h2Conn) wake(st *h2Stream) {
	if st.blocked {
		st.blocked = false
		hc.waitRoom(st)
		hc.schedule()
	}
}

// wakeAll lets every stream that waited for a window write.
func (hc *h2Conn) wakeAll() {
	for _, st := range hc.streams {
		hc.wake(st)
	}
}

// endStream forgets a stream whose request is over; a connection going
// away closes after its last.
func (hc *h2Conn) endStream(st *h2Stream) {
	if hc.streams[st.id] != st {
		return
	}
	delete(hc.streams, st.id)
	if st.discard {
		st.discard = false
		hc.discarding--
		for i, x := range hc.discards {
			if x == st {
				hc.discards = append(hc.discards[:i], hc.discards[i+1:]...)
				break
			}
		}
	}
	if st.waiting {
		for i, x := range hc.writers {
			if x == st {
				hc.writers = append(hc.writers[:i], hc.writers[i+1:]...)
				break
			}
		}
		st.waiting = false
	}
	if hc.closed {
		return
	}
	hc.noteIdle()
	hc.schedule()
	if hc.goingAway && len(hc.streams) == 0 && !hc.closing {
		hc.shutdown()
	}
}

// headerValue finds a decoded field by its (lower-case) name.
func (hc *h2Conn) headerValue(name string) ([]byte, bool) {
	for _, f := range hc.fields {
		if bytes.Equal(hc.fieldName(f), []byte(name)) {
			return hc.fieldValue(f), true
		}
	}
	return nil, false
}

func (w *worker) getH2Buf() []byte {
	if n := len(w.h2Bufs); n > 0 {
		b := w.h2Bufs[n-1]
		w.h2Bufs = w.h2Bufs[:n-1]
		return b
	}
	return make([]byte, h2InSize)
}

func (w *worker) putH2Buf(b []byte) {
	if cap(b) == h2InSize && len(w.h2Bufs) < h2BufsKept {
		w.h2Bufs = append(w.h2Bufs, b[:h2InSize])
	}
}

// ensureOut gives the connection a buffer for frames to write.
func (hc *h2Conn) ensureOut() {
	if hc.out == nil {
		hc.out = hc.w.getH2Buf()[:0]
		hc.outOff = 0
		hc.dataEnd = 0
	}
}

// logf writes a line about the connection to the error log.
func (hc *h2Conn) logf(level logs.Level, format string, args ...any) {
	hc.cc.logConn(level, fmt.Sprintf(format, args...))
}

// h2Start says whether a connection's first bytes start HTTP/2.
type h2Verdict uint8

const (
	h2No h2Verdict = iota
	h2Yes
	// h2Maybe: the bytes so far are the start of the preface, or of a
	// line that may turn out to be an HTTP/1 request line.
	h2Maybe
	// h2Bad: neither the preface nor an HTTP/1 request line.
	h2Bad
)

// h2Start judges the first bytes of a connection to an address that
// listens with http2: over TLS ALPN decided; in cleartext the client
// preface says HTTP/2 (prior knowledge), and a request line that ends
// in HTTP/1.0 or HTTP/1.1 is HTTP/1, served as such rather than closed
// as nginx 1.22 closes it (nginx 1.25 serves both too). Anything else is
// a bad preface, and the connection is closed as nginx closes it.
func (cc *clientConn) h2Start() h2Verdict {
	if t, ok := cc.tr.(*tlsTransport); ok {
		// Plain bytes to a TLS port are answered 497 whatever they
		// are: no HTTP/2 without TLS there.
		if !t.plain() && t.state == tlsOpen && t.conn.ConnectionState().NegotiatedProtocol == "h2" {
			return h2Yes
		}
		return h2No
	}
	buf := cc.in[cc.inPos:cc.inLen]
	n := min(len(buf), len(h2.Preface))
	if string(buf[:n]) != h2.Preface[:n] {
		trimmed := bytes.TrimLeft(buf, "\r\n")
		if bytes.IndexByte(trimmed, '\n') < 0 {
			if len(buf) < cc.headLimit() {
				return h2Maybe
			}
			return h2No
		}
		line := firstLine(trimmed)
		if bytes.HasSuffix(line, []byte(" HTTP/1.1")) || bytes.HasSuffix(line, []byte(" HTTP/1.0")) {
			return h2No
		}
		return h2Bad
	}
	if n < len(h2.Preface) {
		return h2Maybe
	}
	return h2Yes
}

// openData reports whether the newest frame in the output is a DATA
// frame of the stream that may still grow, and its payload's length.
func (hc *h2Conn) openData(id uint32) (int, bool) {
	if hc.dataStream != id || hc.dataEnd != len(hc.out) || hc.dataAt < hc.outOff || hc.dataEnd == 0 {
		return 0, false
	}
	if hc.out[hc.dataAt+4]&h2.FlagEndStream != 0 {
		return 0, false
	}
	return hc.dataEnd - hc.dataAt - h2.HeaderLen, true
}

// growData adds k bytes to the length of the newest DATA frame.
func (hc *h2Conn) growData(k int) {
	f := hc.out[hc.dataAt:]
	n := int(f[0])<<16 | int(f[1])<<8 | int(f[2]) + k
	f[0], f[1], f[2] = byte(n>>16), byte(n>>8), byte(n)
}

// partialData reports whether the incomplete frame in the read buffer
// is DATA: the request's client_body_timeout bounds the wait while its
// stream is open, and keepalive_timeout once no request is left, as
// for a connection between requests.
func (hc *h2Conn) partialData() bool {
	buf := hc.in[hc.inPos:hc.inLn]
	if len(buf) < h2.HeaderLen {
		return false
	}
	fh := h2.ParseHeader(buf)
	return fh.Type == h2.TypeData && fh.StreamID != 0 && fh.StreamID <= hc.lastStream
}

// keepDiscarding keeps a stream whose response is complete while the
// rest of its body may come, so that what comes is still judged; the
// oldest such stream is forgotten beyond http2_max_concurrent_streams of
// them, so that a client that never ends its bodies costs no more.
func (hc *h2Conn) keepDiscarding(st *h2Stream) {
	st.discard = true
	hc.discarding++
	hc.discards = append(hc.discards, st)
	hc.noteIdle()
	if len(hc.discards) > hc.cc.ln.vhosts.def.Loc.HTTP2MaxConcurrentStreams {
		old := hc.discards[0]
		hc.discards = hc.discards[1:]
		hc.endStream(old)
	}
}

// idle reports whether the connection has no stream in progress.
func (hc *h2Conn) idle() bool {
	return !hc.closed && !hc.closing && len(hc.streams) == hc.discarding && !hc.idleSince.IsZero()
}

// noteIdle records when the connection's last stream in progress ended:
// under pressure the longest idle go first.
func (hc *h2Conn) noteIdle() {
	if len(hc.streams) == hc.discarding && hc.idleSince.IsZero() {
		hc.idleSince = hc.w.loop.Now()
	}
}

// shedClose closes an idle connection whose slot a waiting client needs:
// GOAWAY, as much of it as the socket takes now, and the slot is freed at
// once rather than after a lingering close.
func (hc *h2Conn) shedClose() {
	hc.ensureOut()
	hc.out = h2.AppendGoAway(hc.out, hc.lastStream, h2.NoError)
	hc.goingAway = true
	hc.flush()
	hc.close()
}
