package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"headroom/internal/engine"
	"headroom/internal/h2"
)

// These tests speak HTTP/2 to a listener with "http2" through the bench's
// in-memory clients: the test writes frames into the connection and reads
// back the frames the server wrote. Frames are laid out and read here by
// the test itself (RFC 9113 4.1), header blocks encoded and decoded with
// golang.org/x/net/http2/hpack, so that the server's own framing code is
// not what checks it. The client keeps both directions' flow-control
// windows and fails the test when the server sends beyond its window.

// h2Frame is a frame the server sent.
type h2Frame struct {
	typ     h2.Type
	flags   uint8
	stream  uint32
	payload []byte
	// fields is a HEADERS frame's decoded header block, including the
	// CONTINUATION frames that ended it.
	fields []hpack.HeaderField
}

func (f h2Frame) has(flag uint8) bool { return f.flags&flag != 0 }

// String describes the frame for failure messages.
func (f h2Frame) String() string {
	names := map[h2.Type]string{h2.TypeData: "DATA", h2.TypeHeaders: "HEADERS", h2.TypePriority: "PRIORITY",
		h2.TypeRSTStream: "RST_STREAM", h2.TypeSettings: "SETTINGS", h2.TypePushPromise: "PUSH_PROMISE",
		h2.TypePing: "PING", h2.TypeGoAway: "GOAWAY", h2.TypeWindowUpdate: "WINDOW_UPDATE",
		h2.TypeContinuation: "CONTINUATION"}
	s := fmt.Sprintf("%s stream=%d flags=%#x len=%d", names[f.typ], f.stream, f.flags, len(f.payload))
	switch f.typ {
	case h2.TypeRSTStream:
		if len(f.payload) == 4 {
			s += " " + h2.ErrCode(binary.BigEndian.Uint32(f.payload)).String()
		}
	case h2.TypeGoAway:
		if len(f.payload) >= 8 {
			s += fmt.Sprintf(" last=%d %s", binary.BigEndian.Uint32(f.payload)&0x7fffffff, h2.ErrCode(binary.BigEndian.Uint32(f.payload[4:])))
		}
	case h2.TypeWindowUpdate:
		if len(f.payload) == 4 {
			s += fmt.Sprintf(" incr=%d", binary.BigEndian.Uint32(f.payload)&0x7fffffff)
		}
	case h2.TypeHeaders:
		s += fmt.Sprintf(" %v", f.fields)
	case h2.TypeData:
		s += fmt.Sprintf(" %.40q", f.payload)
	}
	return s
}

// h2Client is an HTTP/2 client over a bench connection.
type h2Client struct {
	t *testing.T
	m *memConn

	enc    *hpack.Encoder
	encBuf bytes.Buffer
	dec    *hpack.Decoder

	// parsed is how many bytes of the server's output were read as
	// frames; frames are those frames in order. block gathers a header
	// block that continues in CONTINUATION frames; blockAt is its
	// HEADERS frame's index.
	parsed  int
	frames  []h2Frame
	block   []byte
	blockAt int
	// closed is set once the server closed the connection, shut once
	// it ended its sending side or closed it.
	closed bool
	shut   bool

	// recvConn and recvStream are what the server may still send on the
	// connection and on each stream; recvInit is the client's initial
	// stream window.
	recvConn   int64
	recvStream map[uint32]int64
	recvInit   int64
	// sendConn and sendStream are what the client may still send;
	// sendInit is the server's initial stream window.
	sendConn   int64
	sendStream map[uint32]int64
	sendInit   int64
}

// h2Setting is a setting the client sends.
type h2Setting struct {
	id  uint16
	val uint32
}

// newH2Bench starts a bench whose one server listens with http2 and has
// the given directives; extra is more http-level text (upstreams).
func newH2Bench(t *testing.T, server string, extra ...string) *bench {
	t.Helper()
	addr := freeAddr(t)
	return newBench(t, strings.Join(extra, "\n")+"\nserver { listen "+addr+" http2; "+server+" }")
}

// dialH2 connects a client that sends the preface and a SETTINGS frame
// with the given settings, and waits for the server's SETTINGS.
func dialH2(b *bench, settings ...h2Setting) *h2Client {
	b.t.Helper()
	c := &h2Client{t: b.t, m: b.connect(),
		recvConn: h2.DefaultWindow, recvStream: map[uint32]int64{}, recvInit: h2.DefaultWindow,
		sendConn: h2.DefaultWindow, sendStream: map[uint32]int64{}, sendInit: h2.DefaultWindow}
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.dec = hpack.NewDecoder(4096, nil)
	c.sendBytes(append([]byte(h2.Preface), c.settingsFrame(settings...)...))
	c.waitFor("the server's SETTINGS", func() bool {
		return len(c.frames) > 0
	})
	return c
}

// h2RawFrame lays out a frame.
func h2RawFrame(typ h2.Type, flags uint8, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), byte(typ), flags}
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, payload...)
}

// settingsFrame lays out a SETTINGS frame and applies its initial window
// to the client's receive windows, as the server will.
func (c *h2Client) settingsFrame(settings ...h2Setting) []byte {
	var p []byte
	for _, s := range settings {
		p = binary.BigEndian.AppendUint16(p, s.id)
		p = binary.BigEndian.AppendUint32(p, s.val)
		if s.id == h2.SettingInitialWindowSize {
			delta := int64(s.val) - c.recvInit
			c.recvInit = int64(s.val)
			for id := range c.recvStream {
				c.recvStream[id] += delta
			}
		}
	}
	return h2RawFrame(h2.TypeSettings, 0, 0, p)
}

// headersFrame encodes fields (name, value, name, value...) as one
// HEADERS frame with END_HEADERS, and opens the stream's windows.
func (c *h2Client) headersFrame(stream uint32, endStream bool, fields ...string) []byte {
	c.encBuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	flags := uint8(h2.FlagEndHeaders)
	if endStream {
		flags |= h2.FlagEndStream
	}
	if _, ok := c.recvStream[stream]; !ok {
		c.recvStream[stream] = c.recvInit
		c.sendStream[stream] = c.sendInit
	}
	return h2RawFrame(h2.TypeHeaders, flags, stream, bytes.Clone(c.encBuf.Bytes()))
}

// get is a HEADERS frame for a GET (or another method without a body)
// of path.
func (c *h2Client) get(stream uint32, method, path string) []byte {
	return c.headersFrame(stream, true, ":method", method, ":scheme", "http", ":path", path, ":authority", "localhost")
}

// windowUpdate lays out a WINDOW_UPDATE frame and opens the client's
// receive window by as much.
func (c *h2Client) windowUpdate(stream uint32, incr uint32) []byte {
	if stream == 0 {
		c.recvConn += int64(incr)
	} else {
		c.recvStream[stream] += int64(incr)
	}
	p := binary.BigEndian.AppendUint32(nil, incr)
	return h2RawFrame(h2.TypeWindowUpdate, 0, stream, p)
}

// rstFrame lays out a RST_STREAM frame.
func rstFrame(stream uint32, code h2.ErrCode) []byte {
	return h2RawFrame(h2.TypeRSTStream, 0, stream, binary.BigEndian.AppendUint32(nil, uint32(code)))
}

// send delivers frames to the server in one piece.
func (c *h2Client) send(frames ...[]byte) {
	c.sendBytes(bytes.Join(frames, nil))
}

// sendBytes delivers bytes from the client and lets the server read
// them, as memConn.send does for a connection that is still HTTP/1: the
// read handler runs, then the write handler.
func (c *h2Client) sendBytes(p []byte) {
	m := c.m
	m.b.do(func() {
		m.mt.in = append(m.mt.in, p...)
		if c.live() {
			m.c.OnRead(m.c)
		}
		if c.live() && m.mt.room != 0 && !m.mt.shut {
			m.c.OnWrite(m.c)
		}
	})
}

// live reports whether the server still holds the connection, which is
// the accepted clientConn's or, once HTTP/2, the h2Conn made of it. Run
// on the loop.
func (c *h2Client) live() bool {
	m := c.m
	if m.mt.closed {
		return false
	}
	switch d := m.c.Data.(type) {
	case *clientConn:
		return d == m.cc
	case *h2Conn:
		return d.cc == m.cc
	}
	return false
}

// state returns what the client has received, whether the server has
// closed the connection and whether it has ended its sending side.
func (c *h2Client) state() (out []byte, closed, shut bool) {
	m := c.m
	m.b.do(func() {
		out = bytes.Clone(m.mt.out)
		closed = !c.live()
		shut = m.mt.shut || closed
	})
	return out, closed, shut
}

// closeConn closes the client's side of the connection and waits until
// the server has closed it, so that a test on a shared bench leaves no
// connection behind. It may run deferred after a failure: it reports, it
// does not stop the test.
func (c *h2Client) closeConn() {
	c.t.Helper()
	m := c.m
	m.b.do(func() {
		m.mt.eof = true
		if c.live() {
			m.c.OnRead(m.c)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.poll(); !c.closed; c.poll() {
		if time.Now().After(deadline) {
			c.t.Errorf("10 s after the client closed, the server has not closed the connection; it sent:\n%s", c.dump())
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitEnded waits until the server has ended its sending side of the
// connection or closed it.
func (c *h2Client) waitEnded() {
	c.t.Helper()
	c.waitFor("the server to end the connection", func() bool { return c.shut })
}

// sendData sends a stream's body in DATA frames within the windows the
// server gives, waiting for its WINDOW_UPDATE frames when they are
// spent; the last frame carries END_STREAM when end is set.
func (c *h2Client) sendData(stream uint32, data []byte, end bool) {
	c.t.Helper()
	for {
		k := min(int64(len(data)), h2.DefaultMaxFrameSize, c.sendConn, c.sendStream[stream])
		if k == 0 && len(data) > 0 {
			c.waitFor(fmt.Sprintf("a window to send the rest of stream %d's body (%d bytes)", stream, len(data)), func() bool {
				return c.sendConn > 0 && c.sendStream[stream] > 0
			})
			continue
		}
		var flags uint8
		if end && int(k) == len(data) {
			flags = h2.FlagEndStream
		}
		c.sendConn -= k
		c.sendStream[stream] -= k
		c.send(h2RawFrame(h2.TypeData, flags, stream, data[:k]))
		data = data[k:]
		if len(data) == 0 {
			return
		}
	}
}

// poll reads the frames the server wrote since the last poll.
func (c *h2Client) poll() {
	c.t.Helper()
	out, closed, shut := c.state()
	c.closed, c.shut = closed, shut
	for {
		rest := out[c.parsed:]
		if len(rest) < 9 {
			break
		}
		n := int(rest[0])<<16 | int(rest[1])<<8 | int(rest[2])
		if len(rest) < 9+n {
			break
		}
		f := h2Frame{typ: h2.Type(rest[3]), flags: rest[4], stream: binary.BigEndian.Uint32(rest[5:9]) & 0x7fffffff,
			payload: rest[9 : 9+n]}
		c.parsed += 9 + n
		c.take(f)
	}
}

// take checks a frame the server sent against what the client allowed
// and keeps it.
func (c *h2Client) take(f h2Frame) {
	c.t.Helper()
	if len(f.payload) > h2.DefaultMaxFrameSize {
		c.t.Errorf("the server sent a frame of %d bytes, over the client's SETTINGS_MAX_FRAME_SIZE: %v", len(f.payload), f)
	}
	if c.block != nil && (f.typ != h2.TypeContinuation || f.stream != c.frames[c.blockAt].stream) {
		c.t.Errorf("the server sent %v inside a header block", f)
	}
	switch f.typ {
	case h2.TypeHeaders:
		p := f.payload
		if f.has(h2.FlagPadded) && len(p) > 0 {
			p = p[1 : len(p)-int(p[0])]
		}
		if f.has(h2.FlagPriority) {
			p = p[5:]
		}
		c.block = append([]byte{}, p...)
		c.blockAt = len(c.frames)
		c.frames = append(c.frames, f)
		if f.has(h2.FlagEndHeaders) {
			c.endBlock()
		}
		return
	case h2.TypeContinuation:
		if c.block == nil {
			c.t.Errorf("the server sent CONTINUATION without HEADERS: %v", f)
			break
		}
		c.block = append(c.block, f.payload...)
		c.frames = append(c.frames, f)
		if f.has(h2.FlagEndHeaders) {
			c.endBlock()
		}
		return
	case h2.TypeData:
		n := int64(len(f.payload))
		if _, ok := c.recvStream[f.stream]; !ok {
			// A stream the test opened with a frame of its own.
			c.recvStream[f.stream] = c.recvInit
		}
		c.recvConn -= n
		c.recvStream[f.stream] -= n
		if c.recvConn < 0 || c.recvStream[f.stream] < 0 {
			c.t.Errorf("the server sent DATA beyond the client's window: %v; the connection's window is now %d, the stream's %d",
				f, c.recvConn, c.recvStream[f.stream])
		}
	case h2.TypeSettings:
		if f.has(h2.FlagAck) {
			break
		}
		for p := f.payload; len(p) >= 6; p = p[6:] {
			if binary.BigEndian.Uint16(p) == h2.SettingInitialWindowSize {
				v := int64(binary.BigEndian.Uint32(p[2:]))
				for id := range c.sendStream {
					c.sendStream[id] += v - c.sendInit
				}
				c.sendInit = v
			}
		}
	case h2.TypeWindowUpdate:
		if len(f.payload) == 4 {
			incr := int64(binary.BigEndian.Uint32(f.payload) & 0x7fffffff)
			if f.stream == 0 {
				c.sendConn += incr
			} else {
				c.sendStream[f.stream] += incr
			}
		}
	}
	c.frames = append(c.frames, f)
}

// endBlock decodes a header block the server ended.
func (c *h2Client) endBlock() {
	c.t.Helper()
	fields, err := c.dec.DecodeFull(c.block)
	if err != nil {
		c.t.Errorf("the server sent a header block that does not decode: %v", err)
	}
	c.frames[c.blockAt].fields = fields
	c.block = nil
}

// waitFor polls the server's frames until cond holds; it fails the test
// after 10 s, listing the frames. It is for waiting only.
func (c *h2Client) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.poll()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waited 10 s for %s; the server sent:\n%s", what, c.dump())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dump lists the frames received, for failure messages.
func (c *h2Client) dump() string {
	var b strings.Builder
	for _, f := range c.frames {
		fmt.Fprintf(&b, "\t%v\n", f)
	}
	if c.closed {
		b.WriteString("\t(connection closed)\n")
	} else if c.shut {
		b.WriteString("\t(the server ended its side)\n")
	}
	return b.String()
}

// streamFrames returns the frames of a stream.
func (c *h2Client) streamFrames(stream uint32) []h2Frame {
	var out []h2Frame
	for _, f := range c.frames {
		if f.stream == stream {
			out = append(out, f)
		}
	}
	return out
}

// ended reports whether the server ended a stream: END_STREAM on its
// HEADERS or DATA, or RST_STREAM.
func (c *h2Client) ended(stream uint32) bool {
	for _, f := range c.streamFrames(stream) {
		if f.typ == h2.TypeRSTStream || (f.typ == h2.TypeHeaders || f.typ == h2.TypeData) && f.has(h2.FlagEndStream) {
			return true
		}
	}
	return false
}

// h2Response is what the server sent on a stream.
type h2Response struct {
	fields    []hpack.HeaderField
	body      []byte
	dataCount int
	// headersEnd is set when the HEADERS frame ended the stream.
	headersEnd bool
	// reset is set when the server reset the stream, code is the first
	// RST_STREAM's error code.
	reset bool
	code  h2.ErrCode
}

// get returns a response field's value.
func (r *h2Response) get(name string) string {
	for _, f := range r.fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// response waits until the server ends a stream and returns what it
// sent on it.
func (c *h2Client) response(stream uint32) *h2Response {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("the end of stream %d", stream), func() bool { return c.ended(stream) })
	return c.collect(stream)
}

// collect returns what the server sent on a stream so far.
func (c *h2Client) collect(stream uint32) *h2Response {
	r := &h2Response{}
	for _, f := range c.streamFrames(stream) {
		switch f.typ {
		case h2.TypeHeaders:
			// A final response's fields replace an interim one's.
			if r.fields == nil || strings.HasPrefix(r.get(":status"), "1") {
				r.fields = f.fields
			}
			r.headersEnd = f.has(h2.FlagEndStream)
		case h2.TypeData:
			r.body = append(r.body, f.payload...)
			r.dataCount++
		case h2.TypeRSTStream:
			if !r.reset {
				r.reset = true
				r.code = h2.ErrCode(binary.BigEndian.Uint32(f.payload))
			}
		}
	}
	return r
}

// goAway waits for the server's GOAWAY and returns its error code.
func (c *h2Client) goAway() h2.ErrCode {
	c.t.Helper()
	var code h2.ErrCode
	c.waitFor("GOAWAY", func() bool {
		for _, f := range c.frames {
			if f.typ == h2.TypeGoAway {
				code = h2.ErrCode(binary.BigEndian.Uint32(f.payload[4:]))
				return true
			}
		}
		return false
	})
	return code
}

// count returns how many frames of a type the server sent.
func (c *h2Client) count(typ h2.Type) int {
	n := 0
	for _, f := range c.frames {
		if f.typ == typ {
			n++
		}
	}
	return n
}

// roundTrip sends a request without a body and returns its response.
func (c *h2Client) roundTrip(stream uint32, method, path string) *h2Response {
	c.t.Helper()
	c.send(c.get(stream, method, path))
	return c.response(stream)
}

// TestH2Get checks a GET answered by return: the server's first frames
// are its SETTINGS (nginx's: 128 streams, a 64k window, frames of up to
// 16777215 bytes) and the connection's WINDOW_UPDATE, it acknowledges
// the client's SETTINGS, and the response is a HEADERS frame with
// :status and content-length followed by DATA that ends the stream.
func TestH2Get(t *testing.T) {
	b := newH2Bench(t, `location / { return 200 "hello, h2"; }`)
	c := dialH2(b)
	r := c.roundTrip(1, "GET", "/")
	if len(c.frames) < 2 {
		t.Fatalf("frames:\n%s", c.dump())
	}
	first := c.frames[0]
	if first.typ != h2.TypeSettings || first.has(h2.FlagAck) || first.stream != 0 || len(first.payload)%6 != 0 {
		t.Fatalf("the first frame is %v, want the server's SETTINGS", first)
	}
	settings := map[uint16]uint32{}
	for p := first.payload; len(p) >= 6; p = p[6:] {
		settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
	}
	if v, ok := settings[h2.SettingMaxConcurrentStreams]; !ok || v != 128 {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d (sent %v), want 128", v, ok)
	}
	if v, ok := settings[h2.SettingInitialWindowSize]; !ok || v != 65536 {
		t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE %d (sent %v), want 65536", v, ok)
	}
	// nginx's: frames are bounded by what they may carry instead (see
	// TestH2LargeFrames).
	if v, ok := settings[h2.SettingMaxFrameSize]; !ok || v != 16777215 {
		t.Errorf("SETTINGS_MAX_FRAME_SIZE %d (sent %v), want 16777215", v, ok)
	}
	second := c.frames[1]
	if second.typ != h2.TypeWindowUpdate || second.stream != 0 ||
		binary.BigEndian.Uint32(second.payload) != h2.MaxWindow-h2.DefaultWindow {
		t.Errorf("the second frame is %v, want the connection's WINDOW_UPDATE to 2^31-1", second)
	}
	acks := 0
	for _, f := range c.frames {
		if f.typ == h2.TypeSettings && f.has(h2.FlagAck) {
			acks++
			if len(f.payload) != 0 {
				t.Errorf("SETTINGS ack with a payload: %v", f)
			}
		}
	}
	if acks != 1 {
		t.Errorf("%d SETTINGS acks for the client's one SETTINGS", acks)
	}

	if r.reset || r.headersEnd {
		t.Fatalf("stream 1: reset %v, headers end %v; frames:\n%s", r.reset, r.headersEnd, c.dump())
	}
	if got := r.get(":status"); got != "200" {
		t.Errorf(":status %q, want 200", got)
	}
	if got := r.get("content-length"); got != "9" {
		t.Errorf("content-length %q, want 9", got)
	}
	if len(r.fields) == 0 || r.fields[0].Name != ":status" {
		t.Errorf("the first field is %v, want :status", r.fields[0])
	}
	for _, f := range r.fields {
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("field name %q is not lower case", f.Name)
		}
		if f.Name == "connection" || f.Name == "keep-alive" || f.Name == "transfer-encoding" {
			t.Errorf("connection-specific field %v in an HTTP/2 response", f)
		}
	}
	if string(r.body) != "hello, h2" {
		t.Errorf("body %q", r.body)
	}
	frames := c.streamFrames(1)
	last := frames[len(frames)-1]
	if last.typ != h2.TypeData || !last.has(h2.FlagEndStream) {
		t.Errorf("the stream's last frame is %v, want DATA with END_STREAM", last)
	}

	// The connection serves another stream.
	r = c.roundTrip(3, "GET", "/again")
	if r.get(":status") != "200" || string(r.body) != "hello, h2" {
		t.Errorf("stream 3: %v %q", r.fields, r.body)
	}
}

// TestH2SettingsAndPing checks that each SETTINGS from the client is
// acknowledged, that a PING is answered with an ACK carrying its data,
// and that a PING that is itself an ACK is not answered.
func TestH2SettingsAndPing(t *testing.T) {
	b := newH2Bench(t, `location / { return 204; }`)
	c := dialH2(b, h2Setting{h2.SettingHeaderTableSize, 0}, h2Setting{h2.SettingEnablePush, 0},
		h2Setting{h2.SettingMaxFrameSize, 1 << 20}, h2Setting{0xabc, 7})
	c.waitFor("the SETTINGS ack", func() bool { return c.count(h2.TypeSettings) == 2 })

	c.send(c.settingsFrame(h2Setting{h2.SettingInitialWindowSize, 100000}),
		h2RawFrame(h2.TypePing, 0, 0, []byte("8 bytes!")),
		h2RawFrame(h2.TypePing, h2.FlagAck, 0, []byte("ackack!!")),
		h2RawFrame(h2.TypePing, 0, 0, []byte{0, 1, 2, 3, 4, 5, 6, 7}))
	c.waitFor("two PING acks", func() bool { return c.count(h2.TypePing) >= 2 })
	// A request after them shows that everything before was handled.
	r := c.roundTrip(1, "GET", "/")
	if r.get(":status") != "204" || !r.headersEnd {
		t.Errorf("stream 1: %v, headers end %v", r.fields, r.headersEnd)
	}
	var pings [][]byte
	acks := 0
	for _, f := range c.frames {
		switch {
		case f.typ == h2.TypePing:
			if !f.has(h2.FlagAck) || f.stream != 0 {
				t.Errorf("the server sent %v, want a PING ack on stream 0", f)
			}
			pings = append(pings, f.payload)
		case f.typ == h2.TypeSettings && f.has(h2.FlagAck):
			acks++
		}
	}
	if len(pings) != 2 || string(pings[0]) != "8 bytes!" || !bytes.Equal(pings[1], []byte{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("PING acks carry %q, want the two PINGs' data in order", pings)
	}
	if acks != 2 {
		t.Errorf("%d SETTINGS acks, want 2", acks)
	}
}

// bodyEcho is an upstream that answers with the length and the SHA-256
// of the body it received.
func bodyEcho(t *testing.T) string {
	return goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %x", len(body), sha256.Sum256(body))
	})
}

// TestH2PostBody checks that a request body, with a content-length or
// without, small or larger than the stream's window (so that it comes
// only as the server opens the window), reaches a proxied upstream
// whole.
func TestH2PostBody(t *testing.T) {
	up := bodyEcho(t)
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)
	tests := []struct {
		name       string
		size       int
		withLength bool
		endOnHead  bool
		// onePiece sends the body's frames with HEADERS, in one read.
		onePiece bool
	}{
		{"small with content-length", 11, true, false, false},
		{"small without content-length", 11, false, false, false},
		{"over the window with content-length", 200000, true, false, false},
		{"over the window without content-length", 200000, false, false, false},
		{"one frame's worth", 16384, false, false, false},
		{"no body, END_STREAM on HEADERS", 0, false, true, false},
		{"empty DATA with END_STREAM", 0, false, false, false},
		{"with content-length, in one piece with HEADERS", 10, true, false, true},
		{"without content-length, in one piece with HEADERS", 10, false, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			body := []byte(patternBody(tc.size))
			fields := []string{":method", "POST", ":scheme", "http", ":path", "/upload", ":authority", "localhost"}
			if tc.withLength {
				fields = append(fields, "content-length", fmt.Sprint(tc.size))
			}
			switch {
			case tc.onePiece:
				c.send(c.headersFrame(1, false, fields...),
					h2RawFrame(h2.TypeData, 0, 1, body[:tc.size/2]),
					h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, body[tc.size/2:]))
			case tc.endOnHead:
				c.send(c.headersFrame(1, true, fields...))
			default:
				c.send(c.headersFrame(1, false, fields...))
				c.sendData(1, body, true)
			}
			r := c.response(1)
			want := fmt.Sprintf("%d %x", tc.size, sha256.Sum256(body))
			if r.reset || r.get(":status") != "200" || string(r.body) != want {
				t.Errorf("status %q, reset %v (%v), body %q; want 200 and %q\nframes:\n%s",
					r.get(":status"), r.reset, r.code, r.body, want, c.dump())
			}
		})
	}
}

// TestH2Head checks that a HEAD response is a HEADERS frame that ends the
// stream, with no DATA, whether the response is the server's own or a
// proxied one.
func TestH2Head(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method != "HEAD" {
			w.Write([]byte(patternBody(1000)))
		}
	})
	b := newH2Bench(t, `location / { return 200 "a body for GET"; } location /up { proxy_pass http://`+up+`; }`)
	c := dialH2(b)
	for i, path := range []string{"/", "/up"} {
		id := uint32(2*i + 1)
		r := c.roundTrip(id, "HEAD", path)
		if r.get(":status") != "200" || !r.headersEnd || r.dataCount != 0 || r.reset {
			t.Errorf("HEAD %s: status %q, HEADERS ends the stream %v, %d DATA frames, reset %v\nframes:\n%s",
				path, r.get(":status"), r.headersEnd, r.dataCount, r.reset, c.dump())
		}
	}
}

// TestH2FlowControl checks that a response larger than the client's
// windows stops where the window ends and goes on as the client opens it
// (the client fails the test on any DATA beyond its window), with the
// body reassembled exactly: the stream's window, the connection's, and a
// stream window grown by a new SETTINGS_INITIAL_WINDOW_SIZE.
func TestH2FlowControl(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &n)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write([]byte(patternBody(n)))
	})
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)

	// received returns the body bytes of stream 1 so far.
	received := func(c *h2Client) int { return len(c.collect(1).body) }
	// stalled waits for the body to reach n bytes, then checks with a
	// PING round trip that the stream has not ended.
	stalled := func(c *h2Client, n int) {
		t.Helper()
		c.waitFor(fmt.Sprintf("%d body bytes", n), func() bool { return received(c) >= n })
		pings := c.count(h2.TypePing)
		c.send(h2RawFrame(h2.TypePing, 0, 0, []byte("stalled?")))
		c.waitFor("the PING ack", func() bool { return c.count(h2.TypePing) > pings })
		if got := received(c); got != n || c.ended(1) {
			t.Fatalf("after %d bytes: %d received, ended %v; frames:\n%s", n, got, c.ended(1), c.dump())
		}
	}
	check := func(c *h2Client, size int) {
		t.Helper()
		r := c.response(1)
		if r.reset || r.get(":status") != "200" || string(r.body) != patternBody(size) {
			t.Errorf("status %q, reset %v, %d body bytes, exact %v", r.get(":status"), r.reset, len(r.body), string(r.body) == patternBody(size))
		}
	}

	t.Run("stream window", func(t *testing.T) {
		c := dialH2(b.sub(t), h2Setting{h2.SettingInitialWindowSize, 1000})
		c.send(c.get(1, "GET", "/5000"))
		stalled(c, 1000)
		c.send(c.windowUpdate(1, 1500))
		stalled(c, 2500)
		c.send(c.windowUpdate(1, 2500))
		check(c, 5000)
	})
	t.Run("connection window", func(t *testing.T) {
		c := dialH2(b.sub(t), h2Setting{h2.SettingInitialWindowSize, 1 << 20})
		c.send(c.get(1, "GET", "/100000"))
		stalled(c, h2.DefaultWindow)
		c.send(c.windowUpdate(0, 10000))
		stalled(c, h2.DefaultWindow+10000)
		c.send(c.windowUpdate(0, 100000))
		check(c, 100000)
	})
	t.Run("initial window grown by SETTINGS", func(t *testing.T) {
		c := dialH2(b.sub(t), h2Setting{h2.SettingInitialWindowSize, 1000})
		c.send(c.get(1, "GET", "/5000"))
		stalled(c, 1000)
		c.send(c.settingsFrame(h2Setting{h2.SettingInitialWindowSize, 3000}))
		stalled(c, 3000)
		c.send(c.settingsFrame(h2Setting{h2.SettingInitialWindowSize, 10000}))
		check(c, 5000)
	})
}

// gate is an upstream handler's wait for the test's go-ahead, bounded so
// that a failing test does not leave the handler (and the test server's
// close) waiting for ever.
func gate(ch <-chan struct{}, r *http.Request) {
	select {
	case <-ch:
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}

// TestH2ConcurrentStreams checks that streams on one connection are
// answered independently: those whose answers are ready end while one
// waits on its upstream, which ends once the upstream answers.
func TestH2ConcurrentStreams(t *testing.T) {
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			gate(release, r)
		}
		fmt.Fprintf(w, "answer to %s", r.URL.Path)
	})
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; } location /own { return 200 "own"; }`)
	c := dialH2(b)
	c.send(c.get(1, "GET", "/slow"), c.get(3, "GET", "/fast/3"), c.get(5, "GET", "/own"),
		c.get(7, "GET", "/fast/7"), c.get(9, "HEAD", "/fast/9"))
	want := map[uint32]string{3: "answer to /fast/3", 5: "own", 7: "answer to /fast/7", 9: ""}
	for id, body := range want {
		r := c.response(id)
		if r.reset || r.get(":status") != "200" || string(r.body) != body {
			t.Errorf("stream %d: status %q, reset %v, body %q; want %q", id, r.get(":status"), r.reset, r.body, body)
		}
	}
	if c.ended(1) || len(c.streamFrames(1)) != 0 {
		t.Fatalf("stream 1 was answered before its upstream did:\n%s", c.dump())
	}
	close(release)
	r := c.response(1)
	if r.reset || r.get(":status") != "200" || string(r.body) != "answer to /slow" {
		t.Errorf("stream 1: status %q, reset %v, body %q", r.get(":status"), r.reset, r.body)
	}
}

// TestH2ClientReset checks that RST_STREAM from the client ends the
// request that waits on its upstream: the upstream connection is closed,
// the access log has the request with 499, the server sends nothing more
// on the stream (no RST_STREAM in answer to one), and the connection
// serves the next stream.
func TestH2ClientReset(t *testing.T) {
	entered := make(chan struct{}, 1)
	gone := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hang" {
			fmt.Fprint(w, "ok")
			return
		}
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(20 * time.Second):
		}
	})
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)
	c := dialH2(b)
	c.send(c.get(1, "GET", "/hang"))
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	c.send(rstFrame(1, h2.Cancel))
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection was not closed after the client reset the stream")
	}
	lines := b.accessLines(1)
	if !strings.Contains(lines[0], `"GET /hang HTTP/2.0" 499 `) {
		t.Errorf("access log line %q, want the request with 499", lines[0])
	}
	r := c.roundTrip(3, "GET", "/next")
	if r.reset || r.get(":status") != "200" || string(r.body) != "ok" {
		t.Errorf("stream 3: status %q, reset %v, body %q", r.get(":status"), r.reset, r.body)
	}
	if fs := c.streamFrames(1); len(fs) != 0 {
		t.Errorf("the server sent frames on the stream the client reset:\n%s", c.dump())
	}
	if c.count(h2.TypeGoAway) != 0 {
		t.Errorf("GOAWAY:\n%s", c.dump())
	}
}

// TestH2ConnectionErrors checks that frames that break the protocol end
// the connection with GOAWAY carrying the error code RFC 9113 names.
func TestH2ConnectionErrors(t *testing.T) {
	b := newH2Bench(t, `location / { return 200 "ok"; }`)
	hpackGet := func(c *h2Client) []byte {
		return c.get(1, "GET", "/")[9:]
	}
	setting := func(id uint16, v uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, id), v)
	}
	tests := []struct {
		name  string
		frame func(c *h2Client) []byte
		code  h2.ErrCode
	}{
		{"DATA on stream 0", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeData, 0, 0, []byte("abc"))
		}, h2.ProtocolError},
		{"DATA larger than the stream's window on an open stream", func(c *h2Client) []byte {
			// Frames of up to 16777215 bytes are announced; a DATA
			// frame is bounded by the window it may fill instead
			// (http2_body_preread_size, 64k), as nginx bounds it.
			open := c.headersFrame(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost")
			return append(open, h2RawFrame(h2.TypeData, 0, 1, make([]byte, 70000))...)
		}, h2.FlowControlError},
		{"HEADERS larger than 2 x large_client_header_buffers", func(c *h2Client) []byte {
			// 4 8k: the block may be twice the 32k its fields may hold.
			return h2RawFrame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 1, make([]byte, 65537))
		}, h2.EnhanceYourCalm},
		{"CONTINUATION larger than 2 x large_client_header_buffers", func(c *h2Client) []byte {
			return append(h2RawFrame(h2.TypeHeaders, 0, 1, hpackGet(c)),
				h2RawFrame(h2.TypeContinuation, h2.FlagEndHeaders, 1, make([]byte, 70000))...)
		}, h2.EnhanceYourCalm},
		// Frames of the other types larger than the read buffer (32k)
		// carry nothing that needs it: each would be right but for
		// its size.
		{"SETTINGS larger than the read buffer", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 0, bytes.Repeat(setting(0xabc, 1), 6000))
		}, h2.FrameSizeError},
		{"GOAWAY larger than the read buffer", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeGoAway, 0, 0, make([]byte, 40000))
		}, h2.FrameSizeError},
		{"PING larger than the read buffer", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypePing, 0, 0, make([]byte, 40000))
		}, h2.FrameSizeError},
		{"WINDOW_UPDATE larger than the read buffer", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeWindowUpdate, 0, 0, make([]byte, 40000))
		}, h2.FrameSizeError},
		{"RST_STREAM larger than the read buffer", func(c *h2Client) []byte {
			return append(c.get(1, "GET", "/"), h2RawFrame(h2.TypeRSTStream, 0, 1, make([]byte, 40000))...)
		}, h2.FrameSizeError},
		{"PRIORITY larger than the read buffer", func(c *h2Client) []byte {
			// Of the wrong length it is a stream error; this large, a
			// connection error.
			return h2RawFrame(h2.TypePriority, 0, 1, make([]byte, 40000))
		}, h2.FrameSizeError},
		{"CONTINUATION without HEADERS", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeContinuation, h2.FlagEndHeaders, 1, hpackGet(c))
		}, h2.ProtocolError},
		{"invalid HPACK index", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 1, []byte{0x80 | 70})
		}, h2.CompressionError},
		{"HPACK index 0", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 1, []byte{0x80})
		}, h2.CompressionError},
		{"PING between HEADERS and CONTINUATION", func(c *h2Client) []byte {
			return append(h2RawFrame(h2.TypeHeaders, 0, 1, hpackGet(c)), h2RawFrame(h2.TypePing, 0, 0, make([]byte, 8))...)
		}, h2.ProtocolError},
		{"HEADERS on an even stream", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 2, hpackGet(c))
		}, h2.ProtocolError},
		{"PUSH_PROMISE", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypePushPromise, h2.FlagEndHeaders, 1, append([]byte{0, 0, 0, 2}, hpackGet(c)...))
		}, h2.ProtocolError},
		{"PING of 7 bytes", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypePing, 0, 0, make([]byte, 7))
		}, h2.FrameSizeError},
		{"PING on a stream", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypePing, 0, 1, make([]byte, 8))
		}, h2.ProtocolError},
		{"SETTINGS of 5 bytes", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 0, make([]byte, 5))
		}, h2.FrameSizeError},
		{"SETTINGS ack with a payload", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, h2.FlagAck, 0, setting(h2.SettingEnablePush, 0))
		}, h2.FrameSizeError},
		{"SETTINGS on a stream", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 1, nil)
		}, h2.ProtocolError},
		{"SETTINGS_ENABLE_PUSH 2", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 0, setting(h2.SettingEnablePush, 2))
		}, h2.ProtocolError},
		{"SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 0, setting(h2.SettingInitialWindowSize, 1<<31))
		}, h2.FlowControlError},
		{"SETTINGS_MAX_FRAME_SIZE under 16384", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeSettings, 0, 0, setting(h2.SettingMaxFrameSize, 16383))
		}, h2.ProtocolError},
		{"connection WINDOW_UPDATE of 0", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeWindowUpdate, 0, 0, make([]byte, 4))
		}, h2.ProtocolError},
		{"connection window over 2^31-1", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, 1<<31-1))
		}, h2.FlowControlError},
		{"DATA on an idle stream", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeData, h2.FlagEndStream, 5, []byte("x"))
		}, h2.ProtocolError},
		{"RST_STREAM on an idle stream", func(c *h2Client) []byte {
			return rstFrame(5, h2.Cancel)
		}, h2.ProtocolError},
		{"RST_STREAM on stream 0", func(c *h2Client) []byte {
			return rstFrame(0, h2.Cancel)
		}, h2.ProtocolError},
		{"GOAWAY on a stream", func(c *h2Client) []byte {
			return h2RawFrame(h2.TypeGoAway, 0, 1, make([]byte, 8))
		}, h2.ProtocolError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			c.send(tc.frame(c))
			if code := c.goAway(); code != tc.code {
				t.Errorf("GOAWAY with %v, want %v\nframes:\n%s", code, tc.code, c.dump())
			}
			c.waitEnded()
			if n := c.count(h2.TypeGoAway); n != 1 {
				t.Errorf("%d GOAWAY frames", n)
			}
			if last := c.frames[len(c.frames)-1]; last.typ != h2.TypeGoAway {
				t.Errorf("frames after GOAWAY:\n%s", c.dump())
			}
		})
	}
}

// TestH2LargeFrames checks frames larger than the read buffer (32k) and
// than the 16384 bytes RFC 9113 starts from, which a server announcing
// nginx's SETTINGS_MAX_FRAME_SIZE of 16777215 must take: a DATA frame
// within the stream's window (http2_body_preread_size, 64k), whole, in
// pieces or padded, reaches the upstream intact; one beyond what is left
// of the window resets its stream only; and a frame of an unknown type is
// skipped whatever its size, the connection going on after it.
func TestH2LargeFrames(t *testing.T) {
	up := bodyEcho(t)
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; } location /own { return 200 "own"; }`)
	post := func(c *h2Client, size int) []byte {
		return c.headersFrame(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost",
			"content-length", fmt.Sprint(size))
	}
	echoed := func(body []byte) string { return fmt.Sprintf("%d %x", len(body), sha256.Sum256(body)) }
	bodies := []struct {
		name string
		size int
		// pad is the DATA frame's padding, cuts where its bytes are
		// split between reads.
		pad  int
		cuts []int
	}{
		{"DATA of 20000 bytes", 20000, 0, nil},
		{"DATA of 40000 bytes, over the read buffer", 40000, 0, nil},
		{"DATA filling the stream's window", 65536, 0, nil},
		{"padded DATA over the read buffer", 40000, 200, nil},
		{"DATA over the read buffer, in pieces", 40000, 0, []int{5, 9, 20000, 39000}},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			body := []byte(patternBody(tc.size))
			var frame []byte
			if tc.pad > 0 {
				p := append([]byte{byte(tc.pad - 1)}, body...)
				frame = h2RawFrame(h2.TypeData, h2.FlagEndStream|h2.FlagPadded, 1, append(p, make([]byte, tc.pad-1)...))
			} else {
				frame = h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, body)
			}
			c.send(post(c, tc.size))
			at := 0
			for _, cut := range tc.cuts {
				c.send(frame[at:cut])
				at = cut
			}
			c.send(frame[at:])
			r := c.response(1)
			if want := echoed(body); r.reset || r.get(":status") != "200" || string(r.body) != want {
				t.Errorf("status %q, reset %v (%v), body %q; want 200 and %q\nframes:\n%s",
					r.get(":status"), r.reset, r.code, r.body, want, c.dump())
			}
			if c.count(h2.TypeGoAway) != 0 {
				t.Errorf("GOAWAY:\n%s", c.dump())
			}
		})
	}
	t.Run("DATA beyond what is left of the window", func(t *testing.T) {
		c := dialH2(b.sub(t))
		c.send(post(c, 80000), h2RawFrame(h2.TypeData, 0, 1, make([]byte, 40000)),
			h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, make([]byte, 40000)))
		r := c.response(1)
		if !r.reset || r.code != h2.FlowControlError || r.fields != nil {
			t.Errorf("stream 1: reset %v with %v, response %v; want RST_STREAM FLOW_CONTROL_ERROR\nframes:\n%s",
				r.reset, r.code, r.fields, c.dump())
		}
		r = c.roundTrip(3, "GET", "/own")
		if r.reset || r.get(":status") != "200" || string(r.body) != "own" {
			t.Errorf("stream 3: status %q, reset %v (%v), body %q\nframes:\n%s", r.get(":status"), r.reset, r.code, r.body, c.dump())
		}
		if c.count(h2.TypeGoAway) != 0 {
			t.Errorf("GOAWAY for a stream's flow-control error:\n%s", c.dump())
		}
	})
	for _, tc := range []struct {
		name string
		size int
		cuts []int
	}{
		{"unknown frame type of 100 bytes", 100, nil},
		{"unknown frame type of 100000 bytes", 100000, nil},
		{"unknown frame type of 100000 bytes, in pieces", 100000, []int{4, 9, 30000, 70000, 99999}},
		{"unknown frame type of 16777215 bytes", 16777215, []int{1 << 20, 8 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			frame := h2RawFrame(0x20, 0xff, 1, make([]byte, tc.size))
			at := 0
			for _, cut := range tc.cuts {
				c.send(frame[at:cut])
				at = cut
			}
			c.send(frame[at:], c.get(1, "GET", "/own"))
			r := c.response(1)
			if r.reset || r.get(":status") != "200" || string(r.body) != "own" {
				t.Errorf("stream 1 after the frame: status %q, reset %v (%v), body %q\nframes:\n%s",
					r.get(":status"), r.reset, r.code, r.body, c.dump())
			}
			if c.count(h2.TypeGoAway) != 0 {
				t.Errorf("GOAWAY for a frame of an unknown type:\n%s", c.dump())
			}
		})
	}
}

// TestH2MalformedRequests checks what a request that breaks HTTP/2's
// rules for messages (RFC 9113 8.1.1, 8.2, 8.3) gets, which is what nginx
// gives it: RST_STREAM PROTOCOL_ERROR and no response for a malformed
// header block (upper-case names, connection-specific fields, a missing
// :method or :path, an empty :path, a pseudo-header that is unknown,
// repeated or after regular fields, :authority excepted); 400 for a
// request line nginx cannot build (an empty :method or one that is not a
// token, a missing :scheme, an empty :authority, a :path that is not
// absolute or has control bytes); and for a body that is not its
// content-length, 400 while the request still reads it (proxied, with
// proxy_request_buffering on), RST_STREAM PROTOCOL_ERROR once the
// response went out (return). Either way the connection serves the next
// stream.
func TestH2MalformedRequests(t *testing.T) {
	up := bodyEcho(t)
	b := newH2Bench(t, `location / { return 200 "ok"; } location /echo { proxy_pass http://`+up+`; }
		location /host { return 200 "$host"; }`)
	base := []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", "localhost"}
	post := []string{":method", "POST", ":scheme", "http", ":path", "/echo", ":authority", "localhost"}
	postOwn := []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost"}
	with := func(head []string, more ...string) []string {
		return append(append([]string{}, head...), more...)
	}
	// What stream 1 gets.
	const (
		// reset: RST_STREAM PROTOCOL_ERROR, no response.
		reset = iota
		// bad: a 400 response, not reset.
		bad
		// resetAfter: the 200 response of return, then RST_STREAM
		// PROTOCOL_ERROR.
		resetAfter
		// served: a 200 response, not reset.
		served
	)
	tests := []struct {
		name   string
		fields []string
		// data, when set, is sent in one DATA frame with END_STREAM
		// after HEADERS without it, in the same read.
		data *string
		want int
		// body is the body a served request gets ("ok" when empty).
		body string
	}{
		{"upper-case field name", with(base, "X-Upper", "1"), nil, reset, ""},
		{"connection field", with(base, "connection", "keep-alive"), nil, reset, ""},
		{"keep-alive field", with(base, "keep-alive", "timeout=5"), nil, reset, ""},
		{"transfer-encoding field", with(base, "transfer-encoding", "chunked"), nil, reset, ""},
		{"upgrade field", with(base, "upgrade", "websocket"), nil, reset, ""},
		{"te other than trailers", with(base, "te", "gzip"), nil, reset, ""},
		{"te trailers", with(base, "te", "trailers"), nil, served, ""},
		{"field value with a newline", with(base, "x-a", "a\nb"), nil, reset, ""},
		{"missing :method", []string{":scheme", "http", ":path", "/", ":authority", "localhost"}, nil, reset, ""},
		{"empty :method", []string{":method", "", ":scheme", "http", ":path", "/", ":authority", "localhost"}, nil, bad, ""},
		{":method not a token", []string{":method", "G(T", ":scheme", "http", ":path", "/", ":authority", "localhost"}, nil, bad, ""},
		{":method with a space", []string{":method", "GE T", ":scheme", "http", ":path", "/", ":authority", "localhost"}, nil, bad, ""},
		{"missing :path", []string{":method", "GET", ":scheme", "http", ":authority", "localhost"}, nil, reset, ""},
		{"empty :path", []string{":method", "GET", ":scheme", "http", ":path", "", ":authority", "localhost"}, nil, reset, ""},
		{"missing :scheme", []string{":method", "GET", ":path", "/", ":authority", "localhost"}, nil, bad, ""},
		{"empty :authority", []string{":method", "GET", ":scheme", "http", ":path", "/", ":authority", ""}, nil, bad, ""},
		{"relative :path", []string{":method", "GET", ":scheme", "http", ":path", "index.html", ":authority", "localhost"}, nil, bad, ""},
		{":path * for GET", []string{":method", "GET", ":scheme", "http", ":path", "*", ":authority", "localhost"}, nil, bad, ""},
		{":path with a control byte", with(base[:4], ":path", "/a\x01b", ":authority", "localhost"), nil, bad, ""},
		{":path with a space", with(base[:4], ":path", "/a b", ":authority", "localhost"), nil, bad, ""},
		{"duplicate :path", with(base, ":path", "/again"), nil, reset, ""},
		{"duplicate :method", with(base, ":method", "GET"), nil, reset, ""},
		{"unknown pseudo-header", with(base, ":protocol", "websocket"), nil, reset, ""},
		{"response pseudo-header", with(base, ":status", "200"), nil, reset, ""},
		{":path after a regular field", []string{":method", "GET", ":scheme", "http", "accept", "*/*", ":path", "/", ":authority", "localhost"}, nil, reset, ""},
		{":method after a regular field", []string{":scheme", "http", ":path", "/", "accept", "*/*", ":method", "GET", ":authority", "localhost"}, nil, reset, ""},
		// nginx takes :authority anywhere, and clients send it so.
		{":authority after a regular field", []string{":method", "GET", ":scheme", "http", ":path", "/host", "accept", "*/*", ":authority", "example.com"}, nil, served, "example.com"},
		{"invalid content-length", with(post, "content-length", "five"), ptr("12345"), bad, ""},
		{"content-length without DATA", with(post, "content-length", "5"), nil, bad, ""},
		{"content-length over the DATA, proxied", with(post, "content-length", "10"), ptr("12345"), bad, ""},
		{"content-length under the DATA, proxied", with(post, "content-length", "3"), ptr("12345"), bad, ""},
		{"content-length over the DATA, answered by return", with(postOwn, "content-length", "10"), ptr("12345"), resetAfter, ""},
		{"content-length under the DATA, answered by return", with(postOwn, "content-length", "3"), ptr("12345"), resetAfter, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			defer c.closeConn()
			if tc.data == nil {
				c.send(c.headersFrame(1, true, tc.fields...))
			} else {
				c.send(c.headersFrame(1, false, tc.fields...), h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, []byte(*tc.data)))
			}
			var r *h2Response
			if tc.want == resetAfter {
				c.waitFor("stream 1's RST_STREAM", func() bool { return c.collect(1).reset })
				r = c.collect(1)
			} else {
				r = c.response(1)
			}
			var ok bool
			var want string
			switch tc.want {
			case reset:
				ok, want = r.reset && r.code == h2.ProtocolError && r.fields == nil, "RST_STREAM PROTOCOL_ERROR and no response"
			case bad:
				ok, want = !r.reset && r.get(":status") == "400", "a 400 response"
			case resetAfter:
				ok, want = r.reset && r.code == h2.ProtocolError && r.get(":status") == "200" && string(r.body) == "ok",
					"the 200 response, then RST_STREAM PROTOCOL_ERROR"
			case served:
				body := tc.body
				if body == "" {
					body = "ok"
				}
				ok, want = !r.reset && r.get(":status") == "200" && string(r.body) == body, fmt.Sprintf("a 200 response with %q", body)
			}
			if !ok {
				t.Errorf("stream 1: reset %v with %v, response %v, body %q; want %s\nframes:\n%s",
					r.reset, r.code, r.fields, r.body, want, c.dump())
			}
			if n := c.count(h2.TypeRSTStream); r.reset && n != 1 {
				t.Errorf("%d RST_STREAM frames, want 1\nframes:\n%s", n, c.dump())
			}
			r = c.roundTrip(3, "GET", "/")
			if r.reset || r.get(":status") != "200" || string(r.body) != "ok" {
				t.Errorf("stream 3 after the malformed one: status %q, reset %v, body %q\nframes:\n%s", r.get(":status"), r.reset, r.body, c.dump())
			}
			if c.count(h2.TypeGoAway) != 0 {
				t.Errorf("GOAWAY for a stream error:\n%s", c.dump())
			}
		})
	}
}

// ptr returns a pointer to a copy of s.
func ptr(s string) *string { return &s }

// TestH2RefusedStream checks that a stream over http2_max_concurrent_streams
// is refused with RST_STREAM REFUSED_STREAM while those in progress go on,
// and that a stream opened after they ended is served.
func TestH2RefusedStream(t *testing.T) {
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			gate(release, r)
		}
		fmt.Fprint(w, "done")
	})
	b := newH2Bench(t, `http2_max_concurrent_streams 2; location / { proxy_pass http://`+up+`; }`)
	c := dialH2(b)
	settings := c.frames[0].payload
	found := false
	for p := settings; len(p) >= 6; p = p[6:] {
		if binary.BigEndian.Uint16(p) == h2.SettingMaxConcurrentStreams {
			found = binary.BigEndian.Uint32(p[2:]) == 2
		}
	}
	if !found {
		t.Errorf("the server's SETTINGS do not announce 2 concurrent streams: %v", c.frames[0])
	}
	c.send(c.get(1, "GET", "/slow"), c.get(3, "GET", "/slow"), c.get(5, "GET", "/slow"))
	r := c.response(5)
	if !r.reset || r.code != h2.RefusedStream || r.fields != nil {
		t.Errorf("stream 5: reset %v with %v, response %v; want REFUSED_STREAM\nframes:\n%s", r.reset, r.code, r.fields, c.dump())
	}
	if c.ended(1) || c.ended(3) {
		t.Errorf("streams 1 and 3 ended before their upstream answered:\n%s", c.dump())
	}
	close(release)
	for _, id := range []uint32{1, 3} {
		r := c.response(id)
		if r.reset || r.get(":status") != "200" || string(r.body) != "done" {
			t.Errorf("stream %d: status %q, reset %v (%v), body %q", id, r.get(":status"), r.reset, r.code, r.body)
		}
	}
	r = c.roundTrip(7, "GET", "/fast")
	if r.reset || r.get(":status") != "200" || string(r.body) != "done" {
		t.Errorf("stream 7 after the others ended: status %q, reset %v (%v)", r.get(":status"), r.reset, r.code)
	}
}

// TestH2ListenerHTTP1 checks what a cleartext http2 listener does with a
// first line that is not the preface: an HTTP/1.x request is served as
// HTTP/1, anything else closes the connection without an answer.
func TestH2ListenerHTTP1(t *testing.T) {
	b := newH2Bench(t, `location / { return 200 "$server_protocol $http2."; }`)
	served := []struct{ name, req, proto, body string }{
		{"HTTP/1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1", "HTTP/1.1 ."},
		// nginx answers HTTP/1.0 with an HTTP/1.1 status line.
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "HTTP/1.1", "HTTP/1.0 ."},
		{"HTTP/1.1 after empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1", "HTTP/1.1 ."},
	}
	for _, tc := range served {
		t.Run(tc.name, func(t *testing.T) {
			m := b.sub(t).connect()
			resp, body := m.roundTrip(tc.req)
			if resp.StatusCode != 200 || resp.Proto != tc.proto || body != tc.body {
				t.Errorf("%s %d, body %q; want %s 200 and %q", resp.Proto, resp.StatusCode, body, tc.proto, tc.body)
			}
		})
	}
	closed := []struct{ name, first string }{
		{"not a request line", "HELLO WORLD\r\n\r\n"},
		{"HTTP/2.0 request line", "GET / HTTP/2.0\r\n\r\n"},
		{"the preface's first line only", "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"},
	}
	for _, tc := range closed {
		t.Run(tc.name, func(t *testing.T) {
			m := b.sub(t).connect()
			m.send(tc.first)
			if out := m.waitClosed(); len(out) != 0 {
				t.Errorf("the server answered %q", out)
			}
		})
	}
	// The preface in pieces is still the preface.
	t.Run("preface in pieces", func(t *testing.T) {
		m := b.sub(t).connect()
		for _, piece := range []string{"PRI", " * HTTP/2.0\r\n", "\r\nSM\r\n\r", "\n"} {
			m.send(piece)
		}
		var out []byte
		b.sub(t).eventually("the server's SETTINGS", func() bool {
			out, _ = m.state()
			return len(out) >= 9
		})
		if out[3] != byte(h2.TypeSettings) {
			t.Errorf("the server's first bytes % x are not a SETTINGS frame", out[:9])
		}
	})
}

// TestH2Variables checks $server_protocol and $http2 on an HTTP/2 stream
// and the request line the access log has for it.
func TestH2Variables(t *testing.T) {
	b := newH2Bench(t, `location / { return 200 "$server_protocol $http2 $request"; }`)
	c := dialH2(b)
	r := c.roundTrip(1, "GET", "/vars?a=1")
	if want := "HTTP/2.0 h2c GET /vars?a=1 HTTP/2.0"; string(r.body) != want {
		t.Errorf("body %q, want %q", r.body, want)
	}
	lines := b.accessLines(1)
	if !strings.Contains(lines[0], `"GET /vars?a=1 HTTP/2.0" 200 `) {
		t.Errorf("access log line %q, want the request line with HTTP/2.0 and 200", lines[0])
	}
}

// TestH2AnswerBeforeBody checks a request answered while its body is
// still coming, as nginx closes such a stream: the complete response is
// followed by RST_STREAM NO_ERROR, which asks the client to stop sending
// (and goes out at the end of the round, after what came with the
// request was judged: see TestH2MalformedRequests). What the client sent
// meanwhile is still judged for a while and dropped: the rest of the
// body, within the window and the content-length, causes no error and no
// WINDOW_UPDATE; DATA beyond the window resets the stream with
// FLOW_CONTROL_ERROR and DATA beyond the content-length with
// PROTOCOL_ERROR, once, what follows being dropped. The stream no longer
// counts against http2_max_concurrent_streams 1: a new stream is served
// while its body is still coming, and after.
func TestH2AnswerBeforeBody(t *testing.T) {
	b := newH2Bench(t, `http2_max_concurrent_streams 1; location / { return 200 "early"; }`)
	// answered sends the head of a POST with the given content-length
	// (none when negative) and 100 bytes of its body, and checks the
	// response and the RST_STREAM NO_ERROR after it.
	answered := func(t *testing.T, c *h2Client, length int) {
		t.Helper()
		fields := []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost"}
		if length >= 0 {
			fields = append(fields, "content-length", fmt.Sprint(length))
		}
		c.send(c.headersFrame(1, false, fields...))
		c.sendData(1, []byte(patternBody(100)), false)
		c.waitFor("stream 1's RST_STREAM", func() bool { return c.collect(1).reset })
		r := c.collect(1)
		fs := c.streamFrames(1)
		last := fs[len(fs)-1]
		ended := len(fs) >= 2 && fs[len(fs)-2].typ == h2.TypeData && fs[len(fs)-2].has(h2.FlagEndStream)
		if r.get(":status") != "200" || string(r.body) != "early" || r.code != h2.NoError || last.typ != h2.TypeRSTStream || !ended {
			t.Fatalf("stream 1: status %q, body %q, reset with %v; want the complete response, then RST_STREAM NO_ERROR\nframes:\n%s",
				r.get(":status"), r.body, r.code, c.dump())
		}
	}
	// synced waits until the server has read everything sent so far: a
	// PING sent after it is answered.
	synced := func(c *h2Client) {
		n := c.count(h2.TypePing)
		c.send(h2RawFrame(h2.TypePing, 0, 0, []byte("in sync?")))
		c.waitFor("the PING ack", func() bool { return c.count(h2.TypePing) > n })
	}
	// resets returns the error codes of the RST_STREAM frames of stream 1.
	resets := func(c *h2Client) []h2.ErrCode {
		var codes []h2.ErrCode
		for _, f := range c.streamFrames(1) {
			if f.typ == h2.TypeRSTStream {
				codes = append(codes, h2.ErrCode(binary.BigEndian.Uint32(f.payload)))
			}
		}
		return codes
	}
	// served checks that a new stream is served.
	served := func(t *testing.T, c *h2Client, id uint32) {
		t.Helper()
		r := c.roundTrip(id, "GET", "/next")
		if r.reset || r.get(":status") != "200" || string(r.body) != "early" {
			t.Errorf("stream %d: status %q, reset %v (%v)\nframes:\n%s", id, r.get(":status"), r.reset, r.code, c.dump())
		}
	}
	for _, withLength := range []bool{false, true} {
		t.Run(fmt.Sprintf("the rest of the body, content-length %v", withLength), func(t *testing.T) {
			c := dialH2(b.sub(t))
			defer c.closeConn()
			const size = 60000
			length := -1
			if withLength {
				length = size
			}
			answered(t, c, length)
			// Stream 1 is still open on the client's side.
			served(t, c, 3)
			n := len(c.frames)
			c.sendData(1, []byte(patternBody(size)[100:]), true)
			synced(c)
			for _, f := range c.frames[n:] {
				if f.typ != h2.TypePing {
					t.Errorf("the server sent %v for the rest of a body it no longer needs", f)
				}
			}
			if codes := resets(c); len(codes) != 1 {
				t.Errorf("stream 1 was reset with %v, want NO_ERROR only", codes)
			}
			served(t, c, 5)
			if c.count(h2.TypeGoAway) != 0 {
				t.Errorf("GOAWAY:\n%s", c.dump())
			}
		})
	}
	t.Run("DATA beyond the window", func(t *testing.T) {
		c := dialH2(b.sub(t))
		defer c.closeConn()
		answered(t, c, -1)
		// 100 bytes of the window of 64k were used.
		c.send(h2RawFrame(h2.TypeData, 0, 1, make([]byte, 65537-100)))
		c.waitFor("stream 1's second RST_STREAM", func() bool { return len(resets(c)) >= 2 })
		c.send(h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, []byte("more")))
		synced(c)
		if codes := resets(c); len(codes) != 2 || codes[1] != h2.FlowControlError {
			t.Errorf("stream 1 was reset with %v, want NO_ERROR, then FLOW_CONTROL_ERROR once\nframes:\n%s", codes, c.dump())
		}
		served(t, c, 3)
		if c.count(h2.TypeGoAway) != 0 {
			t.Errorf("GOAWAY:\n%s", c.dump())
		}
	})
	t.Run("DATA beyond the content-length", func(t *testing.T) {
		c := dialH2(b.sub(t))
		defer c.closeConn()
		answered(t, c, 1000)
		c.send(h2RawFrame(h2.TypeData, 0, 1, make([]byte, 901)))
		c.waitFor("stream 1's second RST_STREAM", func() bool { return len(resets(c)) >= 2 })
		c.send(h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, []byte("more")))
		synced(c)
		if codes := resets(c); len(codes) != 2 || codes[1] != h2.ProtocolError {
			t.Errorf("stream 1 was reset with %v, want NO_ERROR, then PROTOCOL_ERROR once\nframes:\n%s", codes, c.dump())
		}
		served(t, c, 3)
		if c.count(h2.TypeGoAway) != 0 {
			t.Errorf("GOAWAY:\n%s", c.dump())
		}
	})
}

// TestH2FramesAfterReset checks that frames the client sent on a stream
// before it could learn of the server's RST_STREAM are ignored, as RFC
// 9113 5.1 asks of an endpoint that sent RST_STREAM and as nginx ignores
// frames of streams it no longer has: the stream gets one RST_STREAM,
// not another for each frame that follows.
func TestH2FramesAfterReset(t *testing.T) {
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		gate(release, r)
		fmt.Fprint(w, "slow")
	})
	t.Cleanup(func() { close(release) })
	b := newH2Bench(t, `http2_max_concurrent_streams 1; location / { return 200 "ok"; } location /slow { proxy_pass http://`+up+`; }`)
	tests := []struct {
		name string
		// open sends what makes the server reset stream 3 with code.
		open func(c *h2Client)
		code h2.ErrCode
		// done ends what open started, so that stream 5 is served.
		done func(c *h2Client)
	}{
		{"malformed head", func(c *h2Client) {
			c.send(c.headersFrame(3, false, ":method", "POST", ":scheme", "http", ":path", "/", "X-Upper", "1"))
		}, h2.ProtocolError, func(c *h2Client) {}},
		{"refused stream", func(c *h2Client) {
			c.send(c.get(1, "GET", "/slow"), c.headersFrame(3, false, ":method", "POST", ":scheme", "http", ":path", "/"))
		}, h2.RefusedStream, func(c *h2Client) {
			release <- struct{}{}
			c.response(1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			tc.open(c)
			// Sent before the client saw the RST_STREAM.
			c.send(h2RawFrame(h2.TypeData, 0, 3, []byte("12345")), c.windowUpdate(3, 100),
				h2RawFrame(h2.TypeData, h2.FlagEndStream, 3, []byte("6")))
			tc.done(c)
			r := c.roundTrip(5, "GET", "/")
			if r.reset || r.get(":status") != "200" {
				t.Errorf("stream 5: status %q, reset %v (%v)", r.get(":status"), r.reset, r.code)
			}
			var codes []h2.ErrCode
			for _, f := range c.streamFrames(3) {
				if f.typ == h2.TypeRSTStream {
					codes = append(codes, h2.ErrCode(binary.BigEndian.Uint32(f.payload)))
				}
			}
			if len(codes) != 1 || codes[0] != tc.code {
				t.Errorf("stream 3 was reset with %v, want once with %v\nframes:\n%s", codes, tc.code, c.dump())
			}
		})
	}
}

// TestH2StreamErrorsEndTheRequest checks that a stream error the client
// causes while its request waits on an upstream resets the stream with
// the code RFC 9113 names (or ends the connection with it) and ends the
// request, as nginx terminates the stream: the upstream connection is
// closed, and nothing more is sent on the stream.
func TestH2StreamErrorsEndTheRequest(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		code  h2.ErrCode
	}{
		{"DATA after END_STREAM", h2RawFrame(h2.TypeData, h2.FlagEndStream, 1, []byte("x")), h2.StreamClosed},
		{"PRIORITY of 4 bytes", h2RawFrame(h2.TypePriority, 0, 1, make([]byte, 4)), h2.FrameSizeError},
		{"PRIORITY on itself", h2RawFrame(h2.TypePriority, 0, 1, []byte{0, 0, 0, 1, 16}), h2.ProtocolError},
		{"WINDOW_UPDATE of 0", h2RawFrame(h2.TypeWindowUpdate, 0, 1, make([]byte, 4)), h2.ProtocolError},
		{"stream window over 2^31-1", h2RawFrame(h2.TypeWindowUpdate, 0, 1, binary.BigEndian.AppendUint32(nil, 1<<31-1)), h2.FlowControlError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			canceled := make(chan struct{})
			release := make(chan struct{})
			up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-r.Context().Done():
					close(canceled)
					return
				case <-release:
				case <-time.After(20 * time.Second):
				}
				fmt.Fprint(w, "late")
			})
			t.Cleanup(func() { close(release) })
			b := newH2Bench(t, `location / { proxy_pass http://`+up+`; } location /own { return 200 "own"; }`)
			c := dialH2(b)
			c.send(c.get(1, "GET", "/slow"))
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not reach the upstream")
			}
			c.send(tc.frame)
			// RFC 9113 5.4.1 lets a stream error be treated as a
			// connection error (nginx does so for a PRIORITY of the
			// wrong length): GOAWAY with the code is an answer too.
			c.waitFor("stream 1's reset or GOAWAY", func() bool { return c.ended(1) || c.count(h2.TypeGoAway) > 0 })
			goAway := c.count(h2.TypeGoAway) > 0
			if goAway {
				if code := c.goAway(); code != tc.code {
					t.Errorf("GOAWAY with %v, want %v\nframes:\n%s", code, tc.code, c.dump())
				}
			} else if r := c.collect(1); !r.reset || r.code != tc.code {
				t.Errorf("stream 1: reset %v with %v, want %v\nframes:\n%s", r.reset, r.code, tc.code, c.dump())
			}
			ended := true
			select {
			case <-canceled:
			case <-time.After(5 * time.Second):
				ended = false
				t.Errorf("the request went on after its stream was reset: its upstream connection is still open")
			}
			if !ended {
				// Let the upstream answer, to see where the answer goes.
				release <- struct{}{}
				b.eventually("the access log line", func() bool { return len(nonEmptyLines(b.accessLog())) > 0 })
			}
			if !goAway {
				r := c.roundTrip(3, "GET", "/own")
				if r.reset || r.get(":status") != "200" {
					t.Errorf("stream 3: status %q, reset %v (%v)", r.get(":status"), r.reset, r.code)
				}
			}
			c.poll()
			rst := false
			for _, f := range c.streamFrames(1) {
				if rst && f.typ != h2.TypeRSTStream {
					t.Errorf("the server sent %v after resetting the stream", f)
				}
				rst = rst || f.typ == h2.TypeRSTStream
			}
			for i, f := range c.frames {
				if f.typ == h2.TypeGoAway && i != len(c.frames)-1 {
					t.Errorf("frames after GOAWAY:\n%s", c.dump())
				}
			}
		})
	}
}

// TestH2KeepaliveRequests checks that the stream that reaches
// keepalive_requests makes the server send GOAWAY with NO_ERROR naming
// it as the last stream, that it is still served, that a stream opened
// after it is not, and that the connection ends.
func TestH2KeepaliveRequests(t *testing.T) {
	b := newH2Bench(t, `keepalive_requests 2; location / { return 200 "ok"; }`)
	c := dialH2(b)
	if r := c.roundTrip(1, "GET", "/"); r.get(":status") != "200" {
		t.Fatalf("stream 1: %v", r.fields)
	}
	if c.count(h2.TypeGoAway) != 0 {
		t.Fatalf("GOAWAY after the first stream:\n%s", c.dump())
	}
	c.send(c.get(3, "GET", "/"), c.get(5, "GET", "/"))
	if r := c.response(3); r.reset || r.get(":status") != "200" || string(r.body) != "ok" {
		t.Errorf("stream 3: status %q, reset %v, body %q", r.get(":status"), r.reset, r.body)
	}
	if code := c.goAway(); code != h2.NoError {
		t.Errorf("GOAWAY with %v, want NO_ERROR", code)
	}
	c.waitEnded()
	for _, f := range c.frames {
		if f.typ == h2.TypeGoAway {
			if last := binary.BigEndian.Uint32(f.payload) & 0x7fffffff; last != 3 {
				t.Errorf("GOAWAY names stream %d as the last, want 3", last)
			}
		}
		if f.stream == 5 && f.typ != h2.TypeRSTStream {
			t.Errorf("stream 5, opened after GOAWAY, was answered: %v", f)
		}
	}
}

// TestH2RequestFraming checks request heads and bodies framed in the ways
// RFC 9113 allows: a header block continued in CONTINUATION frames,
// padded HEADERS with a priority and padded DATA, trailers that end the
// body, and cookie fields joined for HTTP/1.
func TestH2RequestFraming(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s|%s", r.Method, body, r.Header.Get("Cookie"))
	})
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)
	post := []string{":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost"}
	tests := []struct {
		name string
		send func(c *h2Client)
		want string
	}{
		{"CONTINUATION", func(c *h2Client) {
			h := c.headersFrame(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "localhost", "x-long", strings.Repeat("v", 100))
			block := h[9:]
			c.send(h2RawFrame(h2.TypeHeaders, h2.FlagEndStream, 1, block[:5]),
				h2RawFrame(h2.TypeContinuation, 0, 1, block[5:20]),
				h2RawFrame(h2.TypeContinuation, h2.FlagEndHeaders, 1, block[20:]))
		}, "GET |"},
		{"padding and priority", func(c *h2Client) {
			block := c.headersFrame(1, false, post...)[9:]
			p := append([]byte{3, 0, 0, 0, 0, 200}, block...)
			p = append(p, 0, 0, 0)
			c.send(h2RawFrame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagPadded|h2.FlagPriority, 1, p),
				h2RawFrame(h2.TypeData, h2.FlagPadded, 1, []byte("\x02ab\x00\x00")),
				h2RawFrame(h2.TypeData, h2.FlagPadded|h2.FlagEndStream, 1, []byte("\x00cd")))
		}, "POST abcd|"},
		{"trailers", func(c *h2Client) {
			c.send(c.headersFrame(1, false, post...),
				h2RawFrame(h2.TypeData, 0, 1, []byte("abc")),
				h2RawFrame(h2.TypeData, 0, 1, []byte("def")),
				c.headersFrame(1, true, "x-trailer", "1"))
		}, "POST abcdef|"},
		{"cookies", func(c *h2Client) {
			c.send(c.headersFrame(1, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "localhost",
				"cookie", "a=1", "accept", "*/*", "cookie", "b=2"))
		}, "GET |a=1; b=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialH2(b.sub(t))
			tc.send(c)
			r := c.response(1)
			if r.reset || r.get(":status") != "200" || string(r.body) != tc.want {
				t.Errorf("status %q, reset %v (%v), body %q; want 200 and %q\nframes:\n%s",
					r.get(":status"), r.reset, r.code, r.body, tc.want, c.dump())
			}
			if c.count(h2.TypeGoAway) != 0 {
				t.Errorf("GOAWAY:\n%s", c.dump())
			}
		})
	}
}

// TestH2CloseEndsStreams checks that when the connection ends while its
// streams wait on an upstream, every stream's request ends with it: the
// server closes the connection, the upstream connections are closed, and
// every slot the streams held is free again.
func TestH2CloseEndsStreams(t *testing.T) {
	tests := []struct {
		name string
		// end ends the connection from the client's side.
		end func(c *h2Client)
	}{
		{"client closes", func(c *h2Client) {}},
		{"connection error, then the client closes", func(c *h2Client) {
			c.send(h2RawFrame(h2.TypeData, 0, 0, []byte("x")))
			c.goAway()
		}},
		{"SETTINGS of 5 bytes, then the client closes", func(c *h2Client) {
			c.send(h2RawFrame(h2.TypeSettings, 0, 0, make([]byte, 5)))
			c.goAway()
		}},
		{"client GOAWAY, then the client closes", func(c *h2Client) {
			c.send(h2RawFrame(h2.TypeGoAway, 0, 0, make([]byte, 8)))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{}, 4)
			canceled := make(chan struct{}, 4)
			up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body)
				entered <- struct{}{}
				select {
				case <-r.Context().Done():
					canceled <- struct{}{}
				case <-time.After(20 * time.Second):
				}
			})
			b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)
			c := dialH2(b)
			c.send(c.get(1, "GET", "/a"),
				c.headersFrame(3, false, ":method", "POST", ":scheme", "http", ":path", "/b", ":authority", "x", "content-length", "10"),
				h2RawFrame(h2.TypeData, 0, 3, []byte("01234")),
				h2RawFrame(h2.TypeData, h2.FlagEndStream, 3, []byte("56789")),
				c.headersFrame(5, false, ":method", "POST", ":scheme", "http", ":path", "/c", ":authority", "x"),
				h2RawFrame(h2.TypeData, h2.FlagEndStream, 5, []byte("x")))
			for i := 0; i < 3; i++ {
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					c.poll()
					t.Fatalf("%d of 3 requests reached the upstream\nframes:\n%s", i, c.dump())
				}
			}
			tc.end(c)
			b.do(func() {
				c.m.mt.eof = true
				if c.live() {
					c.m.c.OnRead(c.m.c)
				}
			})
			c.waitFor("the connection to close", func() bool { return c.closed })
			for i := 0; i < 3; i++ {
				select {
				case <-canceled:
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of 3 upstream connections were closed after the client's connection closed", i)
				}
			}
			var inUse int
			b.eventually("the streams' slots to be free", func() bool {
				b.do(func() { inUse = b.w.loop.InUse(engine.KindClient) })
				return inUse == 0
			})
		})
	}
}

// TestH2ResetWhileBlocked checks that a stream whose response waits for
// the client's window ends at once when the client resets it or closes
// the connection, as nginx finalizes the request of a stream it loses:
// the request is logged and its slot is free, rather than waiting for
// send_timeout. Each subtest ends with its connection closed and every
// client slot free, so that the next one on the shared bench starts from
// none.
func TestH2ResetWhileBlocked(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body := patternBody(100000)
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		w.Write([]byte(body))
	})
	b := newH2Bench(t, `location / { proxy_pass http://`+up+`; }`)
	// slots waits until the client slots in use are the connection's
	// own (one) and no stream's, or none at all once it closed.
	slots := func(t *testing.T, b *bench, what string, conns int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			var streams, hcs int
			var left string
			b.do(func() {
				b.w.loop.Each(engine.KindClient, func(c *engine.Conn) {
					switch d := c.Data.(type) {
					case *h2Conn:
						hcs++
					case *clientConn:
						if d.h2 != nil {
							streams++
						} else {
							hcs++
						}
					}
				})
				left = describeClients(b)
			})
			if streams == 0 && hcs == conns {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("5 s after %s, client slots in use (want %d for the connection and none for streams):\n%s", what, conns, left)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for _, path := range []string{"/length", "/chunked"} {
		for _, how := range []string{"RST_STREAM", "close"} {
			t.Run(path+" "+how, func(t *testing.T) {
				b := b.sub(t)
				slots(t, b, "the start", 0)
				before := len(nonEmptyLines(b.accessLog()))
				c := dialH2(b, h2Setting{h2.SettingInitialWindowSize, 1000})
				c.send(c.get(1, "GET", path))
				c.waitFor("the first 1000 body bytes", func() bool { return len(c.collect(1).body) >= 1000 })
				if how == "RST_STREAM" {
					c.send(rstFrame(1, h2.Cancel))
				} else {
					c.closeConn()
				}
				deadline := time.Now().Add(5 * time.Second)
				for len(nonEmptyLines(b.accessLog())) == before {
					if time.Now().After(deadline) {
						var left string
						b.do(func() { left = describeClients(b) })
						t.Fatalf("5 s after the client's %s, the request has not ended; client slots:\n%s", how, left)
					}
					time.Sleep(2 * time.Millisecond)
				}
				if how == "RST_STREAM" {
					// The connection stays, the stream's slot goes.
					slots(t, b, "the client's RST_STREAM", 1)
					if c.closed || c.count(h2.TypeGoAway) != 0 {
						t.Errorf("the connection ended after a stream's reset:\n%s", c.dump())
					}
					c.closeConn()
				}
				slots(t, b, "the connection closed", 0)
			})
		}
	}
}

// describeClients describes the client slots in use, for failures; run
// on the loop.
func describeClients(b *bench) string {
	var sb strings.Builder
	b.w.loop.Each(engine.KindClient, func(c *engine.Conn) {
		switch d := c.Data.(type) {
		case *clientConn:
			fmt.Fprintf(&sb, "\tclientConn state %d", d.state)
			if d.r != nil {
				fmt.Fprintf(&sb, ", phase %d, uri %q, upstream %v", d.r.phase, d.r.uri, d.r.up != nil)
			}
			if st := d.h2; st != nil {
				fmt.Fprintf(&sb, ", stream %d: reset %v, rst sent %v, response part %d, end sent %v, body end %v, blocked %v, waiting %v, send window %d, connection closed %v closing %v",
					st.id, st.reset, st.rstSent, st.resp, st.endSent, st.recvEnd, st.blocked, st.waiting, st.sendWindow, st.hc.closed, st.hc.closing)
			}
		case *h2Conn:
			fmt.Fprintf(&sb, "\th2Conn: %d streams, closing %v, closed %v", len(d.streams), d.closing, d.closed)
		default:
			fmt.Fprintf(&sb, "\t%T", d)
		}
		sb.WriteString("\n")
	})
	return sb.String()
}

// TestH2IdleHoldsLittle checks that a connection whose streams are over
// keeps no frame buffer, no decoded fields, no header block buffers and
// no stream map, whether its last stream was answered at once or
// proxied, and that it still serves the next stream, whose header block
// refers to the HPACK table the connection kept. It also checks that
// connections served one after another reuse the worker's frame buffers
// instead of leaving one more in its pool each.
func TestH2IdleHoldsLittle(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from upstream")
	})
	b := newH2Bench(t, `location / { return 200 "own"; } location /up { proxy_pass http://`+up+`; }`)
	held := func(c *h2Client) (what []string) {
		b.do(func() {
			hc, ok := c.m.c.Data.(*h2Conn)
			if !ok {
				what = append(what, "not an HTTP/2 connection")
				return
			}
			for _, x := range []struct {
				name string
				held bool
			}{
				{"read buffer", hc.in != nil}, {"write buffer", hc.out != nil},
				{"stream map", hc.streams != nil}, {"fields", hc.fields != nil},
				{"field bytes", hc.fieldBuf != nil}, {"header block in", hc.blockIn != nil},
				{"header block out", hc.block != nil},
			} {
				if x.held {
					what = append(what, x.name)
				}
			}
		})
		return what
	}
	c := dialH2(b)
	defer c.closeConn()
	stream := uint32(1)
	for _, path := range []string{"/", "/up", "/", "/up"} {
		r := c.roundTrip(stream, "GET", path)
		want := "own"
		if path == "/up" {
			want = "from upstream"
		}
		if r.get(":status") != "200" || string(r.body) != want {
			t.Fatalf("stream %d (%s): %v %q", stream, path, r.fields, r.body)
		}
		// The proxied stream ends when its upstream's answer is in; the
		// connection trims itself after that round's flush.
		deadline := time.Now().Add(5 * time.Second)
		for what := held(c); len(what) > 0; what = held(c) {
			if time.Now().After(deadline) {
				t.Fatalf("idle after stream %d (%s), the connection still holds: %v", stream, path, what)
			}
			time.Sleep(2 * time.Millisecond)
		}
		stream += 2
	}

	var pooled int
	for i := range 10 {
		d := dialH2(b)
		if r := d.roundTrip(1, "GET", "/"); r.get(":status") != "200" {
			t.Fatalf("connection %d: %v", i, r.fields)
		}
		d.closeConn()
		b.do(func() { pooled = len(b.w.h2Bufs) })
	}
	// One connection at a time needs at most a read and a write buffer.
	if pooled > 2 {
		t.Errorf("after 10 connections one after another the worker keeps %d frame buffers, want at most 2", pooled)
	}
}

// TestH2BodyBeforeSettingsAck checks nginx's answer to a stream that
// will carry a body, opened before the client acknowledged the server's
// SETTINGS while http2_body_preread_size is below the default window:
// the client may send the default window's worth, not knowing yet that
// the stream's is smaller, so the stream is refused (REFUSED_STREAM,
// which a client retries) rather than broken by a flow control error. A
// stream without a body is served, and once the SETTINGS are
// acknowledged a body within the window is taken.
func TestH2BodyBeforeSettingsAck(t *testing.T) {
	for _, tt := range []struct {
		preread string
		refused bool
	}{{"10", true}, {"65535", false}} {
		t.Run("preread "+tt.preread, func(t *testing.T) {
			b := newH2Bench(t, `http2_body_preread_size `+tt.preread+`; location / { return 200 "ok"; }`)
			c := dialH2(b)
			post := func(id uint32) []byte {
				return c.headersFrame(id, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "localhost")
			}
			c.send(post(1))
			c.sendData(1, []byte("TEST"), true)
			r := c.response(1)
			if refused := r.reset && r.code == h2.RefusedStream; refused != tt.refused {
				t.Errorf("a body before the SETTINGS ack: reset %v (%v), status %q; want refused %v\n%s", r.reset, r.code, r.get(":status"), tt.refused, c.dump())
			}
			if r := c.roundTrip(3, "GET", "/"); r.reset || r.get(":status") != "200" {
				t.Errorf("a GET before the SETTINGS ack: reset %v (%v), status %q", r.reset, r.code, r.get(":status"))
			}
			c.send(h2RawFrame(h2.TypeSettings, h2.FlagAck, 0, nil), post(5))
			c.sendData(5, []byte("TEST"), true)
			// The answer comes before the body is read: a reset with
			// NO_ERROR may follow it.
			if r := c.response(5); r.reset && r.code != h2.NoError || r.get(":status") != "200" {
				t.Errorf("a body after the SETTINGS ack: reset %v (%v), status %q", r.reset, r.code, r.get(":status"))
			}
		})
	}
}
