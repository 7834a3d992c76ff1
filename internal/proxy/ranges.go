package proxy

import (
	"bytes"
	"strconv"
	"sync/atomic"

	"headroom/internal/http1"
)

// This file is nginx's range filter (ngx_http_range_filter_module) for
// the answers it applies to in headroom: files sent by the static
// handler (and error pages sent as 200 from a file). nginx lets ranges
// apply to a proxied answer only with proxy_force_ranges or from its
// cache, neither of which headroom has, so a proxied answer passes with
// its own Range handling, as nginx passes it without them.
//
// One range is a 206 whose body is that part of the file, sent with
// sendfile(2) like any file. Several are a multipart/byteranges 206
// whose length is computed before the head is written; each part's
// head is made as the part comes up and copied into the output buffer,
// and the part's bytes are sent from the file like a single range, so
// the answer never holds more than one part head in memory and never
// waits for the client on the worker's thread.

// byteSpan is one range of a file: [start, end).
type byteSpan struct{ start, end int64 }

// Outcomes of parseRanges.
const (
	// rangeWhole answers with the whole file, as if there were no Range.
	rangeWhole = iota
	// rangeOK answers 206 with the ranges found.
	rangeOK
	// rangeUnsatisfiable answers 416.
	rangeUnsatisfiable
)

// parseRanges reads the ranges of a "bytes=" Range value (without the
// prefix) for a file of size bytes, by nginx's rules, appending them to
// dst in the order asked for (unsorted and overlapping ranges are kept,
// as nginx keeps them):
//
//   - spaces (not tabs) may stand around the numbers and the comma, but
//     not between a suffix range's "-" and its number;
//   - "N-" runs to the end, "-N" is the last N bytes (the whole file when
//     N is larger), and a last byte past the end is cut to it;
//   - a range that starts at or past the end is left out, unless it
//     starts at 0 (an empty file), which gives the whole file;
//   - anything malformed, a number past the largest file offset, or no
//     range left is unsatisfiable;
//   - more than maxRanges ranges, or ranges together longer than the file (so
//     that a few bytes of request cannot ask for a huge answer), give the
//     whole file, as nginx does since CVE-2011-3192; their sum is checked
//     for overflow before it is added (CVE-2017-7529).
func parseRanges(dst []byteSpan, p []byte, size int64, maxRanges int) ([]byteSpan, int) {
	const maxOff = int64(^uint64(0) >> 1)
	var total int64
	left := maxRanges
	i := 0
	skip := func() {
		for i < len(p) && p[i] == ' ' {
			i++
		}
	}
	// number reads digits, failing on none and on a value past maxOff.
	number := func() (int64, bool) {
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return 0, false
		}
		var v int64
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			d := int64(p[i] - '0')
			if v > (maxOff-d)/10 {
				return 0, false
			}
			v = v*10 + d
			i++
		}
		return v, true
	}
	for {
		var s, e int64
		skip()
		if i < len(p) && p[i] == '-' {
			// A suffix: the last v bytes.
			i++
			v, ok := number()
			if !ok {
				return dst, rangeUnsatisfiable
			}
			skip()
			if i < len(p) && p[i] != ',' {
				return dst, rangeUnsatisfiable
			}
			s, e = 0, size
			if v < size {
				s = size - v
			}
		} else {
			v, ok := number()
			if !ok {
				return dst, rangeUnsatisfiable
			}
			s = v
			skip()
			if i >= len(p) || p[i] != '-' {
				return dst, rangeUnsatisfiable
			}
			i++
			skip()
			if i >= len(p) || p[i] == ',' {
				e = size
			} else {
				v, ok := number()
				if !ok {
					return dst, rangeUnsatisfiable
				}
				skip()
				if i < len(p) && p[i] != ',' {
					return dst, rangeUnsatisfiable
				}
				e = size
				if v < size {
					e = v + 1
				}
			}
		}
		if s < e {
			dst = append(dst, byteSpan{s, e})
			if total > maxOff-(e-s) {
				return dst, rangeUnsatisfiable
			}
			total += e - s
			if left == 0 {
				return dst, rangeWhole
			}
			left--
		} else if s == 0 {
			return dst, rangeWhole
		}
		if i >= len(p) || p[i] != ',' {
			break
		}
		i++
	}
	switch {
	case len(dst) == 0:
		return dst, rangeUnsatisfiable
	case total > size:
		return dst, rangeWhole
	}
	return dst, rangeOK
}

// byteRange applies a Range request to a file's 200 answer, as nginx's
// range header filter does: 206 with Content-Range and the range's bytes
// for one range, a multipart/byteranges 206 for several, 416 for ranges
// the file cannot satisfy, else the whole file with Accept-Ranges.
// If-Range must name the answer's entity tag or modification time;
// max_ranges 0 leaves the answer alone, without Accept-Ranges. It
// returns false when the request was answered here (416).
func (cc *clientConn) byteRange(h *outHead, size int64) bool {
	r := cc.r
	if r.gzipped || h.lengthLost || r.staticGzip || cc.sub != nil {
		// A compressed answer has no ranges: nginx's gzip filter takes
		// them away before the range filter, and gzip_static's handler
		// does not allow them; nor has one whose length a filter made
		// unknown (gunzip, a conversion into or out of UTF-8), which
		// nginx's range filter needs.
		return true
	}
	maxRanges := r.lc.Static.MaxRanges
	if maxRanges == 0 {
		return true
	}
	spec := headerValue(r.head.Headers, "Range")
	if spec == nil || len(spec) < 7 || !http1.EqualFold(spec[:6], "bytes=") {
		h.add(nameAcceptRanges, valueBytes)
		return true
	}
	if ir := headerValue(r.head.Headers, "If-Range"); ir != nil && !cc.ifRangeHolds(h, ir) {
		h.add(nameAcceptRanges, valueBytes)
		return true
	}
	// A request for one range, the common case, parses into an array
	// on the stack; a multipart answer keeps a copy of its ranges.
	var few [4]byteSpan
	spans, verdict := parseRanges(few[:0], spec[6:], size, maxRanges)
	switch verdict {
	case rangeOK:
		h.status, h.reason = 206, nil
		if len(spans) == 1 {
			sp := spans[0]
			if !h.chunked {
				h.contentLength = sp.end - sp.start
			}
			r.file.off, r.file.end = r.file.base+sp.start, r.file.base+sp.end
			h.del(nameContentRange)
			at := len(h.scratch)
			h.scratch = append(h.scratch, "bytes "...)
			h.scratch = appendSpan(h.scratch, sp, size)
			h.add(nameContentRange, h.kept(at))
			return true
		}
		h.del(nameContentRange)
		m := newMultipart(h, append([]byteSpan(nil), spans...), size)
		if !h.chunked {
			h.contentLength = m.total
		}
		r.file.multi = m
		// The first part's head comes before any of the file.
		r.file.off, r.file.end = r.file.base, r.file.base
	case rangeUnsatisfiable:
		r.closeFile()
		r.unsatisfied, r.fileSize = true, size
		cc.respondError(416)
		return false
	default:
		h.add(nameAcceptRanges, valueBytes)
	}
	return true
}

// ifRangeHolds reports whether If-Range lets the ranges apply: a value
// ending in a quote is an entity tag, equal to the answer's; anything
// else is a date, equal to its modification time (as add_header left
// them).
func (cc *clientConn) ifRangeHolds(h *outHead, ir []byte) bool {
	if n := len(ir); n >= 2 && ir[n-1] == '"' {
		etag := headerValue(h.fields, "ETag")
		return etag != nil && bytes.Equal(ir, etag)
	}
	t, parsed := parseHTTPDate(ir)
	if !parsed {
		return false
	}
	lm := h.lastModified
	if lm.IsZero() {
		// add_header replaced it.
		if v := headerValue(h.fields, "Last-Modified"); v != nil {
			lm, _ = parseHTTPDate(v)
		}
	}
	return !lm.IsZero() && t.Equal(lm)
}

// appendSpan appends "START-END/SIZE", a Content-Range's numbers.
func appendSpan(b []byte, sp byteSpan, size int64) []byte {
	b = strconv.AppendInt(b, sp.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, sp.end-1, 10)
	b = append(b, '/')
	return strconv.AppendInt(b, size, 10)
}

// boundaryDigits is the width of a multipart boundary: nginx prints its
// number zero-padded to the width of a 64-bit atomic number
// (NGX_ATOMIC_T_LEN).
const boundaryDigits = 20

// boundarySeq numbers multipart answers from 1, as nginx numbers them
// with its temporary file counter (ngx_next_temp_number). nginx shares
// that counter with its temporary files; headroom's temporary files are
// numbered apart, so the boundaries count multipart answers only.
var boundarySeq atomic.Uint64

// multipartBody is a multipart/byteranges answer on its way out.
type multipartBody struct {
	// head starts every part's head: CRLF "--" boundary CRLF, the
	// answer's Content-Type field when it had one, "Content-Range:
	// bytes ". Its first 24 bytes start the closing boundary too.
	head []byte
	// spans are the parts in the order asked for; next is the part
	// whose head comes next.
	spans []byteSpan
	next  int
	// size is the file's size, for the parts' Content-Range.
	size int64
	// total is the body's length, head to closing boundary.
	total int64
	// pending are bytes of a part head (or the closing boundary) that
	// wait to go before the part's data; buf holds them.
	pending, buf []byte
	// closed is set once the closing boundary was made.
	closed bool
}

// newMultipart readies a multipart answer for spans of a file of size
// bytes: the part head with a new boundary and the head's Content-Type,
// which becomes multipart/byteranges (the charset then belongs to the
// parts), and the body's length, computed before anything is sent as
// nginx computes it.
func newMultipart(h *outHead, spans []byteSpan, size int64) *multipartBody {
	var num [boundaryDigits]byte
	b := strconv.AppendUint(num[:0:0], boundarySeq.Add(1), 10)
	boundary := append(bytes.Repeat([]byte{'0'}, boundaryDigits-len(b)), b...)

	m := &multipartBody{spans: spans, size: size}
	m.head = append(m.head, "\r\n--"...)
	m.head = append(m.head, boundary...)
	m.head = append(m.head, "\r\n"...)
	if h.contentType != "" || h.fieldType != nil {
		m.head = append(m.head, "Content-Type: "...)
		m.head = append(m.head, h.contentType...)
		m.head = append(m.head, h.fieldType...)
		m.head = append(m.head, "\r\n"...)
	}
	m.head = append(m.head, "Content-Range: bytes "...)

	at := len(h.scratch)
	h.scratch = append(h.scratch, "multipart/byteranges; boundary="...)
	h.scratch = append(h.scratch, boundary...)
	h.contentType, h.fieldType = "", h.kept(at)

	// The closing boundary: CRLF "--" boundary "--" CRLF.
	m.total = int64(4 + boundaryDigits + 4)
	var digits []byte
	for _, sp := range spans {
		digits = appendSpan(digits[:0], sp, size)
		m.total += int64(len(m.head)+len(digits)+4) + sp.end - sp.start
	}
	return m
}

// advance makes the bytes that come next, once a part's data is sent (or
// before the first): the next part's head, with f set to the part's
// bytes, or the closing boundary after the last.
func (m *multipartBody) advance(f *staticFile) {
	b := m.buf[:0]
	if m.next < len(m.spans) {
		sp := m.spans[m.next]
		m.next++
		b = append(b, m.head...)
		b = appendSpan(b, sp, m.size)
		b = append(b, "\r\n\r\n"...)
		f.off, f.end = f.base+sp.start, f.base+sp.end
	} else {
		b = append(b, m.head[:4+boundaryDigits]...)
		b = append(b, "--\r\n"...)
		m.closed = true
	}
	m.buf, m.pending = b, b
}

// due reports whether bytes of the multipart body other than the file's
// are to be sent now: a part head or the closing boundary waits, or the
// current part is sent and more is to come.
func (m *multipartBody) due(f *staticFile) bool {
	return len(m.pending) > 0 || f.off >= f.end && !m.closed
}
