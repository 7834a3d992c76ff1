package resp

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// Helpers to build expected values.
func simple(s string) Value { return Value{Kind: KindSimple, Str: []byte(s)} }
func errv(s string) Value   { return Value{Kind: KindError, Str: []byte(s)} }
func integer(n int64) Value { return Value{Kind: KindInteger, Int: n} }
func bulk(s string) Value   { return Value{Kind: KindBulk, Str: []byte(s)} }
func array(vs ...Value) Value {
	if vs == nil {
		vs = []Value{}
	}
	return Value{Kind: KindArray, Array: vs}
}

var null = Value{Kind: KindNull}

// equal compares values as a caller sees them: a nil and an empty Str (or
// Array) are the same.
func equal(a, b Value) bool {
	if a.Kind != b.Kind || a.Int != b.Int || !bytes.Equal(a.Str, b.Str) || len(a.Array) != len(b.Array) {
		return false
	}
	for i := range a.Array {
		if !equal(a.Array[i], b.Array[i]) {
			return false
		}
	}
	return true
}

// show formats a value for failure messages.
func show(v Value) string {
	switch v.Kind {
	case KindSimple:
		return "simple(" + strconv.Quote(string(v.Str)) + ")"
	case KindError:
		return "error(" + strconv.Quote(string(v.Str)) + ")"
	case KindInteger:
		return "integer(" + strconv.FormatInt(v.Int, 10) + ")"
	case KindBulk:
		return "bulk(" + strconv.Quote(string(v.Str)) + ")"
	case KindNull:
		return "null"
	case KindArray:
		parts := make([]string, len(v.Array))
		for i, e := range v.Array {
			parts[i] = show(e)
		}
		return "array[" + strings.Join(parts, ", ") + "]"
	}
	return "kind(" + strconv.Itoa(int(v.Kind)) + ")"
}

// encode appends v in RESP2 as a server would send it, so that a parsed
// reply can be checked against the bytes it came from. Value does not say
// whether a null was written $-1 or *-1, so encode takes that one bit from
// src, the bytes the value is expected to re-encode to, at the offset it
// has reached; everything else it writes from v alone.
func encode(dst []byte, v Value, src []byte) []byte {
	start := len(dst)
	var enc func(v Value)
	enc = func(v Value) {
		switch v.Kind {
		case KindSimple, KindError:
			t := byte('+')
			if v.Kind == KindError {
				t = '-'
			}
			dst = append(dst, t)
			dst = append(dst, v.Str...)
			dst = append(dst, '\r', '\n')
		case KindInteger:
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, v.Int, 10)
			dst = append(dst, '\r', '\n')
		case KindBulk:
			dst = AppendBulk(dst, v.Str)
		case KindNull:
			if off := len(dst) - start; off < len(src) && src[off] == '*' {
				dst = append(dst, "*-1\r\n"...)
			} else {
				dst = append(dst, "$-1\r\n"...)
			}
		case KindArray:
			dst = AppendArrayHeader(dst, len(v.Array))
			for _, e := range v.Array {
				enc(e)
			}
		default:
			dst = append(dst, "?bad kind?"...)
		}
	}
	enc(v)
	return dst
}

type validCase struct {
	name string
	in   string
	want Value
}

var validCases = []validCase{
	{"simple", "+OK\r\n", simple("OK")},
	{"simple empty", "+\r\n", simple("")},
	{"simple with spaces and symbols", "+hello world: $*-+\r\n", simple("hello world: $*-+")},
	{"error", "-ERR unknown command 'FOO'\r\n", errv("ERR unknown command 'FOO'")},
	{"error empty", "-\r\n", errv("")},
	{"error with code", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", errv("WRONGTYPE Operation against a key holding the wrong kind of value")},
	{"integer zero", ":0\r\n", integer(0)},
	{"integer", ":1500\r\n", integer(1500)},
	{"integer negative", ":-42\r\n", integer(-42)},
	{"integer negative with zero digits", ":-100\r\n", integer(-100)},
	{"integer max", ":9223372036854775807\r\n", integer(math.MaxInt64)},
	{"integer min", ":-9223372036854775808\r\n", integer(math.MinInt64)},
	{"bulk", "$5\r\nhello\r\n", bulk("hello")},
	{"bulk empty", "$0\r\n\r\n", bulk("")},
	{"bulk binary with CRLF inside", "$6\r\na\r\nb\x00\xff\r\n", bulk("a\r\nb\x00\xff")},
	{"bulk holding RESP", "$5\r\n+OK\r\n\r\n", bulk("+OK\r\n")},
	{"null bulk", "$-1\r\n", null},
	{"null array", "*-1\r\n", null},
	{"empty array", "*0\r\n", array()},
	{"array of integers", "*3\r\n:1\r\n:1500\r\n:0\r\n", array(integer(1), integer(1500), integer(0))},
	{"array mixed", "*5\r\n+OK\r\n-ERR x\r\n:7\r\n$3\r\nfoo\r\n$-1\r\n", array(simple("OK"), errv("ERR x"), integer(7), bulk("foo"), null)},
	{"array with null array", "*2\r\n*-1\r\n:1\r\n", array(null, integer(1))},
	{"nested arrays", "*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n$1\r\nx\r\n", array(array(integer(1), integer(2)), array(bulk("x")))},
	{"nested empty arrays", "*3\r\n*0\r\n*1\r\n*0\r\n:5\r\n", array(array(), array(array()), integer(5))},
	{"exec reply", "*2\r\n+OK\r\n:3\r\n", array(simple("OK"), integer(3))},
	{"scan reply", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", array(bulk("0"), array(bulk("a"), bulk("b")))},
	{"depth 8", strings.Repeat("*1\r\n", 8) + ":1\r\n",
		array(array(array(array(array(array(array(array(integer(1))))))))),
	},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			// Bytes after the reply, the start of the next one, must be
			// left alone.
			for _, extra := range []string{"", "+OK\r\n", "*", "\r\n", "\x00"} {
				v, n, err := Parse([]byte(tc.in+extra), Limits{})
				if err != nil {
					t.Fatalf("Parse(%q) error: %v", tc.in+extra, err)
				}
				if n != len(tc.in) {
					t.Errorf("Parse(%q) n = %d, want %d", tc.in+extra, n, len(tc.in))
				}
				if !equal(v, tc.want) {
					t.Errorf("Parse(%q) = %s, want %s", tc.in+extra, show(v), show(tc.want))
				}
			}
			v, _, _ := Parse([]byte(tc.in), Limits{})
			if got := encode(nil, v, []byte(tc.in)); string(got) != tc.in {
				t.Errorf("re-encoded as %q, want %q", got, tc.in)
			}
		})
	}
}

type malformedCase struct {
	name   string
	in     string
	reason string // part of the error's text
	lim    Limits
}

var malformedCases = []malformedCase{
	// Type bytes.
	{name: "unknown type byte", in: "?\r\n", reason: "unknown type byte"},
	{name: "leading space", in: " +OK\r\n", reason: "unknown type byte"},
	{name: "leading CRLF", in: "\r\n+OK\r\n", reason: "unknown type byte"},
	{name: "inline reply", in: "OK\r\n", reason: "unknown type byte"},
	{name: "RESP3 null", in: "_\r\n", reason: "RESP3"},
	{name: "RESP3 double", in: ",1.5\r\n", reason: "RESP3"},
	{name: "RESP3 boolean", in: "#t\r\n", reason: "RESP3"},
	{name: "RESP3 big number", in: "(123\r\n", reason: "RESP3"},
	{name: "RESP3 verbatim", in: "=7\r\ntxt:abc\r\n", reason: "RESP3"},
	{name: "RESP3 map", in: "%1\r\n:1\r\n:2\r\n", reason: "RESP3"},
	{name: "RESP3 set", in: "~0\r\n", reason: "RESP3"},
	{name: "RESP3 push", in: ">2\r\n", reason: "RESP3"},
	{name: "RESP3 attribute", in: "|1\r\n", reason: "RESP3"},
	{name: "RESP3 blob error", in: "!3\r\nERR\r\n", reason: "RESP3"},
	{name: "RESP3 inside array", in: "*2\r\n:1\r\n_\r\n", reason: "RESP3"},

	// Line ends.
	{name: "simple bare LF", in: "+OK\n", reason: "LF without CR"},
	{name: "simple LF inside", in: "+O\nK\r\n", reason: "LF without CR"},
	{name: "simple CR inside", in: "+O\rK\r\n", reason: "CR not followed by LF"},
	{name: "simple CR CR LF", in: "+OK\r\r\n", reason: "CR not followed by LF"},
	{name: "error bare LF", in: "-ERR\n", reason: "LF without CR"},
	{name: "integer bare LF", in: ":1\n", reason: "number not followed by CRLF"},
	{name: "integer CR without LF", in: ":1\rx", reason: "CR not followed by LF"},
	{name: "bulk length bare LF", in: "$1\na\r\n", reason: "number not followed by CRLF"},
	{name: "array count bare LF", in: "*1\n:1\r\n", reason: "number not followed by CRLF"},
	{name: "bulk data bare LF", in: "$1\r\na\n", reason: "bulk data not followed by CRLF"},
	{name: "bulk data longer than length", in: "$1\r\nab\r\n", reason: "bulk data not followed by CRLF"},
	{name: "bulk data shorter than length", in: "$3\r\nab\r\n", reason: "bulk data not followed by CRLF"},
	{name: "bulk data CR without LF", in: "$1\r\na\rx", reason: "bulk data not followed by CRLF"},

	// Numbers.
	{name: "integer empty", in: ":\r\n", reason: "number without digits"},
	{name: "integer minus only", in: ":-\r\n", reason: "number without digits"},
	{name: "integer plus sign", in: ":+1\r\n", reason: "number without digits"},
	{name: "integer leading space", in: ": 1\r\n", reason: "number without digits"},
	{name: "integer trailing space", in: ":1 \r\n", reason: "number not followed by CRLF"},
	{name: "integer letter", in: ":12a\r\n", reason: "number not followed by CRLF"},
	{name: "integer double minus", in: ":--1\r\n", reason: "number without digits"},
	{name: "integer leading zero", in: ":01\r\n", reason: "leading zero"},
	{name: "integer negative zero", in: ":-0\r\n", reason: "negative zero"},
	{name: "integer overflow", in: ":9223372036854775808\r\n", reason: "overflows"},
	{name: "integer negative overflow", in: ":-9223372036854775809\r\n", reason: "overflows"},
	{name: "integer 20 digits", in: ":18446744073709551616\r\n", reason: "overflows"},
	{name: "integer decimal point", in: ":1.5\r\n", reason: "number not followed by CRLF"},
	{name: "bulk length empty", in: "$\r\n\r\n", reason: "number without digits"},
	{name: "bulk length letter", in: "$x\r\n", reason: "number without digits"},
	{name: "bulk length leading zero", in: "$01\r\na\r\n", reason: "leading zero"},
	{name: "bulk length negative", in: "$-2\r\n", reason: "negative bulk length"},
	{name: "bulk length overflow", in: "$99999999999999999999\r\n", reason: "overflows"},
	{name: "array count empty", in: "*\r\n", reason: "number without digits"},
	{name: "array count negative", in: "*-2\r\n", reason: "negative array count"},
	{name: "array count leading zero", in: "*00\r\n", reason: "leading zero"},
	{name: "array count negative zero", in: "*-0\r\n", reason: "negative zero"},

	// Inside arrays.
	{name: "malformed element", in: "*2\r\n:1\r\n:x\r\n", reason: "number without digits"},
	{name: "malformed nested element", in: "*1\r\n*1\r\n+a\nb\r\n", reason: "LF without CR"},

	// Limits.
	{name: "bulk beyond default limit", in: "$536870913\r\n", reason: "bulk length beyond the limit"},
	{name: "bulk beyond limit", in: "$4\r\nabcd\r\n", reason: "bulk length beyond the limit", lim: Limits{MaxBulk: 3}},
	{name: "simple beyond limit", in: "+abcd\r\n", reason: "line longer than the bulk limit", lim: Limits{MaxBulk: 3}},
	{name: "simple beyond limit unterminated", in: "+abcd", reason: "line longer than the bulk limit", lim: Limits{MaxBulk: 3}},
	{name: "error beyond limit", in: "-abcd\r\n", reason: "line longer than the bulk limit", lim: Limits{MaxBulk: 3}},
	{name: "array count beyond default limit", in: "*1048577\r\n", reason: "array count beyond the limit"},
	{name: "array count beyond limit", in: "*4\r\n", reason: "array count beyond the limit", lim: Limits{MaxElements: 3}},
	{name: "elements beyond limit in total", in: "*2\r\n*2\r\n", reason: "more array elements", lim: Limits{MaxElements: 3}},
	{name: "elements beyond limit in siblings", in: "*3\r\n*0\r\n*0\r\n*1\r\n", reason: "more array elements", lim: Limits{MaxElements: 3}},
	{name: "huge claimed count", in: "*1073741824\r\n:1\r\n", reason: "array count beyond the limit"},
	{name: "nesting beyond default depth", in: strings.Repeat("*1\r\n", 9), reason: "nested deeper"},
	{name: "nesting beyond depth", in: "*1\r\n*1\r\n*1\r\n", reason: "nested deeper", lim: Limits{MaxDepth: 2}},
	{name: "nesting beyond depth 1", in: "*1\r\n*0\r\n", reason: "nested deeper", lim: Limits{MaxDepth: 1}},
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range malformedCases {
		t.Run(tc.name, func(t *testing.T) {
			// An error is final: more bytes do not turn it into a reply.
			for _, extra := range []string{"", "\r\n", "+OK\r\n" + strings.Repeat(":1\r\n", 10)} {
				in := tc.in + extra
				v, n, err := Parse([]byte(in), tc.lim)
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("Parse(%q) = %s, %d, %v; want a protocol error", in, show(v), n, err)
				}
				if !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("Parse(%q) error %q, want one saying %q", in, err, tc.reason)
				}
				if n != 0 || v.Kind != 0 {
					t.Errorf("Parse(%q) returned n = %d, v = %s with its error", in, n, show(v))
				}
			}
		})
	}
}

func TestErrorOffset(t *testing.T) {
	_, _, err := Parse([]byte("*2\r\n:1\r\n:1x\r\n"), Limits{})
	var pe *protoError
	if !errors.As(err, &pe) || pe.off != 10 {
		t.Fatalf("error %v, want a protocol error at byte 10", err)
	}
	if want := "resp: protocol error at byte 10: number not followed by CRLF"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

func TestParseIncomplete(t *testing.T) {
	for _, in := range []string{
		"", "+", "+OK", "+OK\r", "-ERR", ":", ":-", ":12", ":12\r",
		"$", "$-", "$-1", "$-1\r", "$5", "$5\r\n", "$5\r\nhel", "$5\r\nhello", "$5\r\nhello\r",
		"*", "*-1\r", "*2\r\n", "*2\r\n:1\r\n", "*2\r\n:1\r\n*1\r\n", "*2\r\n*1\r\n$1\r\nx\r",
		// Claims far beyond what is present, within the limits.
		"*1048576\r\n:1\r\n", "$536870912\r\nabc",
	} {
		v, n, err := Parse([]byte(in), Limits{})
		if err != ErrNeedMore || n != 0 || v.Kind != 0 {
			t.Errorf("Parse(%q) = %s, %d, %v; want ErrNeedMore", in, show(v), n, err)
		}
	}
}

// TestHostileClaims checks that a claimed length or count costs nothing
// until its bytes are there, even when the limits allow it.
func TestHostileClaims(t *testing.T) {
	lim := Limits{MaxBulk: math.MaxInt, MaxElements: math.MaxInt, MaxDepth: 1 << 20}
	for _, tc := range []struct {
		in     string
		allocs float64
	}{
		{"*1073741824\r\n:1\r\n", 0},
		{"*" + strconv.Itoa(math.MaxInt-1) + "\r\n*1\r\n", 0},
		{"$" + strconv.Itoa(math.MaxInt) + "\r\nabc", 0},
		{"$" + strconv.Itoa(math.MaxInt-1) + "\r\n", 0},
		{"+" + strings.Repeat("x", 1000), 0},
		// Nesting deeper than 16 grows the walk's stack of open
		// arrays, by amounts bounded by the bytes present.
		{strings.Repeat("*2\r\n", 1000), 8},
	} {
		b := []byte(tc.in)
		allocs := testing.AllocsPerRun(10, func() {
			if _, _, err := Parse(b, lim); err != ErrNeedMore {
				t.Fatalf("Parse(%.40q...) error %v, want ErrNeedMore", tc.in, err)
			}
		})
		if allocs > tc.allocs {
			t.Errorf("Parse(%.40q...) made %v allocations, want at most %v", tc.in, allocs, tc.allocs)
		}
	}
}

func TestLimitsBoundaries(t *testing.T) {
	ok := []struct {
		in  string
		lim Limits
	}{
		{"$3\r\nabc\r\n", Limits{MaxBulk: 3}},
		{"+abc\r\n", Limits{MaxBulk: 3}},
		{"*3\r\n:1\r\n:2\r\n:3\r\n", Limits{MaxElements: 3}},
		{"*2\r\n*1\r\n:1\r\n:2\r\n", Limits{MaxElements: 3}},
		{"*1\r\n*1\r\n:1\r\n", Limits{MaxDepth: 2}},
		{":1\r\n", Limits{MaxDepth: 1, MaxElements: 1, MaxBulk: 1}},
		{"*0\r\n", Limits{MaxDepth: 1, MaxElements: 1}},
		{"*-1\r\n", Limits{MaxDepth: 1, MaxElements: 1}},
		{strings.Repeat("*1\r\n", 8) + "*-1\r\n", Limits{}}, // a null is no array
		{"*1\r\n$-1\r\n", Limits{MaxDepth: 1}},
		{"*-1\r\n", Limits{MaxDepth: -5, MaxElements: -1, MaxBulk: -1}},
	}
	for _, tc := range ok {
		if _, n, err := Parse([]byte(tc.in), tc.lim); err != nil || n != len(tc.in) {
			t.Errorf("Parse(%.40q) with %+v = %d, %v; want all of it", tc.in, tc.lim, n, err)
		}
	}
}

// TestPipelinedSplits parses several pipelined replies read in two parts,
// split at every byte, and read one byte at a time, as an event loop does:
// each reply must come out whole, exactly when its last byte has arrived.
func TestPipelinedSplits(t *testing.T) {
	var stream []byte
	var want []Value
	var ends []int // offset of the end of each reply in stream
	for _, tc := range validCases {
		stream = append(stream, tc.in...)
		want = append(want, tc.want)
		ends = append(ends, len(stream))
	}

	// consume parses the replies at the front of buf, checking them
	// against want[*next:], and returns what is left of buf.
	consume := func(t *testing.T, buf []byte, next *int, read int) []byte {
		t.Helper()
		for {
			v, n, err := Parse(buf, Limits{})
			if err == ErrNeedMore {
				if n != 0 {
					t.Fatalf("ErrNeedMore with n = %d", n)
				}
				if *next < len(ends) && ends[*next] <= read {
					t.Fatalf("reply %d (%s) not parsed with all of its bytes read", *next, validCases[*next].name)
				}
				return buf
			}
			if err != nil {
				t.Fatalf("reply %d (%s): %v", *next, validCases[*next].name, err)
			}
			if *next >= len(want) {
				t.Fatalf("a reply parsed beyond the last")
			}
			if ends[*next] > read {
				t.Fatalf("reply %d parsed before all its bytes were read", *next)
			}
			if !equal(v, want[*next]) || n != len(validCases[*next].in) {
				t.Fatalf("reply %d (%s) = %s, %d; want %s, %d", *next, validCases[*next].name, show(v), n, show(want[*next]), len(validCases[*next].in))
			}
			*next++
			buf = buf[n:]
		}
	}

	for split := 0; split <= len(stream); split++ {
		next := 0
		buf := append([]byte(nil), stream[:split]...)
		buf = consume(t, buf, &next, split)
		buf = append(buf, stream[split:]...)
		buf = consume(t, buf, &next, len(stream))
		if next != len(want) || len(buf) != 0 {
			t.Fatalf("split at %d: parsed %d replies, %d bytes left", split, next, len(buf))
		}
	}

	next := 0
	var buf []byte
	for i := range stream {
		buf = append(buf, stream[i])
		buf = consume(t, buf, &next, i+1)
	}
	if next != len(want) || len(buf) != 0 {
		t.Fatalf("byte by byte: parsed %d replies, %d bytes left", next, len(buf))
	}
}

// TestStrDoesNotClobber checks that appending to a parsed string does not
// write over the bytes after it in the caller's buffer.
func TestStrDoesNotClobber(t *testing.T) {
	in := []byte("*2\r\n$1\r\na\r\n+b\r\n")
	v, _, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_ = append(v.Array[0].Str, "XXXX"...)
	_ = append(v.Array[1].Str, "XXXX"...)
	_ = append(v.Array, integer(1))
	if string(in) != "*2\r\n$1\r\na\r\n+b\r\n" {
		t.Errorf("buffer changed to %q", in)
	}
}

// TestArrayNotNil checks that an array reply's Array is never nil, even
// when empty, so that only Kind tells a null from an empty array.
func TestArrayNotNil(t *testing.T) {
	var walk func(v Value) bool
	walk = func(v Value) bool {
		if v.Kind == KindArray && v.Array == nil {
			return false
		}
		for _, e := range v.Array {
			if !walk(e) {
				return false
			}
		}
		return true
	}
	for _, in := range []string{"*0\r\n", "*1\r\n*0\r\n", "*2\r\n*0\r\n*1\r\n*0\r\n"} {
		v, _, err := Parse([]byte(in), Limits{})
		if err != nil || !walk(v) {
			t.Errorf("Parse(%q) = %s, %v; an array with a nil Array", in, show(v), err)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"+OK\r\n", 0},
		{":1500\r\n", 0},
		{"$5\r\nhello\r\n", 0},
		{"$-1\r\n", 0},
		{"-ERR x\r\n", 0},
		{"*0\r\n", 0},
		{"*3\r\n:1\r\n:1500\r\n:0\r\n", 1},
		{"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n$1\r\nx\r\n", 1},
		{strings.Repeat("*1\r\n", 8) + ":1\r\n", 1},
	} {
		b := []byte(tc.in)
		got := testing.AllocsPerRun(100, func() {
			if _, _, err := Parse(b, Limits{}); err != nil {
				t.Fatal(err)
			}
		})
		if got != tc.want {
			t.Errorf("Parse(%q) made %v allocations, want %v", tc.in, got, tc.want)
		}
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"command", AppendCommand(nil, "SET", "key", "value"), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"},
		{"command no args", AppendCommand(nil), "*0\r\n"},
		{"command empty arg", AppendCommand(nil, "GET", ""), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"},
		{"command binary arg", AppendCommand(nil, "SET", "a\r\nb", "\x00"), "*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$1\r\n\x00\r\n"},
		{"command appends", AppendCommand([]byte("*1\r\n$4\r\nPING\r\n"), "PING"), "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"},
		{"array header", AppendArrayHeader(nil, 12), "*12\r\n"},
		{"null array header", AppendArrayHeader(nil, -1), "*-1\r\n"},
		{"bulk", AppendBulk(nil, []byte("hello")), "$5\r\nhello\r\n"},
		{"bulk nil", AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk string long", AppendBulkString(nil, strings.Repeat("x", 1234)), "$1234\r\n" + strings.Repeat("x", 1234) + "\r\n"},
		{"bulk int", AppendBulkInt(nil, 1500), "$4\r\n1500\r\n"},
		{"bulk int zero", AppendBulkInt(nil, 0), "$1\r\n0\r\n"},
		{"bulk int negative", AppendBulkInt(nil, -7), "$2\r\n-7\r\n"},
		{"bulk int min", AppendBulkInt(nil, math.MinInt64), "$20\r\n-9223372036854775808\r\n"},
		{"bulk int max", AppendBulkInt(nil, math.MaxInt64), "$19\r\n9223372036854775807\r\n"},
		{"built by hand", AppendBulkInt(AppendBulkString(AppendBulkString(AppendArrayHeader(nil, 3), "EXPIRE"), "k"), 60),
			"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n60\r\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestAppendParses checks that a command is itself a valid reply: an array
// of bulk strings that Parse takes back.
func TestAppendParses(t *testing.T) {
	b := AppendCommand(nil, "HSET", "h", "f\r\n", "")
	b = AppendBulkInt(AppendArrayHeader(b, 1), math.MinInt64)
	v, n, err := Parse(b, Limits{})
	if err != nil || !equal(v, array(bulk("HSET"), bulk("h"), bulk("f\r\n"), bulk(""))) {
		t.Fatalf("Parse = %s, %v", show(v), err)
	}
	v, _, err = Parse(b[n:], Limits{})
	if err != nil || !equal(v, array(bulk("-9223372036854775808"))) {
		t.Fatalf("Parse = %s, %v", show(v), err)
	}
	if i, ok := v.Array[0].AsInt(); !ok || i != math.MinInt64 {
		t.Errorf("AsInt = %d, %v", i, ok)
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	got := testing.AllocsPerRun(100, func() {
		b := AppendCommand(buf[:0], "SET", "key", "value")
		b = AppendBulkInt(AppendArrayHeader(b, 1), -12345)
		b = AppendBulk(b, []byte("x"))
		buf = b
	})
	if got != 0 {
		t.Errorf("appending to a buffer with room made %v allocations", got)
	}
}

func TestAsInt(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want int64
		ok   bool
	}{
		{integer(42), 42, true},
		{integer(math.MinInt64), math.MinInt64, true},
		{bulk("1500"), 1500, true},
		{bulk("-3"), -3, true},
		{bulk("0"), 0, true},
		{bulk("9223372036854775807"), math.MaxInt64, true},
		{bulk("-9223372036854775808"), math.MinInt64, true},
		{simple("7"), 7, true},
		{bulk(""), 0, false},
		{bulk("-"), 0, false},
		{bulk("+1"), 0, false},
		{bulk(" 1"), 0, false},
		{bulk("1 "), 0, false},
		{bulk("01"), 0, false},
		{bulk("-0"), 0, false},
		{bulk("1.5"), 0, false},
		{bulk("9223372036854775808"), 0, false},
		{bulk("abc"), 0, false},
		{errv("1"), 0, false},
		{null, 0, false},
		{array(integer(1)), 0, false},
		{Value{}, 0, false},
	} {
		got, ok := tc.v.AsInt()
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s.AsInt() = %d, %v; want %d, %v", show(tc.v), got, ok, tc.want, tc.ok)
		}
	}
}

func TestErr(t *testing.T) {
	buf := []byte("-ERR wrong number of arguments\r\n")
	v, _, err := Parse(buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e := v.Err()
	copy(buf, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")
	if e == nil || e.Error() != "ERR wrong number of arguments" {
		t.Errorf("Err() = %v, want the reply's text, kept after the buffer changed", e)
	}
	for _, v := range []Value{simple("ERR"), bulk("ERR"), integer(1), null, array(errv("x")), {}} {
		if e := v.Err(); e != nil {
			t.Errorf("%s.Err() = %v, want nil", show(v), e)
		}
	}
}

func BenchmarkParseSmallArray(b *testing.B) {
	in := []byte("*3\r\n:1\r\n:1500\r\n:0\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		v, _, err := Parse(in, Limits{})
		if err != nil || len(v.Array) != 3 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBulk(b *testing.B) {
	in := []byte("$11\r\nhello world\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := Parse(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommand(buf[:0], "SET", "session:12345", "some value", "EX", "60")
	}
	b.SetBytes(int64(len(buf)))
}
