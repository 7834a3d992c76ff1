package proxy

import "headroom/internal/http1"

// gunzipFilter is nginx's gunzip header filter: an answer that came with
// "Content-Encoding: gzip" (from an upstream, or gzip_static's ".gz"
// file) is decompressed for a client that gzip's rules say does not
// accept gzip. Content-Encoding, Content-Length and Accept-Ranges go,
// ETag becomes weak, and the answer is chunked (or ends with the
// connection for HTTP/1.0). Every such answer gets gzip_vary's field,
// whoever asked.
func gunzipFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil || !lc.Gzip.Gunzip || !h.gzipEncoded {
		return
	}
	h.vary = lc.Gzip.Vary
	if cc.gzipAccepted(h, &lc.Gzip) {
		return
	}
	h.del(nameContentEncoding)
	h.del(nameAcceptRanges)
	h.weakenETag()
	cc.lengthUnknown(h)
	if cc.answerHasBody(h) {
		cc.startGunzip()
	}
}

// nameContentEncoding is the field gzip and gunzip add and remove.
var nameContentEncoding = []byte("Content-Encoding")

// isGzipCoding reports whether a Content-Encoding value is gzip, as
// nginx's gunzip filter compares it: the whole value, any case.
func isGzipCoding(v []byte) bool {
	return len(v) == 4 && http1.EqualFold(v, "gzip")
}
