package h2

import (
	"bytes"
	"testing"
)

// TestHeaderRoundTrip checks that AppendHeader writes the nine bytes RFC
// 9113 4.1 lays out and that ParseHeader reads them back, for lengths and
// stream identifiers at the edges of their fields.
func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		h     Header
		bytes []byte
	}{
		{"empty settings", Header{0, TypeSettings, 0, 0},
			[]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}},
		{"data end stream", Header{5, TypeData, FlagEndStream, 1},
			[]byte{0, 0, 5, 0, 1, 0, 0, 0, 1}},
		{"headers with flags", Header{16384, TypeHeaders, FlagEndHeaders | FlagPadded | FlagPriority, 3},
			[]byte{0, 0x40, 0, 1, 0x2c, 0, 0, 0, 3}},
		{"largest length", Header{MaxFrameSizeLimit, TypeContinuation, 0, 0x01020304},
			[]byte{0xff, 0xff, 0xff, 9, 0, 1, 2, 3, 4}},
		{"largest stream", Header{4, TypeWindowUpdate, 0, 1<<31 - 1},
			[]byte{0, 0, 4, 8, 0, 0x7f, 0xff, 0xff, 0xff}},
		{"unknown type", Header{1, Type(0xfa), 0xff, 7},
			[]byte{0, 0, 1, 0xfa, 0xff, 0, 0, 0, 7}},
	}
	for _, tc := range tests {
		got := AppendHeader([]byte("x"), int(tc.h.Length), tc.h.Type, tc.h.Flags, tc.h.StreamID)
		if !bytes.Equal(got[1:], tc.bytes) || got[0] != 'x' {
			t.Errorf("%s: AppendHeader wrote % x, want x followed by % x", tc.name, got, tc.bytes)
		}
		if h := ParseHeader(tc.bytes); h != tc.h {
			t.Errorf("%s: ParseHeader read %+v, want %+v", tc.name, h, tc.h)
		}
	}
}

// TestParseHeaderReservedBit checks that the reserved bit in front of the
// stream identifier is ignored, as RFC 9113 4.1 requires of a receiver,
// and that bytes after the header are not read.
func TestParseHeaderReservedBit(t *testing.T) {
	b := []byte{0, 0, 8, byte(TypePing), FlagAck, 0x80, 0, 0, 5, 0xee}
	h := ParseHeader(b)
	want := Header{Length: 8, Type: TypePing, Flags: FlagAck, StreamID: 5}
	if h != want {
		t.Fatalf("ParseHeader read %+v, want %+v", h, want)
	}
	b[5] = 0xff
	if h := ParseHeader(b); h.StreamID != 0x7f000005 {
		t.Errorf("stream with the reserved bit set: %#x, want %#x", h.StreamID, 0x7f000005)
	}
	if !h.Has(FlagAck) || h.Has(FlagEndHeaders) {
		t.Errorf("Has: ack %v, end headers %v; want true, false", h.Has(FlagAck), h.Has(FlagEndHeaders))
	}
}

// TestSettings checks the SETTINGS frames written and the settings read
// from a payload.
func TestSettings(t *testing.T) {
	got := AppendSettings(nil,
		Setting{SettingMaxConcurrentStreams, 128},
		Setting{SettingInitialWindowSize, 65536},
		Setting{SettingMaxFrameSize, 1<<24 - 1})
	want := []byte{
		0, 0, 18, 4, 0, 0, 0, 0, 0,
		0, 3, 0, 0, 0, 128,
		0, 4, 0, 1, 0, 0,
		0, 5, 0, 0xff, 0xff, 0xff,
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendSettings wrote\n% x\nwant\n% x", got, want)
	}
	p := got[HeaderLen:]
	for i, s := range []Setting{{3, 128}, {4, 65536}, {5, 1<<24 - 1}} {
		if g := ParseSetting(p, i); g != s {
			t.Errorf("ParseSetting(%d) = %+v, want %+v", i, g, s)
		}
	}
	if got := AppendSettings(nil); !bytes.Equal(got, []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) {
		t.Errorf("empty SETTINGS: % x", got)
	}
	if got := AppendSettingsAck(nil); !bytes.Equal(got, []byte{0, 0, 0, 4, 1, 0, 0, 0, 0}) {
		t.Errorf("SETTINGS ack: % x", got)
	}
	// A value with the high bit set is read whole: only some settings
	// bound it, and that is the caller's to check.
	if g := ParseSetting([]byte{0xab, 0xcd, 0x80, 0, 0, 1}, 0); g != (Setting{0xabcd, 0x80000001}) {
		t.Errorf("ParseSetting of an unknown setting: %+v", g)
	}
}

// TestControlFrames checks the bytes of the control frames the
// connection writes.
func TestControlFrames(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"connection window update", AppendWindowUpdate(nil, 0, MaxWindow-DefaultWindow),
			[]byte{0, 0, 4, 8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0, 0}},
		{"stream window update", AppendWindowUpdate(nil, 7, 1),
			[]byte{0, 0, 4, 8, 0, 0, 0, 0, 7, 0, 0, 0, 1}},
		{"rst protocol error", AppendRSTStream(nil, 1, ProtocolError),
			[]byte{0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 1}},
		{"rst refused", AppendRSTStream(nil, 0x123, RefusedStream),
			[]byte{0, 0, 4, 3, 0, 0, 0, 1, 0x23, 0, 0, 0, 7}},
		{"goaway", AppendGoAway(nil, 5, CompressionError),
			[]byte{0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 9}},
		{"goaway no error", AppendGoAway(nil, 0, NoError),
			[]byte{0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"ping ack", AppendPingAck(nil, []byte("12345678extra")),
			[]byte{0, 0, 8, 6, 1, 0, 0, 0, 0, '1', '2', '3', '4', '5', '6', '7', '8'}},
	}
	for _, tc := range tests {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, tc.got, tc.want)
		}
	}
	// Frames are appended to what the buffer holds.
	b := AppendRSTStream([]byte{0xaa}, 3, Cancel)
	if b[0] != 0xaa || len(b) != 1+HeaderLen+4 {
		t.Errorf("AppendRSTStream did not append: % x", b)
	}
}

// TestUint31 checks the 31- and 32-bit readers.
func TestUint31(t *testing.T) {
	if got := Uint31([]byte{0xff, 0xff, 0xff, 0xff}); got != 1<<31-1 {
		t.Errorf("Uint31 = %#x", got)
	}
	if got := Uint31([]byte{0, 0, 1, 0}); got != 256 {
		t.Errorf("Uint31 = %d", got)
	}
	if got := Uint32([]byte{0xff, 0xff, 0xff, 0xff}); got != 1<<32-1 {
		t.Errorf("Uint32 = %#x", got)
	}
}

// TestErrCodeString checks the names of the error codes, and that a code
// RFC 9113 does not define has a name too.
func TestErrCodeString(t *testing.T) {
	tests := []struct {
		code ErrCode
		want string
	}{
		{NoError, "NO_ERROR"},
		{ProtocolError, "PROTOCOL_ERROR"},
		{InternalError, "INTERNAL_ERROR"},
		{FlowControlError, "FLOW_CONTROL_ERROR"},
		{SettingsTimeout, "SETTINGS_TIMEOUT"},
		{StreamClosed, "STREAM_CLOSED"},
		{FrameSizeError, "FRAME_SIZE_ERROR"},
		{RefusedStream, "REFUSED_STREAM"},
		{Cancel, "CANCEL"},
		{CompressionError, "COMPRESSION_ERROR"},
		{ConnectError, "CONNECT_ERROR"},
		{EnhanceYourCalm, "ENHANCE_YOUR_CALM"},
		{InadequateSecurity, "INADEQUATE_SECURITY"},
		{HTTP11Required, "HTTP_1_1_REQUIRED"},
		{0xe, "UNKNOWN_ERROR"},
		{0xffffffff, "UNKNOWN_ERROR"},
	}
	for _, tc := range tests {
		if got := tc.code.String(); got != tc.want {
			t.Errorf("ErrCode(%#x).String() = %q, want %q", uint32(tc.code), got, tc.want)
		}
	}
}
