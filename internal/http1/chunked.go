package http1

// Chunked-body errors. The decoder serves both directions: a proxy answers
// 400 when a client's body is malformed and 502 when an upstream's is, so
// the caller replaces the status for upstream bodies.
var (
	errChunkSize     = &Error{400, "invalid chunk size"}
	errChunkTooLarge = &Error{400, "chunk size too large"}
	errChunkExt      = &Error{400, "invalid chunk extension"}
	errChunkLine     = &Error{400, "chunk size line too long"}
	errChunkDataEnd  = &Error{400, "missing CRLF after chunk data"}
	errChunkBareCR   = &Error{400, "CR not followed by LF in chunked body"}
	errTrailer       = &Error{400, "invalid trailer field"}
	errTrailerSize   = &Error{400, "trailer section too large"}
)

// Bounds on the framing bytes of a chunked body. The decoder streams, so
// these do not bound memory; they stop a peer from sending framing without
// payload for ever (an endless chunk extension or trailer section). nginx
// sets no such bound; real chunk lines are a few bytes and trailers rare.
const (
	maxChunkLine    = 4096
	maxTrailerBytes = 32 * 1024
)

// Decoder states. The zero state expects the first digit of a chunk size,
// so that the zero ChunkedDecoder is ready to use.
const (
	stSizeFirst     uint8 = iota // first hex digit of chunk-size
	stSize                       // further hex digits
	stSizeWS                     // BWS after the size
	stExtName0                   // BWS after ';', then the first byte of a name
	stExtName                    // rest of an extension name
	stExtNameWS                  // BWS after a name
	stExtValue0                  // BWS after '=', then a token or a quote
	stExtToken                   // token value
	stExtQuoted                  // inside a quoted-string value
	stExtQuotedPair              // after a backslash in a quoted-string
	stExtValueWS                 // BWS after a value
	stSizeLF                     // CR seen at the end of the size line
	stData                       // chunk data
	stDataCR                     // CRLF expected after chunk data
	stDataLF                     // LF expected after CR after chunk data
	stTrailerStart               // start of a trailer line or the final empty line
	stTrailerName                // trailer field name
	stTrailerValue               // trailer field value
	stTrailerLF                  // LF expected after CR ending a trailer line
	stFinalLF                    // LF expected after CR of the final empty line
	stDone                       // the body is complete
)

// ChunkedDecoder incrementally decodes a chunked body (RFC 9112 7.1). It
// keeps only a few words of state, so input may be split anywhere: the
// concatenated payload, the error and the point where the body ends do
// not depend on how the input was split. Bare LF is accepted as a line
// terminator, as nginx accepts it; a CR must be followed by LF. Chunk
// extensions are checked against the RFC grammar and skipped; trailer
// fields are checked as field lines and skipped.
//
// The proxy must not forward the raw framing: a peer that frames
// differently (for example one that does not accept bare LF) could then
// be desynchronised. It should forward the payload re-framed with
// AppendChunk and AppendLastChunk, as nginx re-frames.
//
// The zero value is ready to use.
type ChunkedDecoder struct {
	state      uint8
	remaining  int64 // chunk-size being read, then data bytes left
	lineLen    int   // bytes of the current size line
	trailerLen int   // bytes of the trailer section
	err        *Error
}

// Reset prepares the decoder for a new body.
func (d *ChunkedDecoder) Reset() { *d = ChunkedDecoder{} }

// Next consumes bytes from in and returns how many it consumed, the
// payload found (a subslice of in, or nil), and done=true once the last
// chunk and the trailer section have been consumed; bytes after that are
// not consumed and belong to the next message. It returns at most one
// data span per call, so callers loop until consumed is 0 and data is nil,
// which means that more input is needed. After an error every call returns
// the same error.
func (d *ChunkedDecoder) Next(in []byte) (consumed int, data []byte, done bool, err error) {
	if d.err != nil {
		return 0, nil, false, d.err
	}
	i := 0
	for i < len(in) {
		if d.state == stDone {
			return i, nil, true, nil
		}
		if d.state == stData {
			n := len(in) - i
			if int64(n) > d.remaining {
				n = int(d.remaining)
			}
			d.remaining -= int64(n)
			if d.remaining == 0 {
				d.state = stDataCR
			}
			return i + n, in[i : i+n : i+n], false, nil
		}
		if e := d.step(in[i]); e != nil {
			d.err = e
			return i, nil, false, e
		}
		i++
	}
	return i, nil, d.state == stDone, nil
}

// Unread gives back the last k bytes of the payload the last Next
// returned, which the caller could not take: they are returned again by
// the next call, whose input must start with them (the caller passes
// them in again, as Next consumed them last). k must not exceed that
// payload's length.
func (d *ChunkedDecoder) Unread(k int) {
	if k <= 0 {
		return
	}
	d.remaining += int64(k)
	d.state = stData
}

// step advances the framing state machine by one byte.
func (d *ChunkedDecoder) step(c byte) *Error {
	switch d.state {
	case stSizeFirst, stSize, stSizeWS, stExtName0, stExtName, stExtNameWS,
		stExtValue0, stExtToken, stExtQuoted, stExtQuotedPair, stExtValueWS, stSizeLF:
		d.lineLen++
		if d.lineLen > maxChunkLine {
			return errChunkLine
		}
	case stTrailerStart, stTrailerName, stTrailerValue, stTrailerLF, stFinalLF:
		d.trailerLen++
		if d.trailerLen > maxTrailerBytes {
			return errTrailerSize
		}
	}

	switch d.state {
	case stSizeFirst:
		v, ok := hexVal(c)
		if !ok {
			return errChunkSize
		}
		d.remaining = int64(v)
		d.state = stSize
	case stSize:
		if v, ok := hexVal(c); ok {
			// chunk-size must fit in an int64.
			if d.remaining > (1<<63-1-int64(v))/16 {
				return errChunkTooLarge
			}
			d.remaining = d.remaining*16 + int64(v)
			return nil
		}
		return d.afterSize(c, stSizeWS, errChunkSize)
	case stSizeWS:
		return d.afterSize(c, stSizeWS, errChunkSize)
	case stExtName0:
		switch {
		case isOWS(c):
		case isTchar(c):
			d.state = stExtName
		default:
			return errChunkExt
		}
	case stExtName:
		switch {
		case isTchar(c):
		case c == '=':
			d.state = stExtValue0
		default:
			return d.afterSize(c, stExtNameWS, errChunkExt)
		}
	case stExtNameWS:
		if c == '=' {
			d.state = stExtValue0
			return nil
		}
		return d.afterSize(c, stExtNameWS, errChunkExt)
	case stExtValue0:
		switch {
		case isOWS(c):
		case c == '"':
			d.state = stExtQuoted
		case isTchar(c):
			d.state = stExtToken
		default:
			return errChunkExt
		}
	case stExtToken:
		if isTchar(c) {
			return nil
		}
		return d.afterSize(c, stExtValueWS, errChunkExt)
	case stExtQuoted:
		switch {
		case c == '"':
			d.state = stExtValueWS
		case c == '\\':
			d.state = stExtQuotedPair
		case charClass[c]&cQdtext == 0:
			return errChunkExt
		}
	case stExtQuotedPair:
		// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
		if charClass[c]&cValue == 0 {
			return errChunkExt
		}
		d.state = stExtQuoted
	case stExtValueWS:
		return d.afterSize(c, stExtValueWS, errChunkExt)
	case stSizeLF:
		if c != '\n' {
			return errChunkBareCR
		}
		d.endSizeLine()
	case stDataCR:
		switch c {
		case '\r':
			d.state = stDataLF
		case '\n':
			d.state = stSizeFirst
		default:
			return errChunkDataEnd
		}
	case stDataLF:
		if c != '\n' {
			return errChunkDataEnd
		}
		d.state = stSizeFirst
	case stTrailerStart:
		switch {
		case c == '\r':
			d.state = stFinalLF
		case c == '\n':
			d.state = stDone
		case isTchar(c):
			d.state = stTrailerName
		default:
			// Includes SP/HTAB (obs-fold) and an empty name.
			return errTrailer
		}
	case stTrailerName:
		switch {
		case isTchar(c):
		case c == ':':
			d.state = stTrailerValue
		default:
			return errTrailer
		}
	case stTrailerValue:
		switch {
		case charClass[c]&cValue != 0:
		case c == '\r':
			d.state = stTrailerLF
		case c == '\n':
			d.state = stTrailerStart
		default:
			return errTrailer
		}
	case stTrailerLF:
		if c != '\n' {
			return errChunkBareCR
		}
		d.state = stTrailerStart
	case stFinalLF:
		if c != '\n' {
			return errChunkBareCR
		}
		d.state = stDone
	}
	return nil
}

// afterSize handles a byte that may follow the size, an extension name or
// an extension value: BWS (moving to ws), ';' starting an extension, or
// the end of the line. RFC 9112 7.1.1 allows BWS only before ';' and '=';
// trailing whitespace before the line end is accepted too, as nginx
// accepts it, since it cannot change where the chunk ends.
func (d *ChunkedDecoder) afterSize(c byte, ws uint8, bad *Error) *Error {
	switch c {
	case ' ', '\t':
		d.state = ws
	case ';':
		d.state = stExtName0
	case '\r':
		d.state = stSizeLF
	case '\n':
		d.endSizeLine()
	default:
		return bad
	}
	return nil
}

// endSizeLine moves past a complete size line: to the data of a non-empty
// chunk, or to the trailer section after the last chunk.
func (d *ChunkedDecoder) endSizeLine() {
	d.lineLen = 0
	if d.remaining == 0 {
		d.state = stTrailerStart
	} else {
		d.state = stData
	}
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendChunk appends data to dst as one chunk (hex size, CRLF, data,
// CRLF). Empty data appends nothing, because a zero-size chunk would end
// the body.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	const hexDigits = "0123456789abcdef"
	n := uint64(len(data))
	shift := 60
	for shift > 0 && n>>uint(shift) == 0 {
		shift -= 4
	}
	for ; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(n>>uint(shift))&0xf])
	}
	dst = append(dst, '\r', '\n')
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk and an empty trailer section,
// "0\r\n\r\n", which ends a chunked body.
func AppendLastChunk(dst []byte) []byte {
	return append(dst, "0\r\n\r\n"...)
}
