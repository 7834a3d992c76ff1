package h2

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// This file reads header blocks (RFC 7541). A block is decoded whole,
// once its last CONTINUATION is in, into fields handed to the caller as
// slices that stay valid until the call returns; nothing is allocated
// per field. Huffman strings are decoded by golang.org/x/net/http2/hpack;
// like nginx, a string whose padding is a whole byte of the EOS code's
// ones (which some encoders write when the code ends on a byte boundary)
// is accepted, while longer padding is refused as the RFC asks.

// ErrCompression is a header block that cannot be decoded: a
// COMPRESSION_ERROR of the connection. ErrTruncated is a block that
// ends inside an integer or a string, which nginx answers with
// FRAME_SIZE_ERROR.
var (
	ErrCompression = errors.New("invalid header block")
	ErrTruncated   = errors.New("truncated header block")
)

// DefaultTableSize is the dynamic table's size until SETTINGS say
// otherwise.
const DefaultTableSize = 4096

// staticTable is RFC 7541 Appendix A.
var staticTable = [...][2]string{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
	{":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
	{":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
	{":status", "404"}, {":status", "500"}, {"accept-charset", ""}, {"accept-encoding", "gzip, deflate"},
	{"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""}, {"access-control-allow-origin", ""},
	{"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
	{"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
	{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
	{"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""},
	{"from", ""}, {"host", ""}, {"if-match", ""}, {"if-modified-since", ""},
	{"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""}, {"last-modified", ""},
	{"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
	{"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
	{"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
	{"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""},
	{"www-authenticate", ""},
}

// tableEntry is an entry of the dynamic table: name and value in one
// allocation.
type tableEntry struct {
	nv      []byte
	nameLen int
}

func (e tableEntry) size() int { return len(e.nv) + 32 }

// Decoder is the decoding context of one connection: its dynamic table.
type Decoder struct {
	// ents holds the dynamic table, oldest first.
	ents    []tableEntry
	size    int
	maxSize int
	// limit is the largest size the peer may set: the
	// SETTINGS_HEADER_TABLE_SIZE this side announced.
	limit   int
	scratch []byte
	sink    sliceWriter
}

// NewDecoder returns a decoder with the default table size.
func NewDecoder() *Decoder {
	return &Decoder{maxSize: DefaultTableSize, limit: DefaultTableSize}
}

// Trim lets go of the scratch space the decoding of Huffman strings
// used; the table stays. A connection calls it when it goes idle.
func (d *Decoder) Trim() {
	d.scratch = nil
	d.sink.b = nil
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// Decode decodes a whole header block, calling emit for each field in
// order; emit's slices are valid only during the call. An error from
// emit stops the decoding and is returned; a block that cannot be
// decoded returns ErrCompression.
func (d *Decoder) Decode(b []byte, emit func(name, value []byte) error) error {
	fields := false
	for len(b) > 0 {
		c := b[0]
		d.scratch = d.scratch[:0]
		switch {
		case c&0x80 != 0:
			// Indexed field.
			idx, n, err := readInt(b, 7)
			if err != nil {
				return err
			}
			if idx == 0 {
				return ErrCompression
			}
			b = b[n:]
			name, value, ok := d.at(idx)
			if !ok {
				return ErrCompression
			}
			fields = true
			if err := emit(name, value); err != nil {
				return err
			}
		case c&0xe0 == 0x20:
			// Dynamic table size update: only before the block's fields.
			v, n, err := readInt(b, 5)
			if err != nil {
				return err
			}
			if fields || v > uint64(d.limit) {
				return ErrCompression
			}
			b = b[n:]
			d.maxSize = int(v)
			d.evict(0)
		default:
			prefix := uint(4)
			index := false
			if c&0xc0 == 0x40 {
				prefix, index = 6, true
			}
			idx, n, err := readInt(b, prefix)
			if err != nil {
				return err
			}
			b = b[n:]
			var name, value []byte
			if idx > 0 {
				var ok bool
				if name, _, ok = d.at(idx); !ok {
					return ErrCompression
				}
			} else {
				if name, b, err = d.readString(b); err != nil {
					return err
				}
			}
			if value, b, err = d.readString(b); err != nil {
				return err
			}
			fields = true
			if err := emit(name, value); err != nil {
				return err
			}
			if index {
				d.add(name, value)
			}
		}
	}
	return nil
}

// intOctets is how many bytes an integer may take with its prefix, as in
// nginx: a longer integer is refused.
const intOctets = 4

// readInt reads an integer with an n-bit prefix (RFC 7541 5.1). It
// returns ErrTruncated when the block ends inside it and ErrCompression
// when it is longer than intOctets bytes.
func readInt(b []byte, n uint) (uint64, int, error) {
	max := uint64(1)<<n - 1
	v := uint64(b[0]) & max
	if v < max {
		return v, 1, nil
	}
	var shift uint
	for i := 1; i < intOctets; i++ {
		if i >= len(b) {
			return 0, 0, ErrTruncated
		}
		v += uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, ErrCompression
}

// readString reads a string literal; a Huffman-coded one is decoded into
// the decoder's scratch buffer.
func (d *Decoder) readString(b []byte) ([]byte, []byte, error) {
	if len(b) == 0 {
		return nil, nil, ErrTruncated
	}
	huff := b[0]&0x80 != 0
	l, n, err := readInt(b, 7)
	if err != nil {
		return nil, nil, err
	}
	if uint64(len(b)-n) < l {
		return nil, nil, ErrTruncated
	}
	s := b[n : n+int(l)]
	rest := b[n+int(l):]
	if !huff {
		return s, rest, nil
	}
	start := len(d.scratch)
	d.sink.b = d.scratch
	if _, err := hpack.HuffmanDecode(&d.sink, s); err != nil {
		// A whole byte of EOS padding, as nginx accepts it.
		if len(s) == 0 || s[len(s)-1] != 0xff {
			return nil, nil, ErrCompression
		}
		d.sink.b = d.scratch
		if _, err := hpack.HuffmanDecode(&d.sink, s[:len(s)-1]); err != nil {
			return nil, nil, ErrCompression
		}
	}
	d.scratch = d.sink.b
	return d.scratch[start:len(d.scratch):len(d.scratch)], rest, nil
}

// at returns the field at a table index: the static table, then the
// dynamic one, newest first.
func (d *Decoder) at(idx uint64) ([]byte, []byte, bool) {
	if idx <= uint64(len(staticTable)) {
		e := &staticTable[idx-1]
		return []byte(e[0]), []byte(e[1]), true
	}
	i := idx - uint64(len(staticTable)) - 1
	if i >= uint64(len(d.ents)) {
		return nil, nil, false
	}
	e := d.ents[len(d.ents)-1-int(i)]
	return e.nv[:e.nameLen], e.nv[e.nameLen:], true
}

// add puts a field in the dynamic table, evicting the oldest to make
// room; a field larger than the table empties it (RFC 7541 4.4).
func (d *Decoder) add(name, value []byte) {
	sz := len(name) + len(value) + 32
	if sz > d.maxSize {
		d.evict(d.maxSize + 1)
		return
	}
	d.evict(sz)
	nv := make([]byte, 0, len(name)+len(value))
	nv = append(append(nv, name...), value...)
	d.ents = append(d.ents, tableEntry{nv: nv, nameLen: len(name)})
	d.size += sz
}

// evict drops the oldest entries until room more bytes fit.
func (d *Decoder) evict(room int) {
	drop := 0
	for drop < len(d.ents) && d.size+room > d.maxSize {
		d.size -= d.ents[drop].size()
		drop++
	}
	if drop > 0 {
		n := copy(d.ents, d.ents[drop:])
		clear(d.ents[n:])
		d.ents = d.ents[:n]
	}
}

// CheckPrefix looks at the start of a header block whose frame has not
// come whole and reports ErrCompression when it already holds an
// integer longer than nginx reads, so that such a block is refused as
// soon as nginx, which decodes as bytes arrive, refuses it. It changes
// nothing: the block is decoded once whole.
func CheckPrefix(b []byte) error {
	fields := 0
	for len(b) > 0 && fields < 64 {
		c := b[0]
		prefix := uint(4)
		switch {
		case c&0x80 != 0:
			prefix = 7
		case c&0xc0 == 0x40:
			prefix = 6
		case c&0xe0 == 0x20:
			prefix = 5
		}
		idx, n, err := readInt(b, prefix)
		if err != nil {
			if err == ErrTruncated {
				return nil
			}
			return err
		}
		b = b[n:]
		fields++
		if prefix == 7 || prefix == 5 {
			continue
		}
		strs := 1
		if idx == 0 {
			strs = 2
		}
		for ; strs > 0; strs-- {
			if len(b) == 0 {
				return nil
			}
			l, n, err := readInt(b, 7)
			if err != nil {
				if err == ErrTruncated {
					return nil
				}
				return err
			}
			if uint64(len(b)-n) < l {
				return nil
			}
			b = b[n+int(l):]
		}
	}
	return nil
}
