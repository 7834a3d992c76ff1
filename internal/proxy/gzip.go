package proxy

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strconv"
	"time"

	"github.com/klauspost/compress/flate"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// This file is nginx's gzip filter: the header filter that decides
// whether an answer is compressed and changes its head, and the
// compressor, the last stage of the answer's body filters
// (bodyfilter.go), whose output waits in the chain until the client's
// framing takes it.

// gzipState is the compression of one response: a gzip member written
// here (header, CRC-32 and length) around deflate blocks from a pooled
// compressor.
//
// The compressor, a few hundred kilobytes of tables and history, is held
// only while the answer is being compressed. When the client stops taking
// the answer (its socket is full) the compressor flushes what it holds to
// a byte boundary and goes back to the pool (park), and a fresh one
// continues the same deflate stream when more comes: blocks that do not
// look back past the boundary are valid deflate, at the cost of the
// history's matches for the first bytes after it. So an answer that waits for a slow client holds its output,
// not a compressor, and memory per waiting stream stays below nginx's,
// whose zlib state stays with the stream to its end.
type gzipState struct {
	fw *flate.Writer
	// pool is the worker's compressors, which fw comes from and goes
	// back to.
	pool *gzipPool
	// level is gzip_comp_level.
	level int
	// f is the chain the compressed bytes go to.
	f *bodyFilters
	// crc is the CRC-32 of the bytes before compression, for the
	// trailer.
	crc uint32
	// in and out count the bytes before and after compression
	// ($gzip_ratio).
	in, out int64
	// headed is set once the header is written; closed once the
	// trailer is.
	headed, closed bool
}

// gzipHeader is the member header nginx writes: no name, no time, no
// extra flags, operating system Unix (3).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}

// Write collects the compressor's output, after the member's header
// before the first of it: the header leaves with the first compressed
// bytes, as from nginx's filter, not alone ahead of them.
func (g *gzipState) Write(p []byte) (int, error) {
	if !g.headed {
		g.headed = true
		g.f.out = append(g.f.out, gzipHeader...)
		g.out += int64(len(gzipHeader))
	}
	g.f.out = append(g.f.out, p...)
	g.out += int64(len(p))
	return len(p), nil
}

// compressor returns the stream's compressor, taking one from the pool
// if it has none.
func (g *gzipState) compressor() *flate.Writer {
	if g.fw == nil {
		g.fw = g.pool.get(g.level, g)
	}
	return g.fw
}

// compress passes body bytes through the compressor.
func (g *gzipState) compress(p []byte) {
	if len(p) == 0 {
		return
	}
	g.in += int64(len(p))
	g.crc = crc32.Update(g.crc, crc32.IEEETable, p)
	g.compressor().Write(p)
}

// park flushes what the compressor holds and gives it back to the pool,
// while the answer waits for the client.
func (g *gzipState) park() {
	if g.fw == nil || g.closed {
		return
	}
	g.fw.Flush()
	g.release()
}

// finish writes the last block and the trailer.
func (g *gzipState) finish() {
	if g.closed {
		return
	}
	g.closed = true
	g.compressor().Close()
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:4], g.crc)
	binary.LittleEndian.PutUint32(t[4:], uint32(g.in))
	g.Write(t[:])
	g.release()
}

// release gives the compressor back to the pool, if the stream still
// holds one (an answer that ended before its body did).
func (g *gzipState) release() {
	if g.fw != nil {
		g.pool.put(g.level, g.fw)
		g.fw = nil
	}
}

// gzipPool keeps a worker's compressors not in use, by level.
type gzipPool [10][]*flate.Writer

// get returns a compressor for the level writing to dst.
func (p *gzipPool) get(level int, dst *gzipState) *flate.Writer {
	l := &p[level]
	if n := len(*l); n > 0 {
		fw := (*l)[n-1]
		*l = (*l)[:n-1]
		fw.Reset(dst)
		return fw
	}
	fw, _ := flate.NewWriter(dst, compressorLevel[level])
	return fw
}

// put takes a compressor back; it drops its destination, so that the
// pool does not keep the answer's chain alive.
func (p *gzipPool) put(level int, fw *flate.Writer) {
	fw.Reset(io.Discard)
	p[level] = append(p[level], fw)
}

// compressorLevel maps gzip_comp_level (zlib's levels, index 1 to 9) to
// the compressor's: the level whose output is about the size zlib's is
// on text (JSON, HTML), which it reaches with less CPU than zlib at the
// level asked for. Measured on a 90 KB JSON document: zlib 15152, 14073,
// 12834, 12729, 11814, 11203, 10748, 10643, 10619 bytes at levels 1 to 9;
// the compressor 15349 (1), 13590 (4), 12447 (5), 11772 (7), 11061 (8),
// 10586 (9). On bench/static.sh's 100 KB answer its level 7 gives 23408
// bytes where zlib's 6 gives 23493, at 0.8 of nginx's CPU.
var compressorLevel = [10]int{0, 1, 4, 5, 5, 7, 7, 8, 9, 9}

// startGzip gives the request a gzip stream at the location's level, as
// the last stage of its body filters; the compressor itself is taken
// when the first bytes come.
func (cc *clientConn) startGzip(level int) {
	f := cc.bodyChain()
	g := &gzipState{level: level, f: f, pool: &cc.w.gzips}
	f.gz = g
	cc.r.gz = g
}

// gzipFilter is nginx's gzip header filter: an answer of status 200, 403
// or 404, with no Content-Encoding, a Content-Length of at least
// gzip_min_length (or none) and a type of gzip_types is compressed when
// the client accepts gzip (gzipAccepted); then Content-Encoding is
// added, Content-Length and Accept-Ranges go, a strong ETag becomes
// weak, and the answer is chunked (or, for HTTP/1.0, ends with the
// connection). "Vary: Accept-Encoding" (gzip_vary) goes on every answer
// that could be compressed, whoever asked for it.
func gzipFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || !lc.Gzip.On || r.gz != nil {
		return
	}
	g := &lc.Gzip
	switch h.status {
	case 200, 403, 404:
	default:
		return
	}
	if v := headerValue(h.fields, "Content-Encoding"); len(v) > 0 {
		return
	}
	if h.contentLength >= 0 && h.contentLength < g.MinLength {
		return
	}
	ctype := h.fieldType
	if ctype == nil {
		ctype = []byte(h.contentType)
	}
	if !g.Compresses(ctype) {
		return
	}
	h.vary = g.Vary
	if !cc.gzipAccepted(h, g) {
		return
	}
	r.gzipped = true
	head := isHead(&r.head)
	if !head {
		cc.startGzip(g.Level)
	}
	h.add([]byte("Content-Encoding"), []byte("gzip"))
	h.contentLength = -1
	h.del(nameAcceptRanges)
	h.weakenETag()
	if head {
		// The head says what the body would be; there is none.
		return
	}
	r.chunkOut = cc.chunkable()
	h.chunked = r.chunkOut
	if !r.chunkOut {
		r.keepAlive = false
	}
}

// gzipAccepted is nginx's ngx_http_gzip_ok: the client's Accept-Encoding
// names gzip with a quality above zero, its HTTP version is at least
// gzip_http_version, gzip_disable does not name its User-Agent, and a
// request that came through a proxy (Via) is compressed only as
// gzip_proxied allows for the answer's caching fields.
func (cc *clientConn) gzipAccepted(h *outHead, g *conf.Gzip) bool {
	r := cc.r
	if cc.sub != nil {
		// A subrequest's answer goes into its main request's, which
		// gzip compresses as a whole.
		return false
	}
	hs := r.head.Headers
	ae := headerValue(hs, "Accept-Encoding")
	if len(ae) < 4 || !bytes.HasPrefix(ae, []byte("gzip,")) && !acceptsGzip(ae) {
		return false
	}
	ua := headerValue(hs, "User-Agent")
	if g.DisableMSIE6 && ua != nil && isMSIE6(ua) {
		return false
	}
	if r.head.Minor < g.HTTPVersion {
		return false
	}
	if headerValue(hs, "Via") != nil && !cc.gzipProxiedOK(h, g.Proxied) {
		return false
	}
	if ua != nil {
		for _, re := range g.Disable {
			if re.Match(ua) {
				return false
			}
		}
	}
	return true
}

// gzipProxiedOK applies gzip_proxied to an answer, in nginx's order.
func (cc *clientConn) gzipProxiedOK(h *outHead, p conf.GzipProxied) bool {
	switch {
	case p&conf.GzipProxiedOff != 0:
		return false
	case p&conf.GzipProxiedAny != 0:
		return true
	case p&conf.GzipProxiedAuth != 0 && headerValue(cc.r.head.Headers, "Authorization") != nil:
		return true
	}
	if e := headerValue(h.fields, "Expires"); e != nil {
		if p&conf.GzipProxiedExpired == 0 {
			return false
		}
		exp, ok := parseHTTPDate(e)
		if !ok {
			return false
		}
		date := cc.w.loop.Now()
		if d := headerValue(h.fields, "Date"); d != nil {
			if date, ok = parseHTTPDate(d); !ok {
				return false
			}
		}
		return exp.Before(date.Truncate(time.Second))
	}
	if headerValue(h.fields, "Cache-Control") != nil {
		for _, c := range []struct {
			bit   conf.GzipProxied
			token string
		}{{conf.GzipProxiedNoCache, "no-cache"}, {conf.GzipProxiedNoStore, "no-store"}, {conf.GzipProxiedPrivate, "private"}} {
			if p&c.bit != 0 && fieldsHaveToken(h.fields, "Cache-Control", c.token) {
				return true
			}
		}
		return false
	}
	if p&conf.GzipProxiedNoLastModified != 0 && headerValue(h.fields, "Last-Modified") != nil {
		return false
	}
	if p&conf.GzipProxiedNoETag != 0 && headerValue(h.fields, "ETag") != nil {
		return false
	}
	return true
}

// fieldsHaveToken reports whether a comma-separated token list in any
// field of the name has the token (case-insensitively).
func fieldsHaveToken(hs []http1.Header, name, token string) bool {
	for _, f := range hs {
		if http1.EqualFold(f.Name, name) && http1.HasToken(f.Value, token) {
			return true
		}
	}
	return false
}

// acceptsGzip reads an Accept-Encoding value as nginx's
// ngx_http_gzip_accept_encoding does: "gzip" as a whole token whose
// quality, if given, is above zero.
func acceptsGzip(v []byte) bool {
	for start := 0; ; {
		i := bytes.Index(v[start:], []byte("gzip"))
		if i < 0 {
			return false
		}
		i += start
		start = i + 4
		if i > 0 && v[i-1] != ',' && v[i-1] != ' ' {
			continue
		}
		rest := v[i+4:]
		if len(rest) > 0 && rest[0] != ',' && rest[0] != ';' && rest[0] != ' ' {
			continue
		}
		return gzipQuality(rest) > 0
	}
}

// gzipQuality reads the ";q=" of an accepted coding, in thousandths; a
// coding without one has 1000.
func gzipQuality(rest []byte) int {
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) == 0 || rest[0] != ';' {
		return 1000
	}
	rest = bytes.TrimLeft(rest[1:], " ")
	if len(rest) < 2 || rest[0] != 'q' && rest[0] != 'Q' || rest[1] != '=' {
		return 1000
	}
	rest = rest[2:]
	end := bytes.IndexByte(rest, ',')
	if end >= 0 {
		rest = rest[:end]
	}
	q, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
	if err != nil || q < 0 || q > 1 {
		return 0
	}
	return int(q * 1000)
}

// appendGzipRatio appends $gzip_ratio: the body's size before
// compression over its size after, with two decimals.
func (cc *clientConn) appendGzipRatio(b []byte) ([]byte, bool) {
	g := cc.r.gz
	if g == nil || g.out == 0 {
		return b, false
	}
	// nginx's arithmetic, rounding the third decimal.
	whole, frac := g.in/g.out, g.in*100/g.out%100
	if g.in*1000/g.out%10 > 4 {
		if frac++; frac > 99 {
			whole, frac = whole+1, 0
		}
	}
	b = strconv.AppendInt(b, whole, 10)
	b = append(b, '.')
	if frac < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10), true
}
