package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests follow bodies through the proxy: request bodies with a
// length or in chunks, small and larger than client_body_buffer_size (a
// temporary file under the bench's prefix), with and without
// proxy_request_buffering, bodies that stop or time out; responses to a
// client that does not read, buffered in memory and a temporary file or
// held back (proxy_buffering, X-Accel-Buffering,
// proxy_max_temp_file_size); and limit_rate.

// patternBody returns n bytes of a repeating, position-dependent
// pattern, so that a byte lost, doubled or moved changes the body.
func patternBody(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%07d,", i)
	}
	return b.String()[:n]
}

// chunkedBody frames s in chunks of at most size bytes, with the last
// chunk.
func chunkedBody(s string, size int) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(size, len(s))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, s[:n])
		s = s[n:]
	}
	return b.String() + "0\r\n\r\n"
}

// sendInPieces sends s in pieces of size bytes.
func sendInPieces(m *memConn, s string, size int) {
	for i := 0; i < len(s); i += size {
		m.send(s[i:min(i+size, len(s))])
	}
}

// filesUnder lists the regular files under dir.
func filesUnder(t *testing.T, dir string) []string {
	var files []string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	return files
}

// bodyEchoUpstream answers with what it got: the body's length and
// digest and its framing fields.
func bodyEchoUpstream(t *testing.T) string {
	return goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		fmt.Fprintf(w, "len=%d sum=%x cl=%s te=%s", len(body), sha256.Sum256(body),
			r.Header.Get("Content-Length"), strings.Join(r.TransferEncoding, ","))
	})
}

func TestBenchRequestBodies(t *testing.T) {
	up := bodyEchoUpstream(t)
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	small, large := patternBody(10), patternBody(100000)
	for _, tc := range []struct {
		name, framing, body string
		piece               int
		// toFile is whether the body goes to a temporary file:
		// beyond client_body_buffer_size (8k).
		toFile bool
	}{
		{"small with a length", "Content-Length: 10\r\n", small, 100, false},
		{"small with a length in pieces", "Content-Length: 10\r\n", small, 3, false},
		{"small in chunks", "Transfer-Encoding: chunked\r\n", chunkedBody(small, 4), 5, false},
		{"large with a length", "Content-Length: 100000\r\n", large, 7000, true},
		{"large in chunks", "Transfer-Encoding: chunked\r\n", chunkedBody(large, 3000), 7000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			before := b.srv.Snapshot().Buffering.BodiesToFile
			m := b.connect()
			m.send("POST /up HTTP/1.1\r\nHost: h\r\n" + tc.framing + "\r\n")
			sendInPieces(m, tc.body, tc.piece)
			resp := m.response("POST")
			// The body is read whole first and sent with its length,
			// whatever the client's framing, as nginx does.
			data := small
			if len(tc.body) > 1000 {
				data = large
			}
			want := fmt.Sprintf("len=%d sum=%x cl=%d te=", len(data), sha256.Sum256([]byte(data)), len(data))
			if got := respBody(resp); resp.StatusCode != 200 || got != want {
				t.Errorf("%d, the upstream got %q, want %q", resp.StatusCode, got, want)
			}
			toFile := b.srv.Snapshot().Buffering.BodiesToFile > before
			if toFile != tc.toFile {
				t.Errorf("body to a file: %v, want %v", toFile, tc.toFile)
			}
			if tc.toFile {
				b.waitErrorLog("a client request body is buffered to a temporary file " + filepath.Join(b.dir, "client_body_temp") + "/")
			}
			// The temporary file goes with the request.
			if files := filesUnder(t, filepath.Join(b.dir, "client_body_temp")); len(files) != 0 {
				t.Errorf("temporary files left: %q", files)
			}
			// The connection carries the next request.
			if resp, _ := m.roundTrip("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok"); resp.StatusCode != 200 {
				t.Errorf("next request: %d", resp.StatusCode)
			}
		})
	}
}

func TestBenchRequestBodyInFileOnly(t *testing.T) {
	up := bodyEchoUpstream(t)
	b := newBench(t, `log_format f '$request_body_file';
		server { listen 127.0.0.1:0; access_log logs/access.log f; location / { client_body_in_file_only on; proxy_pass http://`+up+`; } }`)
	resp, body := b.connect().roundTrip("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
	if want := fmt.Sprintf("len=5 sum=%x cl=5 te=", sha256.Sum256([]byte("hello"))); resp.StatusCode != 200 || body != want {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// With "on" the file stays after the request, named by
	// $request_body_file.
	path := b.accessLines(1)[0]
	if !strings.HasPrefix(path, filepath.Join(b.dir, "client_body_temp")+"/") {
		t.Fatalf("$request_body_file %q", path)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "hello" {
		t.Errorf("the kept file has %q (%v)", data, err)
	}
}

func TestBenchRequestBodyVariable(t *testing.T) {
	up := bodyEchoUpstream(t)
	b := newBench(t, `log_format body '$request_body|$request_length';
		server { listen 127.0.0.1:0; access_log logs/access.log body; location / { proxy_pass http://`+up+`; } }`)
	req := "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nname=val\""
	if resp, _ := b.connect().roundTrip(req); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The log escapes '"' as nginx does; $request_length counts the head
	// and the body.
	if got, want := b.accessLines(1)[0], fmt.Sprintf(`name=val\x22|%d`, len(req)); got != want {
		t.Errorf("access log %q, want %q", got, want)
	}
}

// headSignalUpstream is an upstream that reports when a request head
// has arrived, then reads the body as its framing says and answers with
// its length and framing; it counts the connections it accepts.
func headSignalUpstream(t *testing.T) (addr string, heads chan string, accepts *atomic.Int64) {
	heads = make(chan string, 10)
	accepts = new(atomic.Int64)
	addr = rawUpstream(t, func(c net.Conn) {
		accepts.Add(1)
		br := bufio.NewReader(c)
		head, err := readRawHead(br)
		if err != nil {
			return
		}
		heads <- head
		req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(head), br)))
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		answer := fmt.Sprintf("len=%d te=%s", len(body), strings.Join(req.TransferEncoding, ","))
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(answer), answer)
	})
	return addr, heads, accepts
}

func TestBenchRequestBufferingOff(t *testing.T) {
	up, heads, _ := headSignalUpstream(t)
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location /v11/ { proxy_pass http://%[1]s; proxy_request_buffering off; proxy_http_version 1.1; }
		location /v10/ { proxy_pass http://%[1]s; proxy_request_buffering off; }
	}`, up))
	body := patternBody(40000)
	for _, tc := range []struct {
		name, path, framing, first, rest string
		// streamed is whether the upstream gets the head before the
		// body is complete; te its framing then.
		streamed bool
		want     string
	}{
		{"length", "/v11/", "Content-Length: 40000\r\n", body[:100], body[100:], true, "len=40000 te="},
		{"chunks to HTTP/1.1", "/v11/", "Transfer-Encoding: chunked\r\n", chunkedBody(body, 5000)[:200], chunkedBody(body, 5000)[200:], true, "len=40000 te=chunked"},
		// An HTTP/1.0 upstream cannot take chunks: the body is read
		// whole first and sent with its length, as nginx does.
		{"chunks to HTTP/1.0", "/v10/", "Transfer-Encoding: chunked\r\n", chunkedBody(body, 5000)[:200], chunkedBody(body, 5000)[200:], false, "len=40000 te="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send("POST " + tc.path + " HTTP/1.1\r\nHost: h\r\n" + tc.framing + "\r\n" + tc.first)
			if tc.streamed {
				head := recvWithin(t, heads, "the head at the upstream before the body's end")
				if !strings.Contains(head, "\r\n"+tc.framing) {
					t.Errorf("the upstream got the head %q, want %q", head, tc.framing)
				}
			}
			sendInPieces(m, tc.rest, 6000)
			if !tc.streamed {
				recvWithin(t, heads, "the head at the upstream")
			}
			resp := m.response("POST")
			if got := respBody(resp); resp.StatusCode != 200 || got != tc.want {
				t.Errorf("%d %q, want %q", resp.StatusCode, got, tc.want)
			}
		})
	}
}

func TestBenchRequestBufferingOnWaitsForTheWholeBody(t *testing.T) {
	up, heads, accepts := headSignalUpstream(t)
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	m := b.connect()
	m.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
	// A slow client holds no upstream connection while its body comes.
	time.Sleep(50 * time.Millisecond)
	if n := accepts.Load(); n != 0 {
		t.Errorf("the upstream was connected to before the body was whole (%d connections)", n)
	}
	m.send("56789")
	recvWithin(t, heads, "the request at the upstream")
	if resp := m.response("POST"); respBody(resp) != "len=10 te=" {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestBenchRequestBodyCutShort(t *testing.T) {
	up, _, accepts := headSignalUpstream(t)
	b := newBench(t, fmt.Sprintf(`log_format st '$request_uri $status';
		client_body_timeout 50ms;
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log st;
			location / { proxy_pass http://%[1]s; }
			location /stream/ { proxy_pass http://%[1]s; proxy_request_buffering off; proxy_http_version 1.1; }
		}`, up))
	for i, tc := range []struct {
		name, path, body string
		// close is whether the client closes; else it stops sending.
		close  bool
		status int
		// answer is what the client gets: nothing for a request that
		// ends without an answer.
		answer int
	}{
		// A client that stops sending its body is not answered: nginx
		// closes after client_body_timeout and logs 408.
		{"timeout", "/a", "Content-Length: 10\r\n\r\n012", false, 408, 0},
		{"timeout while streaming", "/stream/a", "Content-Length: 10\r\n\r\n012", false, 408, 0},
		// One that closes in the middle is logged with 400.
		{"client closes", "/b", "Content-Length: 10\r\n\r\n012", true, 400, 0},
		// A chunk size that is not hex is a bad request.
		{"bad chunk", "/c", "Transfer-Encoding: chunked\r\n\r\nzz\r\n", false, 400, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.send("POST " + tc.path + " HTTP/1.1\r\nHost: h\r\n" + tc.body)
			if tc.close {
				m.shutWrite()
			}
			if tc.answer != 0 {
				if resp := m.response("POST"); resp.StatusCode != tc.answer || connField(resp) != "close" {
					t.Errorf("%d Connection %q, want %d close", resp.StatusCode, connField(resp), tc.answer)
				}
				m.shutWrite()
			}
			out := m.waitClosed()
			if tc.answer == 0 && len(out) != 0 {
				t.Errorf("the client got %q", out)
			}
			if got, want := b.accessLines(i + 1)[i], fmt.Sprintf("%s %d", tc.path, tc.status); got != want {
				t.Errorf("access log %q, want %q", got, want)
			}
		})
	}
	b.waitErrorLog("client prematurely closed connection")
	// Only the streamed body reached the upstream.
	if n := accepts.Load(); n != 1 {
		t.Errorf("the upstream got %d connections, want 1", n)
	}
}

// bigUpstream starts an upstream that answers every request with body,
// plus the fields in extra, and reports on done when it has written it
// all.
func bigUpstream(t *testing.T, body string, extra func(path string) string) (addr string, done chan string) {
	done = make(chan string, 10)
	addr = rawUpstream(t, func(c net.Conn) {
		head, err := readRawHead(bufio.NewReader(c))
		if err != nil {
			return
		}
		path := strings.Fields(head)[1]
		fields := ""
		if extra != nil {
			fields = extra(path)
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n", len(body), fields)
		if _, err := io.WriteString(c, body); err == nil {
			done <- path
		}
		io.Copy(io.Discard, c)
	})
	return addr, done
}

func TestBenchResponseToAClientThatDoesNotRead(t *testing.T) {
	body := patternBody(1 << 20)
	up, _ := bigUpstream(t, body, func(path string) string {
		if strings.Contains(path, "noaccel") {
			return "X-Accel-Buffering: no\r\n"
		}
		return ""
	})
	b := newBench(t, fmt.Sprintf(`server {
		listen 127.0.0.1:0;
		location / { proxy_pass http://%[1]s; }
		location /off/ { proxy_pass http://%[1]s; proxy_buffering off; }
		location /memory/ { proxy_pass http://%[1]s; proxy_max_temp_file_size 0; }
		location /small/ { proxy_pass http://%[1]s; proxy_max_temp_file_size 64k; }
	}`, up))
	temp := filepath.Join(b.dir, "proxy_temp")
	spooled := func() (size int64) {
		for _, f := range filesUnder(t, temp) {
			if info, err := os.Stat(f); err == nil {
				size += info.Size()
			}
		}
		return size
	}
	for _, tc := range []struct {
		path string
		// buffered is whether the whole response is read from the
		// upstream while the client reads nothing: what memory
		// (proxy_buffers, 8 4k) and the client's buffer do not hold
		// goes to a temporary file; toFile whether a file is used.
		buffered, toFile bool
	}{
		{"/buffered", true, true},
		{"/off/x", false, false},
		{"/buffered-noaccel", false, false},
		{"/memory/x", false, false},
		// A file of at most 64k, then the upstream waits.
		{"/small/x", false, true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			b := b.sub(t)
			before := b.srv.Snapshot().Buffering.ResponsesToFile
			m := b.connect()
			m.setRoom(0)
			m.send(httpGet(tc.path, "Connection: close\r\n"))
			if tc.toFile {
				b.waitErrorLog("an upstream response is buffered to a temporary file " + temp + "/")
			}
			if tc.buffered {
				b.eventually("the response in the spool", func() bool { return spooled() >= int64(len(body)-64<<10) })
				// With the upstream's part over, the waiting answer holds
				// its out buffer and the spool, not the staging buffer.
				b.eventually("the upstream's part over", func() bool { return m.upDone() })
				if m.holdsScratch() {
					t.Errorf("the answer waiting for its client still holds the spool's staging buffer")
				}
			}
			if tc.path == "/small/x" {
				b.eventually("the temporary file", func() bool { return spooled() > 0 })
				if size := spooled(); size > 64<<10 {
					t.Errorf("the temporary file holds %d bytes, beyond proxy_max_temp_file_size 64k", size)
				}
			}
			m.setRoom(-1)
			m.waitEnded()
			resp := m.response("GET")
			got := respBody(resp)
			if resp.StatusCode != 200 || len(got) != len(body) || got != body {
				t.Errorf("%d with %d body bytes, want 200 with the %d sent", resp.StatusCode, len(got), len(body))
			}
			if toFile := b.srv.Snapshot().Buffering.ResponsesToFile > before; toFile != tc.toFile {
				t.Errorf("response to a file: %v, want %v", toFile, tc.toFile)
			}
			// The temporary file goes with the request, which ends when
			// the client closes too.
			m.shutWrite()
			m.waitClosed()
			if files := filesUnder(t, temp); len(files) != 0 {
				t.Errorf("temporary files left: %q", files)
			}
		})
	}
}

func TestBenchCloseDelimitedResponseSpooled(t *testing.T) {
	body := patternBody(300000)
	up := rawUpstream(t, func(c net.Conn) {
		if _, err := readRawHead(bufio.NewReader(c)); err != nil {
			return
		}
		// An HTTP/1.0 answer without a length ends with the connection.
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\n"+body)
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	m := b.connect()
	m.setRoom(0)
	m.send(httpGet("/"))
	// All of it is read into the spool while the client reads nothing,
	// and its end, the last chunk for an HTTP/1.1 client, after it.
	b.waitErrorLog("an upstream response is buffered to a temporary file")
	b.eventually("the upstream's answer in the spool", func() bool {
		var size int64
		for _, f := range filesUnder(t, filepath.Join(b.dir, "proxy_temp")) {
			if info, err := os.Stat(f); err == nil {
				size += info.Size()
			}
		}
		return size >= int64(len(body)-64<<10)
	})
	b.eventually("the upstream's part over", func() bool { return m.upDone() })
	if m.holdsScratch() {
		t.Errorf("the answer waiting for its client still holds the spool's staging buffer")
	}
	m.setRoom(-1)
	resp := m.response("GET")
	if got := respBody(resp); resp.StatusCode != 200 || got != body || len(resp.TransferEncoding) != 1 || connField(resp) != "keep-alive" {
		t.Errorf("%d with %d bytes, chunked %v, Connection %q", resp.StatusCode, len(got), resp.TransferEncoding, connField(resp))
	}
}

func TestBenchLimitRate(t *testing.T) {
	body := patternBody(3000)
	up, _ := bigUpstream(t, body, func(path string) string {
		switch path {
		case "/up/lifted":
			return "X-Accel-Limit-Rate: 0\r\n"
		case "/up/limited":
			return "X-Accel-Limit-Rate: 1\r\n"
		}
		return ""
	})
	b := newBench(t, `log_format rate '$request_uri $limit_rate';
		server {
		listen 127.0.0.1:0;
		access_log logs/access.log rate;
		location /slow { limit_rate 1; limit_rate_after 1000; return 200 "`+body+`"; }
		location /after { limit_rate 1; limit_rate_after 1m; return 200 "`+body+`"; }
		location /up/ { limit_rate 1; limit_rate_after 1000; proxy_pass http://`+up+`; }
	}`)
	total := func(out []byte) int {
		i := bytes.Index(out, []byte("\r\n\r\n"))
		return i + 4 + len(body)
	}

	// At 1 byte a second after the first 1000, the response has one
	// second's worth beyond them (two when the request's second ends
	// between the start and the write), then waits.
	m := b.connect()
	m.send(httpGet("/slow"))
	if out, _ := m.state(); len(out) < 1001 || len(out) > 1002 {
		t.Errorf("the client got %d bytes at once, want 1001 or 1002", len(out))
	}

	// limit_rate_after covers the whole response: no wait.
	if resp, got := b.connect().roundTrip(httpGet("/after")); resp.StatusCode != 200 || got != body {
		t.Errorf("/after: %d with %d bytes", resp.StatusCode, len(got))
	}

	// The upstream's X-Accel-Limit-Rate sets the rate: 0 lifts it.
	if resp, got := b.connect().roundTrip(httpGet("/up/lifted")); resp.StatusCode != 200 || got != body || resp.Header.Get("X-Accel-Limit-Rate") != "" {
		t.Errorf("/up/lifted: %d with %d bytes, X-Accel-Limit-Rate %q", resp.StatusCode, len(got), resp.Header.Get("X-Accel-Limit-Rate"))
	}
	m = b.connect()
	m.send(httpGet("/up/limited"))
	b.eventually("the first part of the response", func() bool {
		out, _ := m.state()
		return len(out) >= 1001
	})
	// The upstream's answer came some time after the request began,
	// which adds a second's worth for each second: the response is held
	// back all the same.
	if out, _ := m.state(); len(out) >= total(out) {
		t.Errorf("the client got all %d bytes at once, want them held back", len(out))
	}
	if lines := b.accessLines(2); lines[0] != "/after 1" || lines[1] != "/up/lifted 0" {
		t.Errorf("$limit_rate logged %q", lines)
	}
}

// holdsWithin reports whether cond holds within d, polling. It is for the
// tests that tell a known difference from nginx (a wait that never
// ends) from a failure: only its "false" after a generous d is taken as
// the difference.
func holdsWithin(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func TestBenchSendTimeoutOfAProxiedResponse(t *testing.T) {
	body := patternBody(100000)
	up, _ := bigUpstream(t, body, nil)
	b := newBench(t, fmt.Sprintf(`log_format st '$request_uri $status';
		send_timeout 50ms;
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log st;
			location /buffered/ { proxy_pass http://%[1]s; }
			location /unbuffered/ { proxy_pass http://%[1]s; proxy_buffering off; }
		}`, up))
	for i, path := range []string{"/buffered/", "/unbuffered/"} {
		t.Run(path, func(t *testing.T) {
			b := b.sub(t)
			m := b.connect()
			m.setRoom(1000)
			m.send(httpGet(path))
			// The client takes 1000 bytes and then nothing: send_timeout
			// ends the connection.
			closed := holdsWithin(time.Second, func() bool { _, closed := m.state(); return closed })
			out, _ := m.state()
			if !closed && len(out) == 1000 && path == "/unbuffered/" {
				t.Fatal("differs from nginx: with proxy_buffering off, a client that stops reading a response the upstream is still sending is never closed by send_timeout (nor is the upstream connection); nginx closes it after send_timeout")
			}
			if !closed || len(out) != 1000 {
				t.Fatalf("closed %v with %d bytes, want closed with the 1000 the client had room for", closed, len(out))
			}
			// nginx finalizes the request with 408 on the timeout; as
			// bytes of the response were sent, $status stays 200.
			switch got := b.accessLines(i + 1)[i]; got {
			case path + " 200":
			case path + " 000":
				t.Fatal("differs from nginx: a proxied response cut by send_timeout after bytes were sent is logged with status 000; nginx logs 200")
			default:
				t.Errorf("access log %q, want %q", got, path+" 200")
			}
		})
	}
}

func TestBenchLimitRateWhileTheUpstreamSends(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		readRawHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"+strings.Repeat("a", 100))
		// The rest comes while the response waits out limit_rate's
		// pause.
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, strings.Repeat("b", 100))
		io.Copy(io.Discard, c)
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { limit_rate 1000; proxy_pass http://`+up+`; } }`)
	m := b.connect()
	m.send(httpGet("/"))
	// About 300 bytes at 1000 a second: the pause after the first write
	// is under a second.
	if !holdsWithin(time.Second, func() bool { out, _ := m.state(); return bytes.HasSuffix(out, []byte("bbbb")) }) {
		out, _ := m.state()
		if bytes.HasSuffix(out, []byte(strings.Repeat("a", 100))) {
			t.Fatal("differs from nginx: a proxied response under limit_rate stops for good when more of it arrives from the upstream during a limit_rate pause; nginx sends the rest at the rate")
		}
		t.Fatalf("the client has %q", out)
	}
	resp := m.response("GET")
	if got := respBody(resp); got != strings.Repeat("a", 100)+strings.Repeat("b", 100) {
		t.Errorf("body %q", got)
	}
}

// TestBenchStreamedRequestBodyVariable checks $request_body with
// proxy_request_buffering off: the streamed body is kept for the variable
// while it fits in the memory nginx would hold it in, and chunks that
// arrive together go upstream as one chunk, as nginx sends them.
func TestBenchStreamedRequestBodyVariable(t *testing.T) {
	got := make(chan string, 1)
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
	})
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			proxy_request_buffering off;
			proxy_http_version 1.1;
			client_body_buffer_size 1k;
			location / { add_header X-Body "$request_body"; proxy_pass http://`+up+`; }
		}`)
	resp, _ := b.connect().roundTrip("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
	if got := resp.Header.Get("X-Body"); got != "0123456789" {
		t.Errorf("$request_body %q, want the body", got)
	}
	<-got
	resp, _ = b.connect().roundTrip("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n4\r\nmany\r\n0\r\n\r\n")
	if got := resp.Header.Get("X-Body"); got != "01234many" {
		t.Errorf("chunked $request_body %q, want 01234many", got)
	}
	if body := <-got; body != "01234many" {
		t.Errorf("upstream got %q", body)
	}
	big := strings.Repeat("x", 8000)
	resp, _ = b.connect().roundTrip("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8000\r\n\r\n" + big)
	if got := resp.Header.Get("X-Body"); got != "" {
		t.Errorf("a body beyond the buffers has $request_body of %d bytes", len(got))
	}
	<-got
}

// upDone reports whether the connection's request has had all of its
// upstream's answer.
func (m *memConn) upDone() (done bool) {
	m.b.do(func() { done = m.cc.r != nil && m.cc.r.upDone })
	return done
}

// holdsScratch reports whether the connection's request holds the
// spool's staging buffer.
func (m *memConn) holdsScratch() (holds bool) {
	m.b.do(func() { holds = m.cc.r != nil && m.cc.r.spoolScratch != nil })
	return holds
}
