// Package resp encodes commands for, and decodes replies from, a Redis
// server speaking RESP2, the Redis serialization protocol of version 2.
//
// The package does no I/O of its own. Its callers run in a single-threaded
// event loop that owns non-blocking sockets: in each iteration of the loop
// they append every command that is due to one output buffer and write it
// at once, and they read whatever bytes have arrived into an input buffer
// and take the replies off its front in the order the commands were sent.
// Nothing in the loop may block, and a read may end anywhere, even inside
// a number, so Parse either returns one whole reply or says, with
// ErrNeedMore, that the caller must read more and try again with the longer
// buffer. It never reads past the reply it returns, so the bytes after it,
// the next pipelined replies, are left for the next call.
//
// Only RESP2 is spoken: the proxy never sends HELLO 3, so a RESP3 type byte
// (such as '_', ',', '#', '%', '~', '>' or '|') in a reply means that the
// connection is out of step with the server, and Parse reports it as a
// protocol error like any other byte that does not start a RESP2 reply.
//
// A reply comes from the network and is not trusted. Parse checks every
// claimed length and count against Limits before believing it, and it
// allocates only once the whole reply is in the buffer, so a few bytes
// claiming a billion elements cost nothing but an ErrNeedMore or an error.
// The grammar is strict: lines end in CRLF exactly, numbers are written as
// Redis writes them (no '+', no spaces, no leading zeros, no "-0"), and
// anything else is a protocol error, after which the connection cannot be
// trusted to be in step and should be closed.
package resp

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// AppendArrayHeader appends the header of an array of n elements, the
// start of every command. It grows b but allocates nothing else, so a loop
// can build a batch of commands in one reused buffer. An n of -1 gives the
// null array.
func AppendArrayHeader(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// AppendBulk appends s as a bulk string. Bulk strings carry their length,
// so s may hold any bytes, CR and LF included.
func AppendBulk(b []byte, s []byte) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBulkString appends s as a bulk string without first converting it
// to a byte slice, which would allocate.
func AppendBulkString(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBulkInt appends v as a bulk string of its decimal digits, which is
// how a command passes a number (such as the seconds of an EXPIRE): Redis
// takes its arguments only as bulk strings.
func AppendBulkInt(b []byte, v int64) []byte {
	var digits [20]byte // the longest int64, -9223372036854775808, has 20 bytes
	d := strconv.AppendInt(digits[:0], v, 10)
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(d)), 10)
	b = append(b, '\r', '\n')
	b = append(b, d...)
	return append(b, '\r', '\n')
}

// AppendCommand appends the command made of args: an array header and one
// bulk string for each argument.
func AppendCommand(b []byte, args ...string) []byte {
	b = AppendArrayHeader(b, len(args))
	for _, a := range args {
		b = AppendBulkString(b, a)
	}
	return b
}

// Kind is the type of a reply.
type Kind uint8

// The kinds of RESP2 reply. The zero Kind is no reply at all, so a zero
// Value cannot be taken for a real one.
const (
	KindSimple  Kind = iota + 1 // +text: a status such as OK
	KindError                   // -text: an error reply, the command failed
	KindInteger                 // :n
	KindBulk                    // $len then len bytes
	KindArray                   // *count then count replies
	KindNull                    // $-1 or *-1: a missing value or array
)

// Value is one parsed reply.
type Value struct {
	Kind Kind
	// Str is the text of a simple string or an error reply, or the
	// contents of a bulk string. It is a slice of the buffer given to
	// Parse rather than a copy, so that a reply costs no allocation for
	// its strings; it is valid only while the caller leaves that part of
	// the buffer unchanged. Copy it before reusing or compacting the
	// buffer if it must live longer.
	Str []byte
	// Int is the value of an integer reply.
	Int int64
	// Array holds the elements of an array reply. The arrays of one reply,
	// nested ones included, share one allocation.
	Array []Value
}

// AsInt reports v as an integer when it is an integer reply, or a bulk or
// simple string holding a decimal integer written as Redis writes one
// (optional '-', digits, no leading zeros). Commands such as INCR reply
// with integers, but a number stored with SET comes back from GET as a
// bulk string, and callers want both as numbers.
func (v Value) AsInt() (int64, bool) {
	switch v.Kind {
	case KindInteger:
		return v.Int, true
	case KindBulk, KindSimple:
		// decimal stops at the end of Str without complaint, so it
		// must have read all of Str, and at least one digit.
		n, end, bad := decimal(v.Str, 0)
		digits := end > 0 && v.Str[end-1] != '-'
		return n, bad == "" && end == len(v.Str) && digits
	}
	return 0, false
}

// Err returns the text of an error reply as an error, so that a caller can
// hand a failed command's reply on as it does any other failure, and nil
// for every other kind of reply. The text is copied, so the error outlives
// the buffer.
func (v Value) Err() error {
	if v.Kind != KindError {
		return nil
	}
	return errors.New(string(v.Str))
}

// ErrNeedMore is returned by Parse when the buffer holds only the start of
// a reply (or nothing): the caller should read more bytes and call Parse
// again with the longer buffer. It is not a failure.
var ErrNeedMore = errors.New("resp: incomplete reply")

// ErrProtocol is what every malformed reply's error wraps; test for it with
// errors.Is. The error itself says what was wrong and at which byte.
var ErrProtocol = errors.New("resp: protocol error")

// protoError says where and why a reply is malformed. It wraps ErrProtocol.
type protoError struct {
	off    int    // offset in the buffer of the byte found wrong
	reason string // what was wrong with it
}

func (e *protoError) Error() string {
	return "resp: protocol error at byte " + strconv.Itoa(e.off) + ": " + e.reason
}

func (e *protoError) Unwrap() error { return ErrProtocol }

func protoErr(off int, reason string) error {
	return &protoError{off: off, reason: reason}
}

// Limits bounds what Parse accepts from a server, so that a broken or
// hostile one cannot make the proxy buffer or allocate without end. A zero
// (or negative) field takes its default.
type Limits struct {
	// MaxBulk is the longest bulk string, and the longest simple string or
	// error text, accepted. The default, 512 MiB, is Redis's own
	// proto-max-bulk-len, so no value Redis stores is refused.
	MaxBulk int
	// MaxElements bounds the elements of one reply, counted over all its
	// arrays, nested ones included. The default is 1<<20. It bounds the
	// one allocation a reply costs, and the work of parsing it again.
	MaxElements int
	// MaxDepth bounds how deeply arrays nest: a reply that is an array
	// has depth 1, an array inside it depth 2, and so on. The default is
	// 8, more than any Redis command's reply needs.
	MaxDepth int
}

// The defaults of Limits.
const (
	defaultMaxBulk     = 512 << 20
	defaultMaxElements = 1 << 20
	defaultMaxDepth    = 8
)

func (lim Limits) withDefaults() Limits {
	if lim.MaxBulk <= 0 {
		lim.MaxBulk = defaultMaxBulk
	}
	if lim.MaxElements <= 0 {
		lim.MaxElements = defaultMaxElements
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = defaultMaxDepth
	}
	return lim
}

// Parse parses one complete reply at the start of b and returns it with the
// number of bytes it took. It returns ErrNeedMore (and n == 0) when b holds
// only part of a reply, so the caller reads more and calls again with the
// longer buffer; it never reads past the reply. A malformed reply, or one
// beyond lim, gives an error wrapping ErrProtocol, as soon as the bytes
// that make it so are in b: waiting for more would not help.
//
// Parse keeps no state between calls, which lets the caller move or grow
// its buffer freely, but a reply that arrives over many reads is parsed
// from its start each time. Bulk contents are skipped by their length, not
// scanned, so that costs little except for arrays of very many elements;
// read as much as the socket has before calling Parse again.
//
// A scalar reply costs no allocation. An array reply costs one: Parse
// first walks the whole reply to check it and count its elements, then
// makes one slice for all of them and fills it.
func Parse(b []byte, lim Limits) (v Value, n int, err error) {
	lim = lim.withDefaults()
	v, count, next, err := readItem(b, 0, &lim)
	if err != nil {
		return Value{}, 0, err
	}
	if v.Kind != KindArray {
		return v, next, nil
	}
	total, end, err := scan(b, next, count, &lim)
	if err != nil {
		return Value{}, 0, err
	}
	if total == count {
		v.Array, err = buildFlat(b[:end], next, count, &lim)
	} else {
		v.Array, err = build(b[:end], next, count, total, &lim)
	}
	if err != nil {
		return Value{}, 0, err
	}
	return v, end, nil
}

// scan walks the elements of an array of count elements whose header ends
// at b[i], checking each element and the limits, without allocating (for
// depths up to 16). It returns the number of elements of all the reply's
// arrays, and the offset just past the reply. A reply with as many
// elements in all as its outer array has holds no array with elements of
// its own.
func scan(b []byte, i, count int, lim *Limits) (total, end int, err error) {
	var fixed [16]int
	left := append(fixed[:0], count) // elements still to read, per open array
	total = count
	for len(left) > 0 {
		top := len(left) - 1
		if left[top] == 0 {
			left = left[:top]
			continue
		}
		left[top]--
		v, c, next, err := readItem(b, i, lim)
		if err != nil {
			return 0, 0, err
		}
		if v.Kind == KindArray {
			if len(left) >= lim.MaxDepth {
				return 0, 0, protoErr(i, "arrays nested deeper than the limit")
			}
			if c > lim.MaxElements-total {
				return 0, 0, protoErr(i, "more array elements in the reply than the limit")
			}
			total += c
			left = append(left, c)
		}
		i = next
	}
	return total, i, nil
}

// buildFlat makes the elements of an array of count elements whose header
// ends at b[i], none of which is an array with elements of its own (the
// common reply), without the bookkeeping build needs for nested arrays.
func buildFlat(b []byte, i, count int, lim *Limits) ([]Value, error) {
	all := make([]Value, count)
	for k := range all {
		v, _, next, err := readItem(b, i, lim)
		if err != nil {
			return nil, err
		}
		if v.Kind == KindArray {
			v.Array = all[:0:0] // empty, as in build, and not nil
		}
		all[k] = v
		i = next
	}
	return all, nil
}

// build makes the elements of the array of count elements whose header
// ends at b[i], in one slice of total Values shared by all of the reply's
// arrays. scan has checked b, so reading it again does not fail, but if it
// did the error would be returned rather than a half-built reply.
func build(b []byte, i, count, total int, lim *Limits) ([]Value, error) {
	all := make([]Value, total)
	used := count
	type frame struct {
		arr  []Value // an array being filled
		next int     // index in arr of its next element
	}
	var fixed [defaultMaxDepth]frame
	stack := append(fixed[:0], frame{arr: all[:count:count]})
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == len(f.arr) {
			stack = stack[:len(stack)-1]
			continue
		}
		v, c, next, err := readItem(b, i, lim)
		if err != nil {
			return nil, err
		}
		i = next
		if v.Kind == KindArray {
			v.Array = all[used : used+c : used+c]
			used += c
		}
		f.arr[f.next] = v
		f.next++
		if v.Kind == KindArray {
			stack = append(stack, frame{arr: v.Array})
		}
	}
	return all[:count:count], nil
}

// readItem reads the reply that starts at b[i], except the elements of an
// array: for an array it returns a Value of KindArray with no elements,
// and the element count in c. next is the offset just past what it read.
func readItem(b []byte, i int, lim *Limits) (v Value, c int, next int, err error) {
	if i >= len(b) {
		return Value{}, 0, 0, ErrNeedMore
	}
	switch t := b[i]; t {
	case '+', '-':
		line, next, err := readLine(b, i+1, lim.MaxBulk)
		if err != nil {
			return Value{}, 0, 0, err
		}
		k := KindSimple
		if t == '-' {
			k = KindError
		}
		return Value{Kind: k, Str: line}, 0, next, nil
	case ':':
		n, next, err := readNumber(b, i+1)
		if err != nil {
			return Value{}, 0, 0, err
		}
		return Value{Kind: KindInteger, Int: n}, 0, next, nil
	case '$':
		n, start, err := readNumber(b, i+1)
		if err != nil {
			return Value{}, 0, 0, err
		}
		if n == -1 {
			return Value{Kind: KindNull}, 0, start, nil
		}
		if n < 0 {
			return Value{}, 0, 0, protoErr(i+1, "negative bulk length")
		}
		if n > int64(lim.MaxBulk) {
			return Value{}, 0, 0, protoErr(i+1, "bulk length beyond the limit")
		}
		// Compare with what is left rather than computing start+n+2,
		// which could overflow when MaxBulk is near the largest int.
		size, avail := int(n), len(b)-start
		if size > avail-2 {
			// The check of the CRLF after the data cannot wait for
			// the whole of it when its first byte is already wrong.
			if avail > size && b[start+size] != '\r' {
				return Value{}, 0, 0, protoErr(start+size, "bulk data not followed by CRLF")
			}
			return Value{}, 0, 0, ErrNeedMore
		}
		end := start + size
		if b[end] != '\r' || b[end+1] != '\n' {
			off := end
			if b[end] == '\r' {
				off++
			}
			return Value{}, 0, 0, protoErr(off, "bulk data not followed by CRLF")
		}
		return Value{Kind: KindBulk, Str: b[start:end:end]}, 0, end + 2, nil
	case '*':
		n, next, err := readNumber(b, i+1)
		if err != nil {
			return Value{}, 0, 0, err
		}
		if n == -1 {
			return Value{Kind: KindNull}, 0, next, nil
		}
		if n < 0 {
			return Value{}, 0, 0, protoErr(i+1, "negative array count")
		}
		if n > int64(lim.MaxElements) {
			return Value{}, 0, 0, protoErr(i+1, "array count beyond the limit")
		}
		return Value{Kind: KindArray}, int(n), next, nil
	case '_', ',', '#', '(', '=', '%', '~', '>', '|', '!':
		return Value{}, 0, 0, protoErr(i, "RESP3 type byte "+strconv.QuoteRune(rune(t))+" (only RESP2 is spoken)")
	default:
		return Value{}, 0, 0, protoErr(i, "unknown type byte "+strconv.QuoteRune(rune(t)))
	}
}

// readLine reads the text of a simple string or error reply starting at
// b[i], up to and past its CRLF. It reports a bare LF, or a CR not followed
// by LF, as soon as it sees one, and a line longer than max even before its
// end has come, so a server cannot make the caller buffer without end.
func readLine(b []byte, i, max int) (line []byte, next int, err error) {
	rest := b[i:]
	cr := bytes.IndexByte(rest, '\r')
	if cr < 0 {
		if lf := bytes.IndexByte(rest, '\n'); lf >= 0 {
			return nil, 0, protoErr(i+lf, "LF without CR")
		}
		if len(rest) > max {
			return nil, 0, protoErr(i+max, "line longer than the bulk limit")
		}
		return nil, 0, ErrNeedMore
	}
	if lf := bytes.IndexByte(rest[:cr], '\n'); lf >= 0 {
		return nil, 0, protoErr(i+lf, "LF without CR")
	}
	if cr > max {
		return nil, 0, protoErr(i+max, "line longer than the bulk limit")
	}
	if cr+1 == len(rest) {
		return nil, 0, ErrNeedMore
	}
	if rest[cr+1] != '\n' {
		return nil, 0, protoErr(i+cr+1, "CR not followed by LF")
	}
	return rest[:cr:cr], i + cr + 2, nil
}

// readNumber reads the decimal number starting at b[i] and its CRLF.
func readNumber(b []byte, i int) (n int64, next int, err error) {
	n, j, bad := decimal(b, i)
	switch {
	case bad != "":
		return 0, 0, protoErr(j, bad)
	case j == len(b):
		return 0, 0, ErrNeedMore
	case b[j] != '\r':
		return 0, 0, protoErr(j, "number not followed by CRLF")
	case j+1 == len(b):
		return 0, 0, ErrNeedMore
	case b[j+1] != '\n':
		return 0, 0, protoErr(j+1, "CR not followed by LF")
	}
	return n, j + 2, nil
}

// decimal reads an int64 written as Redis writes one, an optional '-' then
// 1 to 19 digits without leading zeros, from b[i:], stopping at the first
// byte that cannot continue it, whose offset it returns in end. When the
// bytes there cannot start a number, bad says why and end is the offset of
// the byte that makes them wrong. A number cut short by the end of b is
// not bad (more bytes may complete it); the caller must tell by end ==
// len(b) whether the number has ended.
func decimal(b []byte, i int) (n int64, end int, bad string) {
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -9223372036854775808 has no positive counterpart
	}
	start := i
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			break
		}
		if i > start && b[start] == '0' {
			return 0, i, "number with a leading zero"
		}
		if neg && c == '0' && i == start {
			return 0, i, "negative zero"
		}
		d := uint64(c - '0')
		if u > (limit-d)/10 { // u*10+d > limit, without overflowing
			return 0, i, "number overflows int64"
		}
		u = u*10 + d
	}
	if i == start && i < len(b) {
		return 0, i, "number without digits"
	}
	if neg {
		return int64(-u), i, "" // wraps to MinInt64 as it should
	}
	return int64(u), i, ""
}
