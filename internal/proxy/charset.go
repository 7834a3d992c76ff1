package proxy

import "bytes"

// charsetFilter is nginx's charset header filter. For an answer of
// charset_types (or, with override_charset, one that names a charset of
// its own, as an upstream's may) it names charset in the Content-Type,
// and when the text is in another charset — source_charset's, or the
// upstream's — it converts the body by the charset_map between the two:
// byte for byte between 8-bit charsets, keeping the length (and so
// ranges), or into or out of UTF-8, which changes the length, so
// Content-Length goes and the answer is chunked. Validators stay as they
// are, as in nginx. An answer with a Content-Encoding is not converted
// (nor its charset named) when a conversion would be needed.
func charsetFilter(cc *clientConn, h *outHead) {
	r := cc.r
	lc := r.lc
	if lc == nil {
		return
	}
	c := &lc.Charset
	if c.Name == "" && c.Var == nil && len(h.overrideCharset) == 0 {
		return
	}
	ctype := h.fieldType
	if ctype == nil {
		if h.contentType == "" {
			return
		}
		ctype = []byte(h.contentType)
	}
	if len(ctype) == 0 {
		return
	}
	// The answer's own charset, an upstream's "; charset=" parameter.
	typeLen, own := len(ctype), []byte(nil)
	if h.fieldType != nil {
		typeLen, own = splitCharset(ctype)
	}
	m := c.Maps

	// The charset answers are sent in: an upstream's X-Accel-Charset,
	// which must be a charset the configuration names, or charset's.
	// A variable that has no value leaves the answer as it is (nginx
	// fails the request).
	dst := []byte(c.Name)
	switch {
	case len(h.overrideCharset) > 0:
		dst = h.overrideCharset
		if _, known := m.Index(dst); !known {
			cc.logError("unknown charset \"" + string(dst) + "\" to override")
			return
		}
	case own != nil:
		if !c.Override {
			return
		}
	case !c.Applies(ctype[:typeLen]):
		return
	}
	if len(h.overrideCharset) == 0 && c.Var != nil {
		at := len(h.scratch)
		var found bool
		h.scratch, found = cc.appendVar(h.scratch, &c.Var.Parts[0])
		if !found {
			h.scratch = h.scratch[:at]
			return
		}
		dst = h.kept(at)
	}

	// The charset the text is in.
	var src []byte
	switch {
	case own != nil:
		src = own
	case c.SourceVar != nil:
		at := len(h.scratch)
		var found bool
		h.scratch, found = cc.appendVar(h.scratch, &c.SourceVar.Parts[0])
		if !found {
			h.scratch = h.scratch[:at]
			return
		}
		src = h.kept(at)
	case c.Source != "":
		src = []byte(c.Source)
	default:
		cc.setCharset(h, ctype, typeLen, false, dst)
		return
	}
	srcIdx, srcKnown := m.Index(src)
	dstIdx, dstKnown := m.Index(dst)

	if !dstKnown || !srcKnown {
		if dstKnown != srcKnown || !bytes.EqualFold(dst, src) {
			cc.noCharsetMap(src, dst)
			return
		}
		cc.setCharset(h, ctype, typeLen, false, dst)
		return
	}
	if srcIdx == dstIdx {
		cc.setCharset(h, ctype, typeLen, true, dst)
		return
	}
	if len(headerValue(h.fields, "Content-Encoding")) > 0 {
		return
	}
	t := m.Table(srcIdx, dstIdx)
	if t == nil {
		cc.noCharsetMap(src, dst)
		return
	}
	cc.setCharset(h, ctype, typeLen, true, dst)
	if t.Byte == nil {
		cc.lengthUnknown(h)
	}
	if cc.answerHasBody(h) {
		cc.bodyChain().recode = recoder{t: t}
	}
}

// noCharsetMap logs nginx's line for a conversion no charset_map allows;
// the answer goes as it is.
func (cc *clientConn) noCharsetMap(src, dst []byte) {
	cc.logError("no \"charset_map\" between the charsets \"" + string(src) + "\" and \"" + string(dst) + "\"")
}

// setCharset writes the Content-Type as nginx's header filter does from
// the type, its length without parameters (typeLen) and the charset:
// strip drops the answer's own charset parameter; the charset is added
// to a type without one. Redirects (301, 302) get no charset, as in
// nginx.
func (cc *clientConn) setCharset(h *outHead, ctype []byte, typeLen int, strip bool, charset []byte) {
	if h.status == 301 || h.status == 302 {
		charset = nil
	}
	n := len(ctype)
	if strip {
		n = typeLen
	}
	if n == len(ctype) && (n != typeLen || len(charset) == 0) {
		return
	}
	start := len(h.scratch)
	h.scratch = append(h.scratch, ctype[:n]...)
	if n == typeLen && len(charset) > 0 {
		h.scratch = append(h.scratch, "; charset="...)
		h.scratch = append(h.scratch, charset...)
	}
	h.contentType, h.fieldType = "", h.kept(start)
}

// splitCharset finds the charset parameter of a Content-Type as nginx's
// upstream module does: the type's length before the ";" that introduces
// "charset=", and the charset without quotes. Without one the type is
// whole and the charset nil.
func splitCharset(v []byte) (typeLen int, charset []byte) {
	if !containsFold(v, "charset=") {
		return len(v), nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] != ';' {
			continue
		}
		j := i + 1
		for j < len(v) && v[j] == ' ' {
			j++
		}
		if j == len(v) {
			return len(v), nil
		}
		if len(v)-j < 8 || !bytes.EqualFold(v[j:j+8], []byte("charset=")) {
			continue
		}
		cs := v[j+8:]
		if len(cs) > 0 && cs[0] == '"' {
			cs = cs[1:]
		}
		if len(cs) > 0 && cs[len(cs)-1] == '"' {
			cs = cs[:len(cs)-1]
		}
		return i, cs
	}
	return len(v), nil
}

// containsFold reports whether v contains the lower-case ASCII s in any
// case.
func containsFold(v []byte, s string) bool {
	for i := 0; i+len(s) <= len(v); i++ {
		if bytes.EqualFold(v[i:i+len(s)], []byte(s)) {
			return true
		}
	}
	return false
}

// lengthUnknown makes an answer's length unknown once a filter changes
// its body: Content-Length goes, and a body is chunked, or ends with the
// connection when the client cannot take chunks.
func (cc *clientConn) lengthUnknown(h *outHead) {
	h.contentLength, h.lengthLost = -1, true
	if !cc.answerHasBody(h) {
		return
	}
	r := cc.r
	r.chunkOut = cc.chunkable()
	h.chunked = r.chunkOut
	if !r.chunkOut {
		r.keepAlive = false
	}
}

// answerHasBody reports whether the answer sends a body.
func (cc *clientConn) answerHasBody(h *outHead) bool {
	return !isHead(&cc.r.head) && h.status >= 200 && h.status != 204 && h.status != 304 && !cc.r.upHead
}
