package http1

import (
	"bytes"
	"testing"
)

// benchRequest is a typical browser request head.
const benchRequest = "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg?ver=1 HTTP/1.1\r\n" +
	"Host: www.kittyhell.com\r\n" +
	"User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n" +
	"Accept-Encoding: gzip,deflate\r\n" +
	"Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n" +
	"Keep-Alive: 115\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n" +
	"\r\n"

// benchSmallRequest is what a load generator or a health check sends.
const benchSmallRequest = "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n\r\n"

const benchResponse = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.22.1\r\n" +
	"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 612\r\n" +
	"Last-Modified: Tue, 19 Oct 2021 15:03:01 GMT\r\n" +
	"Connection: keep-alive\r\n" +
	"ETag: \"616edea5-264\"\r\n" +
	"Accept-Ranges: bytes\r\n" +
	"\r\n"

var benchChunked = func() []byte {
	var b []byte
	chunk := bytes.Repeat([]byte("x"), 4096)
	for i := 0; i < 16; i++ {
		b = AppendChunk(b, chunk)
	}
	return AppendLastChunk(b)
}()

func benchParseRequest(b *testing.B, in string) {
	buf := []byte(in)
	req := Request{Headers: make([]Header, 0, 32)}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(buf, &req, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B)      { benchParseRequest(b, benchRequest) }
func BenchmarkParseRequestSmall(b *testing.B) { benchParseRequest(b, benchSmallRequest) }

// BenchmarkParseRequestIncomplete measures the cost of a parse that ends
// in ErrNeedMore, which a caller pays for each read of a partial head.
func BenchmarkParseRequestIncomplete(b *testing.B) {
	buf := []byte(benchRequest[:len(benchRequest)-1])
	req := Request{Headers: make([]Header, 0, 32)}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(buf, &req, nil); err != ErrNeedMore {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestReject(b *testing.B) {
	buf := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	req := Request{Headers: make([]Header, 0, 32)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(buf, &req, nil); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte(benchResponse)
	resp := Response{Headers: make([]Header, 0, 32)}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(buf, &resp, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecoder(b *testing.B) {
	var d ChunkedDecoder
	b.SetBytes(int64(len(benchChunked)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		in := benchChunked
		for {
			n, _, done, err := d.Next(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
			if done {
				break
			}
		}
	}
}

// BenchmarkChunkedDecoderSmallChunks stresses the framing state machine
// rather than the data path.
func BenchmarkChunkedDecoderSmallChunks(b *testing.B) {
	var body []byte
	for i := 0; i < 256; i++ {
		body = AppendChunk(body, []byte("0123456789abcdef"))
	}
	body = AppendLastChunk(body)
	var d ChunkedDecoder
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d.Reset()
		in := body
		for {
			n, _, done, err := d.Next(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
			if done {
				break
			}
		}
	}
}

func BenchmarkAppendChunk(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 4096)
	dst := make([]byte, 0, 8192)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendChunk(dst[:0], data)
	}
}

func BenchmarkHasToken(b *testing.B) {
	list := []byte("keep-alive, Upgrade, X-Custom-Hop")
	b.ReportAllocs()
	for b.Loop() {
		if !HasToken(list, "x-custom-hop") {
			b.Fatal("missing")
		}
	}
}

func BenchmarkForEachToken(b *testing.B) {
	list := []byte("keep-alive, Upgrade, X-Custom-Hop")
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		ForEachToken(list, func(tok []byte) { n += len(tok) })
	}
}

// TestZeroAllocs guards the zero-allocation property in ordinary test
// runs, not only in benchmarks.
func TestZeroAllocs(t *testing.T) {
	req := Request{Headers: make([]Header, 0, 32)}
	resp := Response{Headers: make([]Header, 0, 32)}
	var d ChunkedDecoder
	reqBuf, respBuf := []byte(benchRequest), []byte(benchResponse)
	bad := []byte("GET / HTTP/1.1\r\nX: \x00\r\n\r\n")
	cases := map[string]func(){
		"ParseRequest":       func() { ParseRequest(reqBuf, &req, nil) },
		"ParseRequest error": func() { ParseRequest(bad, &req, nil) },
		"ParseResponse":      func() { ParseResponse(respBuf, &resp, nil) },
		"ChunkedDecoder": func() {
			d.Reset()
			for in := benchChunked; ; {
				n, _, done, _ := d.Next(in)
				if in = in[n:]; done {
					break
				}
			}
		},
		"ForEachToken": func() { ForEachToken(reqBuf, func([]byte) {}) },
		"HasToken":     func() { HasToken(reqBuf, "x") },
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs per run", name, n)
		}
	}
}
