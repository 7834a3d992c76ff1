package http1

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxFuzzInput bounds fuzz inputs; the split property is quadratic.
const maxFuzzInput = 4096

// fuzzLimits picks limits from a fuzzed byte, so that small limits, whose
// boundaries random inputs actually reach, are exercised as well as the
// defaults.
func fuzzLimits(sel byte) *Limits {
	l := fuzzSizeLimits(sel)
	if sel&0xc0 == 0 {
		return l
	}
	if l == nil {
		l = &Limits{}
	}
	l.KeepInvalidNames = sel&0x40 != 0
	l.Underscores = sel&0x80 != 0
	return l
}

func fuzzSizeLimits(sel byte) *Limits {
	switch sel % 4 {
	case 0:
		return nil
	case 1:
		return &Limits{MaxRequestLine: 40, MaxHeaderLine: 24, MaxHeaderBytes: 120, MaxHeaders: 4}
	case 2:
		s := int(sel)
		return &Limits{MaxRequestLine: 8 + s%61, MaxHeaderLine: 3 + s%37, MaxHeaderBytes: 10 + s%150, MaxHeaders: 1 + s%5}
	}
	return &Limits{MaxRequestLine: 1, MaxHeaderLine: 1, MaxHeaderBytes: 1, MaxHeaders: 1}
}

// describeRequest renders every field so that two parses can be compared.
func describeRequest(n int, err error, r *Request) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d %q %q %q %q(nil=%v) %d.%d host=%q(nil=%v) cl=%d ch=%v ka=%v ex=%v up=%v conn=%q hl=%d",
		n, r.Method, r.Target, r.Path, r.Query, r.Query == nil, r.Major, r.Minor, r.Host, r.Host == nil,
		r.ContentLength, r.Chunked, r.KeepAlive, r.ExpectContinue, r.Upgrade, r.ConnectionHeader, r.HeadLen)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " [%q: %q]", h.Name, h.Value)
	}
	return b.String()
}

func describeResponse(n int, err error, r *Response) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d %d.%d %d %q cl=%d ch=%v ka=%v conn=%q hl=%d",
		n, r.Major, r.Minor, r.Status, r.Reason, r.ContentLength, r.Chunked, r.KeepAlive, r.ConnectionHeader, r.HeadLen)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " [%q: %q]", h.Name, h.Value)
	}
	return b.String()
}

// checkSplits asserts the streaming property of a head parser: every
// prefix of the input yields ErrNeedMore or the very answer the whole
// input yields, ErrNeedMore exactly for the prefixes shorter than a
// successfully parsed head, and once a prefix yields an error every longer
// prefix yields it too.
func checkSplits(t *testing.T, data []byte, whole string, wholeN int, wholeErr error, parse func([]byte) (int, error, string)) {
	t.Helper()
	sawErr := false
	for k := 0; k < len(data); k++ {
		n, err, desc := parse(data[:k])
		switch {
		case wholeErr == nil && k < wholeN:
			if err != ErrNeedMore {
				t.Fatalf("prefix %d of %d-byte head: %s, want ErrNeedMore\ninput %q", k, wholeN, desc, data)
			}
		case err == ErrNeedMore:
			if sawErr {
				t.Fatalf("prefix %d: ErrNeedMore after an error on a shorter prefix\ninput %q", k, data)
			}
		case desc != whole:
			t.Fatalf("prefix %d: %s\nwhole:    %s\ninput %q", k, desc, whole, data)
		default:
			sawErr = err != nil
			_ = n
		}
	}
}

func isCleanValue(v []byte) bool {
	if len(v) > 0 && (isOWS(v[0]) || isOWS(v[len(v)-1])) {
		return false
	}
	for _, c := range v {
		if charClass[c]&cValue == 0 {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func addRequestSeeds(f *testing.F) {
	for _, tc := range validRequests {
		f.Add([]byte(tc.in), byte(0))
		f.Add([]byte(tc.in), byte(1))
	}
	for _, tc := range badRequests {
		f.Add([]byte(crlf(tc.in)), byte(0))
		f.Add([]byte(crlf(tc.in)), byte(2))
	}
	f.Add([]byte(benchRequest), byte(0))
	f.Add([]byte(benchRequest), byte(6))
	for _, name := range []string{"x_foo", "_foo", "x.foo", "X(y)", "</kie>", "X\xc3\xa9"} {
		in := []byte("GET / HTTP/1.1\r\nHost: a\r\n" + name + ": v\r\n\r\n")
		f.Add(in, byte(0))
		f.Add(in, byte(0x40))
		f.Add(in, byte(0x80))
	}
}

func FuzzParseRequest(f *testing.F) {
	addRequestSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, sel byte) {
		if len(data) > maxFuzzInput {
			data = data[:maxFuzzInput]
		}
		lim := fuzzLimits(sel)
		eff := lim.withDefaults()
		var req Request
		parse := func(b []byte) (int, error, string) {
			n, err := ParseRequest(b, &req, lim)
			if err != nil && err != ErrNeedMore {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %v is not an *Error", err)
				}
			}
			return n, err, describeRequest(n, err, &req)
		}
		n, err, whole := parse(data)
		if err == ErrNeedMore && len(data) >= eff.MaxHeaderBytes {
			t.Fatalf("ErrNeedMore with %d bytes, limit %d\ninput %q", len(data), eff.MaxHeaderBytes, data)
		}
		if err == nil {
			checkRequestInvariants(t, data, n, &req, &eff)
			for k := 0; k < n; k++ {
				if !MayCompleteHead(data[:n], k) {
					t.Fatalf("MayCompleteHead(head, %d) = false for a %d-byte head\ninput %q", k, n, data)
				}
			}
			compareWithNetHTTP(t, data[:n], &req)
		}
		checkSplits(t, data, whole, n, err, parse)
	})
}

func checkRequestInvariants(t *testing.T, data []byte, n int, req *Request, lim *Limits) {
	t.Helper()
	switch {
	case n != req.HeadLen || n > len(data) || n > lim.MaxHeaderBytes:
		t.Fatalf("head length %d, HeadLen %d, input %d", n, req.HeadLen, len(data))
	case !isToken(req.Method):
		t.Fatalf("method %q", req.Method)
	case len(req.Target) == 0 || len(req.Path) == 0 || req.Path[0] != '/':
		t.Fatalf("target %q path %q", req.Target, req.Path)
	case req.Major != 1 || req.Minor < 0 || req.Minor > 9:
		t.Fatalf("version %d.%d", req.Major, req.Minor)
	case req.Chunked && req.ContentLength >= 0, req.ContentLength < -1:
		t.Fatalf("chunked %v with length %d", req.Chunked, req.ContentLength)
	case req.Minor >= 1 && !validHostField(req.Host):
		t.Fatalf("HTTP/1.1 request with host %q", req.Host)
	case len(req.Headers) > lim.MaxHeaders:
		t.Fatalf("%d headers", len(req.Headers))
	}
	for _, c := range req.Target {
		if charClass[c]&cTarget == 0 {
			t.Fatalf("target %q", req.Target)
		}
	}
	for _, h := range req.Headers {
		if !isToken(h.Name) || !isCleanValue(h.Value) {
			t.Fatalf("header %q: %q", h.Name, h.Value)
		}
	}
}

// compareWithNetHTTP is a one-way differential check: whatever this
// parser accepts, net/http must accept too and must frame identically,
// since a disagreement on framing between two parsers is what request
// smuggling exploits. (net/http accepts much that is refused here.)
func compareWithNetHTTP(t *testing.T, head []byte, req *Request) {
	t.Helper()
	// net/http does not skip empty lines before the request line.
	for len(head) > 0 && (head[0] == '\n' || head[0] == '\r') {
		head = head[1:]
	}
	// Nor does it take several spaces between the words of the request
	// line, which nginx and this parser accept: compare with the line
	// written canonically.
	if eol := bytes.IndexByte(head, '\n'); eol >= 0 {
		words := bytes.Fields(head[:eol])
		canon := append(bytes.Join(words, []byte(" ")), "\r\n"...)
		head = append(canon, head[eol+1:]...)
	}
	// The field lines left out for their names are not compared.
	if len(req.Invalid) > 0 {
		lines := bytes.SplitAfter(head, []byte("\n"))
		kept := lines[:1:1]
		for _, line := range lines[1:] {
			drop := false
			for _, inv := range req.Invalid {
				drop = drop || bytes.HasPrefix(line, inv)
			}
			if !drop {
				kept = append(kept, line)
			}
		}
		head = bytes.Join(kept, nil)
	}
	g, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		t.Fatalf("accepted, but net/http refuses: %v\ninput %q", err, head)
	}
	wantCL := req.ContentLength
	if wantCL < 0 && !req.Chunked {
		wantCL = 0
	}
	chunked := len(g.TransferEncoding) == 1 && g.TransferEncoding[0] == "chunked"
	switch {
	case g.Method != string(req.Method), g.RequestURI != string(req.Target):
		t.Fatalf("net/http: %q %q", g.Method, g.RequestURI)
	case g.ProtoMinor != req.Minor:
		t.Fatalf("net/http minor %d", g.ProtoMinor)
	case g.ContentLength != wantCL, chunked != req.Chunked:
		t.Fatalf("net/http framing: length %d, transfer-encoding %q; here %d, %v\ninput %q",
			g.ContentLength, g.TransferEncoding, req.ContentLength, req.Chunked, head)
	case g.Host != string(req.Host):
		t.Fatalf("net/http host %q, here %q\ninput %q", g.Host, req.Host, head)
	case g.Close == req.KeepAlive:
		t.Fatalf("net/http Close %v, here KeepAlive %v\ninput %q", g.Close, req.KeepAlive, head)
	}
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK|Content-Length: 5||hello",
	"HTTP/1.1 404||",
	"HTTP/1.1 204 No Content||",
	"HTTP/1.1 304 Not Modified|ETag: \"x\"||",
	"HTTP/1.1 100 Continue||HTTP/1.1 200 OK|Content-Length: 0||",
	"HTTP/1.1 101 Switching Protocols|Connection: upgrade|Upgrade: websocket||",
	"HTTP/1.0 200 OK|Connection: keep-alive|Content-Length: 1||x",
	"HTTP/1.1 200 OK|Transfer-Encoding: chunked||5|hello|0||",
	"HTTP/1.1 200 OK|Content-Length: 5|Transfer-Encoding: chunked||",
	"HTTP/1.1 200 OK|X: a| b||",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/2.0 200 OK||",
	"HTTP/1.1 099 X||",
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(crlf(s)), byte(0))
		f.Add([]byte(crlf(s)), byte(1))
	}
	f.Add([]byte(benchResponse), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, sel byte) {
		if len(data) > maxFuzzInput {
			data = data[:maxFuzzInput]
		}
		lim := fuzzLimits(sel)
		eff := lim.withDefaults()
		var resp Response
		parse := func(b []byte) (int, error, string) {
			n, err := ParseResponse(b, &resp, lim)
			if err != nil && err != ErrNeedMore {
				if e, ok := err.(*Error); !ok || e.Status != 502 {
					t.Fatalf("error %v is not a 502 *Error", err)
				}
			}
			return n, err, describeResponse(n, err, &resp)
		}
		n, err, whole := parse(data)
		if err == ErrNeedMore && len(data) >= eff.MaxHeaderBytes {
			t.Fatalf("ErrNeedMore with %d bytes, limit %d", len(data), eff.MaxHeaderBytes)
		}
		if err == nil {
			switch {
			case n != resp.HeadLen || n > len(data) || n > eff.MaxHeaderBytes:
				t.Fatalf("head length %d", n)
			case resp.Status < 100 || resp.Status > 599 || resp.Major != 1:
				t.Fatalf("status line %d.%d %d", resp.Major, resp.Minor, resp.Status)
			case resp.Chunked && resp.ContentLength >= 0:
				t.Fatal("chunked with length")
			}
			for _, h := range resp.Headers {
				if !isToken(h.Name) || !isCleanValue(h.Value) {
					t.Fatalf("header %q: %q", h.Name, h.Value)
				}
			}
			compareResponseWithNetHTTP(t, data[:n], &resp)
		}
		checkSplits(t, data, whole, n, err, parse)
	})
}

func compareResponseWithNetHTTP(t *testing.T, head []byte, resp *Response) {
	t.Helper()
	g, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(head)), nil)
	if err != nil {
		t.Fatalf("accepted, but net/http refuses: %v\ninput %q", err, head)
	}
	if g.StatusCode != resp.Status || g.ProtoMinor != resp.Minor {
		t.Fatalf("net/http status %d minor %d", g.StatusCode, g.ProtoMinor)
	}
	switch ResponseFraming(false, resp) {
	case FramingLength:
		if g.ContentLength != resp.ContentLength || g.Close == resp.KeepAlive {
			t.Fatalf("net/http length %d close %v\ninput %q", g.ContentLength, g.Close, head)
		}
	case FramingChunked:
		if len(g.TransferEncoding) != 1 || g.TransferEncoding[0] != "chunked" || g.Close == resp.KeepAlive {
			t.Fatalf("net/http transfer-encoding %q close %v\ninput %q", g.TransferEncoding, g.Close, head)
		}
	case FramingClose:
		if !g.Close || g.ContentLength != -1 {
			t.Fatalf("net/http does not read until close\ninput %q", head)
		}
	}
}

// The reference chunked decoder works on whole lines with regular
// expressions taken from the RFC 9112 7.1 grammar, a method unrelated to
// the byte-at-a-time state machine it checks. Bytes are mapped to runes
// one to one, so that obs-text can be written as a rune range.
var (
	refToken    = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
	refQuoted   = `"(?:[\t \x21\x23-\x5b\x5d-\x7e\x{80}-\x{ff}]|\\[\t \x21-\x7e\x{80}-\x{ff}])*"`
	refExt      = `[ \t]*;[ \t]*` + refToken + `(?:[ \t]*=[ \t]*(?:` + refToken + `|` + refQuoted + `))?`
	refSizeLine = regexp.MustCompile(`^([0-9A-Fa-f]+)((?:` + refExt + `)*)[ \t]*$`)
	refTrailer  = regexp.MustCompile(`^` + refToken + `:[\t \x21-\x7e\x{80}-\x{ff}]*$`)
)

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

type refOutcome int

const (
	refIncomplete refOutcome = iota
	refDone
	refFailed
)

// refLine returns the line at in[pos:] without its terminator. A line
// longer than limit (terminator included) fails, even when incomplete.
func refLine(in []byte, pos, limit int) (line []byte, next int, o refOutcome) {
	lf := bytes.IndexByte(in[pos:], '\n')
	if lf < 0 {
		if len(in)-pos > limit {
			return nil, 0, refFailed
		}
		return nil, 0, refIncomplete
	}
	if lf+1 > limit {
		return nil, 0, refFailed
	}
	line = in[pos : pos+lf]
	line = bytes.TrimSuffix(line, []byte("\r"))
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, refFailed
	}
	return line, pos + lf + 1, refIncomplete
}

func refDecode(in []byte) (payload []byte, consumed int, o refOutcome) {
	pos := 0
	for {
		line, next, o := refLine(in, pos, maxChunkLine)
		if line == nil && next == 0 {
			return payload, 0, o
		}
		m := refSizeLine.FindStringSubmatch(latin1(line))
		if m == nil {
			return payload, 0, refFailed
		}
		size, err := strconv.ParseInt(m[1], 16, 64)
		if err != nil {
			return payload, 0, refFailed
		}
		pos = next
		if size == 0 {
			break
		}
		if int64(len(in)-pos) < size {
			return payload, 0, refIncomplete
		}
		payload = append(payload, in[pos:pos+int(size)]...)
		pos += int(size)
		switch {
		case pos >= len(in):
			return payload, 0, refIncomplete
		case in[pos] == '\n':
			pos++
		case in[pos] != '\r':
			return payload, 0, refFailed
		case pos+1 >= len(in):
			return payload, 0, refIncomplete
		case in[pos+1] != '\n':
			return payload, 0, refFailed
		default:
			pos += 2
		}
	}
	start := pos
	for {
		line, next, o := refLine(in, pos, maxTrailerBytes-(pos-start))
		if line == nil && next == 0 {
			return payload, 0, o
		}
		if len(line) == 0 {
			return payload, next, refDone
		}
		if !refTrailer.MatchString(latin1(line)) {
			return payload, 0, refFailed
		}
		pos = next
	}
}

// decodeSplit feeds in to a decoder in pieces whose sizes come from rng.
func decodeSplit(in []byte, rng *rand.Rand) (payload []byte, consumed int, done bool, err error) {
	var d ChunkedDecoder
	avail := 0
	for {
		n, data, dn, e := d.Next(in[consumed:avail])
		consumed += n
		payload = append(payload, data...)
		if e != nil || dn {
			return payload, consumed, dn, e
		}
		if n == 0 && data == nil {
			if avail == len(in) {
				return payload, consumed, false, nil
			}
			avail = min(avail+1+rng.IntN(16), len(in))
		}
	}
}

func FuzzChunkedDecoder(f *testing.F) {
	seeds := []string{
		"5|hello|0||", "5|hello|1|,|6| world|0||", "0005|hello|000||", "5;a=b;c=\"d\\\"e\"|hello|0||",
		"5 ; a = b|hello|0||", "5\nhello\n0\nX: y\n\n", "0|X-Trailer: v||rest", "0x5|hello|0||",
		"8000000000000000|", "5;a b|hello|0||", "5|helloX|0||", "0|X: a| b||", "5\rhello", "|",
		"a|0123456789|0|\r|", "7fffffffffffffff|abc",
	}
	for _, s := range seeds {
		f.Add([]byte(crlf(s)), uint64(1))
	}
	f.Add(benchChunked, uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		if len(data) > 4*maxFuzzInput {
			data = data[:4*maxFuzzInput]
		}
		p0, n0, d0, e0 := decodeAll(data, 0)
		p1, n1, d1, e1 := decodeAll(data, 1)
		p2, n2, d2, e2 := decodeSplit(data, rand.New(rand.NewPCG(seed, seed>>1)))
		if !bytes.Equal(p0, p1) || n0 != n1 || d0 != d1 || e0 != e1 ||
			!bytes.Equal(p0, p2) || n0 != n2 || d0 != d2 || e0 != e2 {
			t.Fatalf("split changes the result:\nwhole %q %d %v %v\nbytes %q %d %v %v\nsplit %q %d %v %v\ninput %q",
				p0, n0, d0, e0, p1, n1, d1, e1, p2, n2, d2, e2, data)
		}
		if !d0 && e0 == nil && n0 != len(data) {
			t.Fatalf("needs more input but consumed only %d of %d", n0, len(data))
		}
		rp, rn, ro := refDecode(data)
		switch ro {
		case refDone:
			if !d0 || !bytes.Equal(p0, rp) || n0 != rn {
				t.Fatalf("reference: done %q %d; decoder %q %d %v %v\ninput %q", rp, rn, p0, n0, d0, e0, data)
			}
		case refFailed:
			if e0 == nil {
				t.Fatalf("reference fails, decoder %v %v\ninput %q", d0, e0, data)
			}
		case refIncomplete:
			// The decoder may already have refused a partial line.
			if d0 {
				t.Fatalf("reference incomplete, decoder done\ninput %q", data)
			}
		}
	})
}
