// Package h2 is HTTP/2's framing layer without I/O (RFC 9113 section 4
// and 6): frame headers read from and written into byte slices that the
// connection owns, the frame types, flags, settings and error codes. The
// proxy's HTTP/2 connection parses frames in place from its read buffer
// and appends the frames it sends to its write buffer, so that a frame
// that arrives in pieces waits in the buffer rather than being lost to a
// reader that wants it whole.
package h2

import "encoding/binary"

// Preface is what a client sends first on an HTTP/2 connection, before
// its SETTINGS frame (RFC 9113 3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// HeaderLen is the length of a frame header.
const HeaderLen = 9

// DefaultMaxFrameSize is the largest frame payload a peer accepts until
// its SETTINGS say otherwise; MaxFrameSizeLimit is the largest it may
// announce.
const (
	DefaultMaxFrameSize = 16384
	MaxFrameSizeLimit   = 1<<24 - 1
)

// DefaultWindow is every flow-control window's size until SETTINGS or
// WINDOW_UPDATE change it; MaxWindow is the largest a window may grow.
const (
	DefaultWindow = 65535
	MaxWindow     = 1<<31 - 1
)

// Type is a frame type.
type Type uint8

// Frame types (RFC 9113 6).
const (
	TypeData         Type = 0x0
	TypeHeaders      Type = 0x1
	TypePriority     Type = 0x2
	TypeRSTStream    Type = 0x3
	TypeSettings     Type = 0x4
	TypePushPromise  Type = 0x5
	TypePing         Type = 0x6
	TypeGoAway       Type = 0x7
	TypeWindowUpdate Type = 0x8
	TypeContinuation Type = 0x9
)

// Frame flags; which apply depends on the type.
const (
	FlagEndStream  = 0x1
	FlagAck        = 0x1
	FlagEndHeaders = 0x4
	FlagPadded     = 0x8
	FlagPriority   = 0x20
)

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 7).
type ErrCode uint32

// Error codes.
const (
	NoError            ErrCode = 0x0
	ProtocolError      ErrCode = 0x1
	InternalError      ErrCode = 0x2
	FlowControlError   ErrCode = 0x3
	SettingsTimeout    ErrCode = 0x4
	StreamClosed       ErrCode = 0x5
	FrameSizeError     ErrCode = 0x6
	RefusedStream      ErrCode = 0x7
	Cancel             ErrCode = 0x8
	CompressionError   ErrCode = 0x9
	ConnectError       ErrCode = 0xa
	EnhanceYourCalm    ErrCode = 0xb
	InadequateSecurity ErrCode = 0xc
	HTTP11Required     ErrCode = 0xd
)

var errNames = [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
	"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

// String is the code's name in RFC 9113.
func (e ErrCode) String() string {
	if int(e) < len(errNames) {
		return errNames[e]
	}
	return "UNKNOWN_ERROR"
}

// Setting identifiers (RFC 9113 6.5.2).
const (
	SettingHeaderTableSize      = 0x1
	SettingEnablePush           = 0x2
	SettingMaxConcurrentStreams = 0x3
	SettingInitialWindowSize    = 0x4
	SettingMaxFrameSize         = 0x5
	SettingMaxHeaderListSize    = 0x6
)

// Header is a frame header.
type Header struct {
	Length   uint32
	Type     Type
	Flags    uint8
	StreamID uint32
}

// Has reports whether the header carries flag f.
func (h Header) Has(f uint8) bool { return h.Flags&f != 0 }

// ParseHeader reads the frame header at the start of b, which holds at
// least HeaderLen bytes. The reserved bit of the stream identifier is
// ignored, as the RFC asks.
func ParseHeader(b []byte) Header {
	_ = b[8]
	return Header{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     Type(b[3]),
		Flags:    b[4],
		StreamID: binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1),
	}
}

// AppendHeader appends a frame header.
func AppendHeader(dst []byte, length int, t Type, flags uint8, stream uint32) []byte {
	return append(dst, byte(length>>16), byte(length>>8), byte(length), byte(t), flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
}

// Setting is one identifier and value of a SETTINGS frame.
type Setting struct {
	ID  uint16
	Val uint32
}

// AppendSettings appends a SETTINGS frame with the given settings.
func AppendSettings(dst []byte, s ...Setting) []byte {
	dst = AppendHeader(dst, 6*len(s), TypeSettings, 0, 0)
	for _, x := range s {
		dst = binary.BigEndian.AppendUint16(dst, x.ID)
		dst = binary.BigEndian.AppendUint32(dst, x.Val)
	}
	return dst
}

// AppendSettingsAck appends the acknowledgement of the peer's SETTINGS.
func AppendSettingsAck(dst []byte) []byte {
	return AppendHeader(dst, 0, TypeSettings, FlagAck, 0)
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame.
func AppendWindowUpdate(dst []byte, stream uint32, incr uint32) []byte {
	dst = AppendHeader(dst, 4, TypeWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(dst, incr)
}

// AppendRSTStream appends a RST_STREAM frame.
func AppendRSTStream(dst []byte, stream uint32, code ErrCode) []byte {
	dst = AppendHeader(dst, 4, TypeRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

// AppendGoAway appends a GOAWAY frame naming the last stream the sender
// processed or may still process.
func AppendGoAway(dst []byte, lastStream uint32, code ErrCode) []byte {
	dst = AppendHeader(dst, 8, TypeGoAway, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, lastStream)
	return binary.BigEndian.AppendUint32(dst, uint32(code))
}

// AppendPingAck appends the answer to a PING with its opaque data.
func AppendPingAck(dst []byte, data []byte) []byte {
	dst = AppendHeader(dst, 8, TypePing, FlagAck, 0)
	return append(dst, data[:8]...)
}

// ParseSetting reads the i-th setting of a SETTINGS payload.
func ParseSetting(p []byte, i int) Setting {
	b := p[6*i:]
	return Setting{ID: binary.BigEndian.Uint16(b), Val: binary.BigEndian.Uint32(b[2:])}
}

// Uint31 reads a 31-bit value (a stream identifier or a window
// increment) ignoring the reserved bit.
func Uint31(b []byte) uint32 { return binary.BigEndian.Uint32(b) & (1<<31 - 1) }

// Uint32 reads a 32-bit value (an error code).
func Uint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
