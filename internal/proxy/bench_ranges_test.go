package proxy

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// benchMultipart is the body nginx sends for ranges of a file.
func benchMultipart(boundary, ctype string, file []byte, spans []byteSpan) string {
	var b strings.Builder
	for _, sp := range spans {
		b.WriteString("\r\n--" + boundary + "\r\n")
		if ctype != "" {
			b.WriteString("Content-Type: " + ctype + "\r\n")
		}
		fmt.Fprintf(&b, "Content-Range: bytes %d-%d/%d\r\n\r\n", sp.start, sp.end-1, len(file))
		b.Write(file[sp.start:sp.end])
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.String()
}

var benchBoundary = regexp.MustCompile(`^multipart/byteranges; boundary=(\d{20})$`)

// TestBenchByteRanges checks multipart answers through the worker: the
// head, the length computed up front, the parts in the order asked for,
// a client that takes a few hundred bytes at a time (the parts are
// streamed from the file as it makes room), trailers (the multipart body
// is one chunk), and max_ranges.
func TestBenchByteRanges(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location / { }
			location /two/ { alias html/; max_ranges 2; }
			location /none/ { alias html/; max_ranges 0; }
			location /tr/ { alias html/; add_trailer X-T done; }
		}`)
	file := make([]byte, 200000)
	for i := range file {
		file[i] = byte('a' + i%26)
	}
	os.MkdirAll(filepath.Join(b.dir, "html"), 0o755)
	if err := os.WriteFile(filepath.Join(b.dir, "html", "f.txt"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	spans := []byteSpan{{150000, 200000}, {0, 10}, {5, 70000}}
	const rng = "Range: bytes=150000-, 0-9,5-69999\r\n"

	t.Run("multipart", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /f.txt HTTP/1.1\r\nHost: h\r\n" + rng + "\r\n")
		m := benchBoundary.FindStringSubmatch(resp.Header.Get("Content-Type"))
		if resp.StatusCode != 206 || m == nil {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		want := benchMultipart(m[1], "text/plain", file, spans)
		if body != want || resp.ContentLength != int64(len(want)) {
			t.Errorf("body of %d bytes with Content-Length %d; want %d", len(body), resp.ContentLength, len(want))
		}
		if resp.Header.Get("Accept-Ranges") != "" || resp.Header.Get("Content-Range") != "" {
			t.Errorf("fields %v", resp.Header)
		}
		// The next answer has the next boundary.
		resp, _ = c.roundTrip("GET /f.txt HTTP/1.1\r\nHost: h\r\n" + rng + "\r\n")
		next := benchBoundary.FindStringSubmatch(resp.Header.Get("Content-Type"))
		if next == nil || next[1] <= m[1] {
			t.Errorf("boundary %v after %s", next, m[1])
		}
	})

	t.Run("slow reader", func(t *testing.T) {
		c := b.connect()
		c.setRoom(300)
		c.send("GET /f.txt HTTP/1.1\r\nHost: h\r\n" + rng + "\r\n")
		for range 20 {
			c.setRoom(300)
		}
		c.setRoom(-1)
		resp := c.response("GET")
		body, _ := io.ReadAll(resp.Body)
		m := benchBoundary.FindStringSubmatch(resp.Header.Get("Content-Type"))
		if m == nil || string(body) != benchMultipart(m[1], "text/plain", file, spans) {
			t.Errorf("status %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("many small parts", func(t *testing.T) {
		// Part heads fall across the ends of the output buffer, where
		// they are copied in two pieces.
		for width := 30; width < 36; width++ {
			var spec strings.Builder
			var many []byteSpan
			for i := range 400 {
				start := int64(i * 97)
				many = append(many, byteSpan{start, start + int64(width)})
				if i > 0 {
					spec.WriteByte(',')
				}
				fmt.Fprintf(&spec, "%d-%d", start, start+int64(width)-1)
			}
			c := b.connect()
			c.setRoom(1000)
			c.send("GET /f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=" + spec.String() + "\r\n\r\n")
			c.setRoom(-1)
			resp := c.response("GET")
			body, _ := io.ReadAll(resp.Body)
			m := benchBoundary.FindStringSubmatch(resp.Header.Get("Content-Type"))
			if m == nil {
				t.Fatalf("width %d: status %d, Content-Type %q", width, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if want := benchMultipart(m[1], "text/plain", file, many); string(body) != want || resp.ContentLength != int64(len(want)) {
				t.Fatalf("width %d: %d bytes with Content-Length %d, want %d", width, len(body), resp.ContentLength, len(want))
			}
		}
	})

	t.Run("trailers", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /tr/f.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1,3-4\r\n\r\n")
		m := benchBoundary.FindStringSubmatch(resp.Header.Get("Content-Type"))
		if m == nil || resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 {
			t.Fatalf("status %d, Content-Type %q, length %d, %v", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, resp.TransferEncoding)
		}
		if want := benchMultipart(m[1], "text/plain", file, []byteSpan{{0, 2}, {3, 5}}); body != want || resp.Trailer.Get("X-T") != "done" {
			t.Errorf("body %q, trailer %q; want %q", body, resp.Trailer.Get("X-T"), want)
		}
	})

	for _, tc := range []struct {
		name, req string
		status    int
		body      string
		accept    bool
	}{
		{"one range", "GET /f.txt HTTP/1.1\r\nRange: bytes=10-19", 206, string(file[10:20]), false},
		{"max_ranges reached", "GET /two/f.txt HTTP/1.1\r\nRange: bytes=0-0,2-2,4-4", 200, string(file), true},
		{"max_ranges 0", "GET /none/f.txt HTTP/1.1\r\nRange: bytes=0-0", 200, string(file), false},
		{"unsatisfiable", "GET /f.txt HTTP/1.1\r\nRange: bytes=0-1,200000-,x", 416, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.connect().roundTrip(tc.req + "\r\nHost: h\r\n\r\n")
			if resp.StatusCode != tc.status || tc.body != "" && body != tc.body || (resp.Header.Get("Accept-Ranges") != "") != tc.accept {
				t.Errorf("status %d, %d bytes, Accept-Ranges %q", resp.StatusCode, len(body), resp.Header.Get("Accept-Ranges"))
			}
			if tc.status == 416 && resp.Header.Get("Content-Range") != "bytes */200000" {
				t.Errorf("Content-Range %q", resp.Header.Get("Content-Range"))
			}
		})
	}
}

// TestBenchRandomIndex checks random_index through the worker: only
// regular files (after symbolic links) are picked, a directory without
// one goes on to index, and a missing one is 404 with nginx's line.
func TestBenchRandomIndex(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location / { random_index on; }
		}`)
	html := filepath.Join(b.dir, "html")
	for _, d := range []string{"r/sub", "bare/sub", "other"} {
		os.MkdirAll(filepath.Join(html, d), 0o755)
	}
	for name, data := range map[string]string{"r/a": "A", "r/.h": "H", "other/t": "T", "bare/index.html": "INDEX"} {
		os.WriteFile(filepath.Join(html, name), []byte(data), 0o644)
	}
	os.Symlink(filepath.Join(html, "other", "t"), filepath.Join(html, "r", "l"))
	os.Symlink(filepath.Join(html, "other"), filepath.Join(html, "r", "dl"))
	os.Symlink(filepath.Join(html, "gone"), filepath.Join(html, "r", "x"))
	os.Remove(filepath.Join(html, "bare", "index.html"))
	os.WriteFile(filepath.Join(html, "bare", ".index"), nil, 0o644)

	c := b.connect()
	seen := map[string]bool{}
	for range 40 {
		resp, body := c.roundTrip("GET /r/ HTTP/1.1\r\nHost: h\r\n\r\n")
		seen[fmt.Sprint(resp.StatusCode, " ", body)] = true
	}
	if len(seen) != 2 || !seen["200 A"] || !seen["200 T"] {
		t.Errorf("answers %v, want 200 A and 200 T", seen)
	}
	for _, tc := range []struct {
		req    string
		status int
		log    string
	}{
		{"GET /bare/", 403, `directory index of "` + html + `/bare/" is forbidden`},
		{"GET /missing/", 404, `opendir() "` + html + `/missing" failed (2: No such file or directory)`},
		{"DELETE /r/", 405, ""},
	} {
		resp, _ := c.roundTrip(tc.req + " HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.req, resp.StatusCode, tc.status)
		}
		if tc.log != "" {
			b.waitErrorLog(tc.log)
		}
	}
}

// TestBenchMSIE checks msie_padding and msie_refresh byte for byte.
func TestBenchMSIE(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			msie_refresh on;
			server_tokens off;
			location / { }
			location /ret { return 302 "/a b"; }
			location /ep { error_page 403 /x?y; error_page 404 =301 http://e/; return 404; }
			location /plain { msie_refresh off; return 302 /p; }
			location /nopad/ { msie_padding off; }
		}`)
	page := errorPage(404, "headroom")
	tests := []struct {
		name, ua, path string
		status         int
		body           string
		location       bool
	}{
		{"msie 404", "MSIE 6.0 x", "/nope", 404, page + msiePadding, false},
		{"chrome 404", "x Chrome/1", "/nope", 404, page + msiePadding, false},
		{"other 404", "curl/8", "/nope", 404, page, false},
		{"msie refresh", "MSIE 6.0 x", "/ret", 200, refreshHead + "/a%20b" + refreshTail, false},
		{"chrome redirect", "x Chrome/1", "/ret", 302, errorPage(302, "headroom"), true},
		{"msie error_page redirect", "MSIE 6.0 x", "/ep", 200, refreshHead + "http://e/" + refreshTail, false},
		{"msie_refresh off", "MSIE 6.0 x", "/plain", 302, errorPage(302, "headroom"), true},
		{"msie_padding off", "MSIE 6.0 x", "/nopad/nope", 404, page, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := b.connect().roundTrip("GET " + tc.path + " HTTP/1.1\r\nHost: h\r\nUser-Agent: " + tc.ua + "\r\n\r\n")
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get("Location") != ""; got != tc.location {
				t.Errorf("Location %q, want one: %v", resp.Header.Get("Location"), tc.location)
			}
			if tc.status == 200 && resp.Header.Get("Content-Type") != "text/html" {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
	// The refresh is logged with the status it was sent with.
	b.eventually("the access log", func() bool { return strings.Contains(b.accessLog(), `"GET /ret HTTP/1.1" 200 `) })
}
