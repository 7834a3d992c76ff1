package integration

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the same sub_filter configurations against nginx and
// headroom: strings replaced in files, in headroom's own answers and in
// proxied bodies that arrive in pieces, with variables on both sides, the
// types, the inheritance and the headers. The expected bodies are
// nginx 1.22's. The last test is of an upstream that closes early while
// a slow client still reads.

// pieceAnswer is what the piece upstream answers to a path: a head and a
// body written in pieces apart in time, so that the proxy reads them
// apart; cut closes the connection after the pieces, whatever the head
// promised.
type pieceAnswer struct {
	head   string
	pieces []string
}

// startPieceUpstream serves answers by request path on a loopback port
// and returns its address; a path it does not know gets a 404. Each
// answer closes its connection.
func startPieceUpstream(t *testing.T, answers map[string]pieceAnswer) string {
	t.Helper()
	return newUpstream(t, "pieces", func(c *upConn, r *upRequest) {
		c.closeNow()
		a, ok := answers[r.Target]
		if !ok {
			c.respond(404, "")
			return
		}
		c.writeString(a.head)
		for _, p := range a.pieces {
			c.sleep(20 * time.Millisecond)
			c.writeString(p)
		}
	}).addr
}

// chunkedHead is an upstream's head for a chunked text/html body.
const chunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"

// oneChunk frames s as one chunk.
func oneChunk(s string) string {
	return strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n"
}

func TestSubFilterAsNginx(t *testing.T) {
	up := startPieceUpstream(t, map[string]pieceAnswer{
		// "foo" cut at every place across reads, and a partial match at
		// the very end, which stays as it is.
		"/pieces": {head: chunkedHead, pieces: []string{
			oneChunk("fo"), oneChunk("o f"), oneChunk("oo"), oneChunk("f"), oneChunk("o"), oneChunk("o! FOO fo"), "0\r\n\r\n"}},
		// The same with a length, one byte a piece.
		"/bytes": {head: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\n",
			pieces: strings.Split("xfoofoo-fOo", "")},
		// No Content-Type: only sub_filter_types * filters it.
		"/untyped": {head: "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n", pieces: []string{"foo-foo"}},
	})
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; text/plain txt; text/css css; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        sub_filter_types text/css;
        sub_filter server SERVER;
        location / { sub_filter Hello "[hi $arg_a]"; sub_filter world WORLD; }
        location /inherit/ { }
        location /all/ { sub_filter ab X; sub_filter abc Y; sub_filter_once off; }
        location /types/ { sub_filter x Y; sub_filter_types text/plain; }
        location /var/ { sub_filter $arg_p "<$arg_p>"; sub_filter zz ZZ; sub_filter_once off; }
        location /nf/ { sub_filter "not found" gone; }
        location /up/ { sub_filter foo bar; sub_filter_once off; proxy_pass http://`+up+`/; }
        location /untyped/ { sub_filter foo bar; sub_filter_types *; proxy_pass http://`+up+`/; }
        location /notypes/ { sub_filter foo bar; proxy_pass http://`+up+`/untyped; }
        location /gz/ { sub_filter foo bar; sub_filter_once off; gzip on; gzip_min_length 1; alias {{PREFIX}}/html/; }
        location /ssi/ { ssi on; sub_filter "<!--# echo var=\"a\" -->" "<!--# echo var=\"arg_b\" -->"; alias {{PREFIX}}/html/; }
    }`)
		writeHTML(t, p, "p.html", "Hello world, hello World")
		writeHTML(t, p, "inherit/s.html", "server, Server")
		writeHTML(t, p, "all/x.html", "abc ab abcd aB")
		writeHTML(t, p, "types/t.txt", "xx")
		writeHTML(t, p, "t.txt", "Hello world")
		writeHTML(t, p, "c.css", "server")
		writeHTML(t, p, "var/v.html", "a cat CAT zz")
		writeHTML(t, p, "big.html", strings.Repeat("0123456789", 2000)+"foo"+strings.Repeat("0123456789", 2000))
		writeHTML(t, p, "inc.html", `[<!--# echo var="a" -->]`)
		ssiRun(t, p, []ssiCase{
			{"once, case-insensitive, a variable in the replacement", "", "", "/p.html?a=1", "[hi 1] WORLD, hello World"},
			{"text/plain is not filtered by default", "", "", "/t.txt", "Hello world"},
			{"sub_filter_types at the server", "", "", "/c.css", "server"},
			{"inherited from the server, once", "", "", "/inherit/s.html", "SERVER, Server"},
			{"the first listed wins at a place, everywhere", "", "", "/all/x.html", "Xc X Xcd X"},
			{"sub_filter_types text/plain", "", "", "/types/t.txt", "Yx"},
			{"a variable in the string, lower-cased", "", "", "/var/v.html?p=Cat", "a <Cat> <Cat> ZZ"},
			{"a string that comes out empty is left out", "", "", "/var/v.html", "a cat CAT ZZ"},
			{"a chunked body in pieces", "", "", "/up/pieces", "bar barbar! bar fo"},
			{"a body a byte a piece", "", "", "/up/bytes", "xbarbar-bar"},
			{"no Content-Type with sub_filter_types *", "", "", "/untyped/untyped", "bar-foo"},
			{"no Content-Type by default", "", "", "/notypes/", "foo-foo"},
			{"SSI after sub_filter", "", "", "/ssi/inc.html?b=B", "[B]"},
		})
		// An error page of the server's own is filtered too.
		r := ssiGet(t, p, "/nf/none")
		if want := strings.Replace(ssiErrorPage("404 Not Found"), "404 Not Found", "404 gone", 1); r.Status != 404 || ssiNormalize(r.Body) != want {
			t.Errorf("the server's own 404 page: got %d %q, want 404 %q", r.Status, r.Body, want)
		}
		for i := range 2 {
			r := ssiGet(t, p, "/gz/big.html", "Accept-Encoding: gzip")
			body, err := ssiGunzipOne(r.Body)
			want := strings.Repeat("0123456789", 2000) + "bar" + strings.Repeat("0123456789", 2000)
			if err != nil || body != want || r.header("Content-Encoding") != "gzip" {
				t.Errorf("gzip after sub_filter (%d): %v, %d bytes, Content-Encoding %q", i, err, len(body), r.header("Content-Encoding"))
			}
		}
	})
}

// TestSubFilterHeaders checks the head of a filtered answer: no
// Content-Length (chunked for HTTP/1.1, closed for HTTP/1.0), and no
// Last-Modified or ETag unless sub_filter_last_modified keeps them, the
// ETag weak; a Range is not applied.
func TestSubFilterHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        sub_filter a A;
        location /lm/ { sub_filter_last_modified on; }
    }`)
		writeHTML(t, p, "p.html", "abc")
		writeHTML(t, p, "lm/p.html", "abc")
		checkFilteredHeads(t, p, func(r *response) bool {
			return r.header("Content-Range") == ""
		}, []filteredHeadCase{
			{"HTTP/1.1", "GET /p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "Abc", true, false, false},
			{"a Range ignored", "GET /p.html HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n", "Abc", true, false, false},
			{"HTTP/1.0", "GET /p.html HTTP/1.0\r\n\r\n", "Abc", false, true, false},
			{"HEAD", "HEAD /p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", false, false, false},
			{"sub_filter_last_modified", "GET /lm/p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "Abc", true, false, true},
		})
	})
}

// TestUpstreamCutShortSlowClient checks an upstream that closes before
// the end of a buffered answer that a slow client is still reading:
// everything the upstream sent reaches the client, and then the
// connection closes without the answer's end (no last chunk), so the
// client still learns that it was cut. With a Content-Length the client
// sees fewer bytes than promised.
func TestUpstreamCutShortSlowClient(t *testing.T) {
	const lines = 10000
	body := strings.Repeat(strings.Repeat("X", 98)+"\r\n", lines) + "unfinished\r\n"
	up := startPieceUpstream(t, map[string]pieceAnswer{
		"/cut": {head: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000100\r\nConnection: close\r\n\r\n",
			pieces: []string{body}},
	})
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}} sndbuf=32k;
        location / { proxy_pass http://`+up+`; }
        location /sf/ { sub_filter z Z; proxy_pass http://`+up+`/; }
    }`)
		for _, tc := range []struct {
			path    string
			chunked bool
		}{{"/cut", false}, {"/sf/cut", true}} {
			d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				// A small receive buffer, so that the answer waits in
				// the proxy while the client sleeps.
				rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
				return nil
			}}
			c, err := d.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(15 * time.Second))
			io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\n\r\n")
			time.Sleep(500 * time.Millisecond)
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil {
				t.Errorf("%s: reading until the close: %v", tc.path, err)
			}
			head, rest, _ := bytes.Cut(got, []byte("\r\n\r\n"))
			var data []byte
			if tc.chunked {
				if !bytes.Contains(head, []byte("Transfer-Encoding: chunked")) {
					t.Errorf("%s: not chunked:\n%s", tc.path, head)
				}
				var complete bool
				data, complete = dechunkPrefix(rest)
				if complete {
					t.Errorf("%s: the cut answer ends with a last chunk", tc.path)
				}
			} else {
				data = rest
			}
			if string(data) != body {
				t.Errorf("%s: got %d bytes of the body (ends %q), want the %d the upstream sent",
					tc.path, len(data), truncateEnd(data, 20), len(body))
			}
		}
	})
}

// dechunkPrefix decodes as many whole chunks as rest holds; complete
// reports a last chunk among them.
func dechunkPrefix(rest []byte) (data []byte, complete bool) {
	for {
		line, after, ok := bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			return data, false
		}
		n := 0
		for _, c := range line {
			switch {
			case '0' <= c && c <= '9':
				n = n*16 + int(c-'0')
			case 'a' <= c && c <= 'f':
				n = n*16 + int(c-'a'+10)
			case 'A' <= c && c <= 'F':
				n = n*16 + int(c-'A'+10)
			default:
				return data, false
			}
		}
		if n == 0 {
			return data, true
		}
		if len(after) < n+2 {
			return data, false
		}
		data = append(data, after[:n]...)
		rest = after[n+2:]
	}
}

// truncateEnd is the last n bytes of b.
func truncateEnd(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
