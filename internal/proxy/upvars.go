package proxy

import (
	"strconv"

	"headroom/internal/http1"
	"headroom/internal/vars"
)

// This file holds the variables of a request's upstream response and
// body that cost something to keep: $upstream_response_length,
// $upstream_bytes_received, $upstream_bytes_sent (one figure per try,
// joined like $upstream_status), $upstream_http_NAME and
// $upstream_cookie_NAME (the last try's response fields), $request_body
// and $request_body_file. Nothing here runs for a request unless a loaded
// configuration names one of them (vars.Referenced); the upstream
// connection only counts its bytes.

// upExtra is a request's record for these variables, made the first time
// a request object of the worker's pool needs it and kept with it.
type upExtra struct {
	lengths, received, sent []byte
	// pending holds the counts of a try whose connection was closed
	// before the try was logged.
	pending    upCounts
	hasPending bool
	// heads holds a copy of the last response's fields once the buffer
	// they were read into is released.
	heads []byte
}

// upCounts are one try's byte counts.
type upCounts struct {
	recv, sent, body int64
}

// upCountsWanted reports whether a configuration names a per-try count.
func upCountsWanted() bool {
	return vars.Referenced(vars.UpstreamResponseLength) || vars.Referenced(vars.UpstreamBytesReceived) ||
		vars.Referenced(vars.UpstreamBytesSent)
}

// upHeadsWanted reports whether a configuration reads the upstream's
// response fields after the response.
func upHeadsWanted() bool {
	return vars.Referenced(vars.UpstreamHTTP) || vars.Referenced(vars.UpstreamCookie) || vars.Referenced(vars.SentHTTP)
}

// extra returns the request's record, made on first use.
func (cc *clientConn) extra() *upExtra {
	if cc.r.upx == nil {
		cc.r.upx = &upExtra{}
	}
	return cc.r.upx
}

// tryCounts are the current try's counts: the body is what was read
// after the head of a response that was taken (nginx's response length);
// a try that ended before counts none.
func (r *request) tryCounts(uc *upConn) upCounts {
	c := upCounts{recv: uc.recv, sent: uc.sent}
	if r.respHead {
		c.body = uc.recv - uc.headBytes
	}
	return c
}

// noteTryCounts keeps the counts of the current try before its
// connection is closed, for upLogAppend.
func (cc *clientConn) noteTryCounts() {
	if uc := cc.r.up; uc != nil && upCountsWanted() {
		x := cc.extra()
		x.pending, x.hasPending = cc.r.tryCounts(uc), true
	}
}

// logTryCounts records the counts of the try being logged; first is set
// for a request's first try, which starts the lists anew.
func (cc *clientConn) logTryCounts(first bool) {
	r := cc.r
	x := cc.extra()
	if first {
		x.lengths, x.received, x.sent = x.lengths[:0], x.received[:0], x.sent[:0]
	} else {
		x.lengths = append(x.lengths, ", "...)
		x.received = append(x.received, ", "...)
		x.sent = append(x.sent, ", "...)
	}
	var c upCounts
	switch {
	case r.up != nil:
		c = r.tryCounts(r.up)
	case x.hasPending:
		c = x.pending
	}
	x.hasPending = false
	x.lengths = strconv.AppendInt(x.lengths, c.body, 10)
	x.received = strconv.AppendInt(x.received, c.recv, 10)
	x.sent = strconv.AppendInt(x.sent, c.sent, 10)
}

// keepUpstreamHeads copies the response's fields out of the upstream
// buffer about to be released, so that variables read after the
// response still find them.
func (cc *clientConn) keepUpstreamHeads() {
	r := cc.r
	x := cc.extra()
	n := 0
	for i := range r.resp.Headers {
		n += len(r.resp.Headers[i].Name) + len(r.resp.Headers[i].Value)
	}
	if cap(x.heads) < n {
		x.heads = make([]byte, 0, n)
	}
	b := x.heads[:0]
	for i := range r.resp.Headers {
		h := &r.resp.Headers[i]
		start := len(b)
		b = append(b, h.Name...)
		h.Name = b[start:len(b):len(b)]
		start = len(b)
		b = append(b, h.Value...)
		h.Value = b[start:len(b):len(b)]
	}
	x.heads = b
}

// upstreamCookie finds a cookie of the upstream's Set-Cookie fields as
// nginx's ngx_http_parse_set_cookie_lines does: the field must begin
// with the name (case-insensitively), then spaces, '=', spaces; the
// value runs to the first ';'.
func upstreamCookie(hs []http1.Header, name string) ([]byte, bool) {
	for i := range hs {
		if !http1.EqualFold(hs[i].Name, "Set-Cookie") {
			continue
		}
		v := hs[i].Value
		if len(name) >= len(v) || !http1.EqualFold(v[:len(name)], name) {
			continue
		}
		p := len(name)
		for p < len(v) && v[p] == ' ' {
			p++
		}
		if p == len(v) || v[p] != '=' {
			continue
		}
		p++
		for p < len(v) && v[p] == ' ' {
			p++
		}
		end := p
		for end < len(v) && v[end] != ';' {
			end++
		}
		return v[p:end], true
	}
	return nil, false
}

func init() {
	g := &getters
	counts := func(pick func(x *upExtra) []byte) getter {
		return func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
			x := cc.r.upx
			if x == nil || len(cc.r.upAddrs) == 0 {
				return b, false
			}
			return append(b, pick(x)...), true
		}
	}
	g[vars.UpstreamResponseLength] = counts(func(x *upExtra) []byte { return x.lengths })
	g[vars.UpstreamBytesReceived] = counts(func(x *upExtra) []byte { return x.received })
	g[vars.UpstreamBytesSent] = counts(func(x *upExtra) []byte { return x.sent })
	g[vars.UpstreamHTTP] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		if len(cc.r.upAddrs) == 0 && !cc.r.respHead {
			return b, false
		}
		v := headerByVarName(cc.r.resp.Headers, name)
		return append(b, v...), v != nil
	}
	g[vars.UpstreamCookie] = func(cc *clientConn, b []byte, name string) ([]byte, bool) {
		if len(cc.r.upAddrs) == 0 && !cc.r.respHead {
			return b, false
		}
		v, ok := upstreamCookie(cc.r.resp.Headers, name)
		return append(b, v...), ok
	}
	// $request_body is the body read into memory (nginx finds none once
	// it went to a file), $request_body_file the file's name.
	g[vars.RequestBody] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		r := cc.r
		if !r.bufferBody && len(r.streamedBody) > 0 {
			return append(b, r.streamedBody...), true
		}
		if r.bodyFile != nil || r.bodyMem == nil {
			return b, false
		}
		return append(b, r.bodyMem...), true
	}
	g[vars.RequestBodyFile] = func(cc *clientConn, b []byte, _ string) ([]byte, bool) {
		if tf := cc.r.bodyFile; tf != nil {
			return append(b, tf.path...), true
		}
		return b, false
	}
}
