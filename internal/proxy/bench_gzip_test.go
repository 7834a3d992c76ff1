package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests follow answers through the gzip filter: which are
// compressed, what their heads become, and that the body decompresses to
// the original whatever way it came (a file, an upstream's body of known
// length, chunked or ending with the connection, or headroom's own).

func gunzipped(t *testing.T, body string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not gzip: %v (%q)", err, body[:min(len(body), 40)])
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip stream: %v", err)
	}
	return string(out)
}

// jsonish is compressible text of about n bytes.
func jsonish(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user%d","active":%v},`, i, i, i%3 == 0)
	}
	return b.String()[:n]
}

func TestBenchGzipBodies(t *testing.T) {
	big := jsonish(300 << 10)
	small := jsonish(5000)
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := small
		if r.URL.Query().Get("big") != "" {
			body = big
		}
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		io.WriteString(w, body)
	})
	closing := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf)
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"+small)
	})
	b := newBench(t, `
		types { application/json json; text/html html; }
		log_format gz "$uri $gzip_ratio";
		server {
			listen 127.0.0.1:0;
			gzip on;
			gzip_types application/json text/plain;
			gzip_http_version 1.0;
			access_log logs/gz.log gz;
			location /up { proxy_pass http://`+up+`; }
			location /closing { proxy_pass http://`+closing+`; }
			location /unbuffered { proxy_buffering off; proxy_pass http://`+up+`; }
			location /text { return 200 "`+strings.Repeat("hello ", 40)+`"; }
		}`)
	if err := os.WriteFile(filepath.Join(b.dir, "html", "f.json"), []byte(big), 0o644); err != nil {
		if err := os.MkdirAll(filepath.Join(b.dir, "html"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(b.dir, "html", "f.json"), []byte(big), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ name, path, want string }{
		{"a file", "/f.json", big},
		{"an upstream body of known length", "/up", small},
		{"a large upstream body", "/up?big=1", big},
		{"a chunked upstream body", "/up?big=1&chunked=1", big},
		{"an unbuffered upstream body", "/unbuffered?big=1", big},
		{"a body that ends with the upstream's connection", "/closing", small},
		{"headroom's own answer", "/text", strings.Repeat("hello ", 40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.connect()
			resp, body := c.roundTrip("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate\r\n\r\n")
			if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", got)
			}
			if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 {
				t.Errorf("Content-Length %d, Transfer-Encoding %v: want chunked", resp.ContentLength, resp.TransferEncoding)
			}
			if resp.Header.Get("Accept-Ranges") != "" {
				t.Errorf("a compressed answer offers ranges")
			}
			if got := gunzipped(t, body); got != tc.want {
				t.Errorf("decompressed %d bytes, want the %d of the original", len(got), len(tc.want))
			}
			if len(body) >= len(tc.want) {
				t.Errorf("compressed to %d bytes from %d", len(body), len(tc.want))
			}
			// The connection serves another request after it.
			if resp, _ := c.roundTrip("GET /text HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("next request: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
			}
		})
	}
	// HTTP/1.0 (with gzip_http_version 1.0): no chunks, the answer ends
	// with the connection.
	c := b.connect()
	c.send("GET /f.json HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
	out := c.waitEnded()
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	if !bytes.Contains(head, []byte("Content-Encoding: gzip")) || bytes.Contains(head, []byte("Transfer-Encoding")) || bytes.Contains(head, []byte("Content-Length")) {
		t.Errorf("HTTP/1.0 head %q", head)
	}
	if got := gunzipped(t, string(body)); got != big {
		t.Errorf("HTTP/1.0 body decompressed to %d bytes, want %d", len(got), len(big))
	}
	b.do(b.w.flushLogs)
	data, _ := os.ReadFile(filepath.Join(b.dir, "logs", "gz.log"))
	lines := nonEmptyLines(string(data))
	if len(lines) < 8 {
		t.Errorf("access log %q", data)
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " -") && !strings.HasPrefix(l, "/text") {
			t.Errorf("no $gzip_ratio in %q", l)
		}
	}
}

func TestBenchGzipDecision(t *testing.T) {
	b := newBench(t, `
		types { application/json json; text/html html; }
		server {
			listen 127.0.0.1:0;
			gzip on;
			gzip_vary on;
			gzip_min_length 100;
			location /html { default_type text/html; return 200 "`+strings.Repeat("x", 200)+`"; }
			location /short { default_type text/html; return 200 "short"; }
			location /plain { default_type text/plain; return 200 "`+strings.Repeat("x", 200)+`"; }
			location /missing { default_type text/html; return 404 "`+strings.Repeat("x", 200)+`"; }
			location /error { default_type text/html; return 500 "`+strings.Repeat("x", 200)+`"; }
			location /old { gzip_http_version 1.1; default_type text/html; return 200 "`+strings.Repeat("x", 200)+`"; }
			location /proxied { gzip_proxied expired; expires -1; default_type text/html; return 200 "`+strings.Repeat("x", 200)+`"; }
			location /proxied-off { default_type text/html; return 200 "`+strings.Repeat("x", 200)+`"; }
			location /bot { gzip_disable "bot" msie6; default_type text/html; return 200 "`+strings.Repeat("x", 200)+`"; }
		}`)
	for _, tc := range []struct {
		name, req  string
		gzip, vary bool
	}{
		{"text/html by default", "GET /html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", true, true},
		{"no Accept-Encoding", "GET /html HTTP/1.1\r\nHost: x\r\n\r\n", false, true},
		{"gzip refused with q=0", "GET /html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br, gzip;q=0\r\n\r\n", false, true},
		{"gzip with a quality", "GET /html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br;q=1, gzip;q=0.5\r\n\r\n", true, true},
		{"gzip only as part of a word", "GET /html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: xgzip\r\n\r\n", false, true},
		{"shorter than gzip_min_length", "GET /short HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", false, false},
		{"a type not in gzip_types", "GET /plain HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", false, false},
		{"404", "GET /missing HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", true, true},
		{"500", "GET /error HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", false, false},
		{"HTTP/1.0 under gzip_http_version 1.1", "GET /old HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", false, true},
		{"through a proxy, expired", "GET /proxied HTTP/1.1\r\nHost: x\r\nVia: 1.1 p\r\nAccept-Encoding: gzip\r\n\r\n", true, true},
		{"through a proxy, gzip_proxied off", "GET /proxied-off HTTP/1.1\r\nHost: x\r\nVia: 1.1 p\r\nAccept-Encoding: gzip\r\n\r\n", false, true},
		{"a User-Agent of gzip_disable", "GET /bot HTTP/1.1\r\nHost: x\r\nUser-Agent: Somebot/1.0\r\nAccept-Encoding: gzip\r\n\r\n", false, true},
		{"MSIE 6 under msie6", "GET /bot HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\nAccept-Encoding: gzip\r\n\r\n", false, true},
	} {
		c := b.connect()
		resp, body := c.roundTrip(tc.req)
		gz := resp.Header.Get("Content-Encoding") == "gzip"
		vary := resp.Header.Get("Vary") == "Accept-Encoding"
		if gz != tc.gzip || vary != tc.vary {
			t.Errorf("%s: gzip %v vary %v, want %v %v", tc.name, gz, vary, tc.gzip, tc.vary)
			continue
		}
		if gz {
			gunzipped(t, body)
		}
	}
	// HEAD gets the head a GET would, without a body.
	resp, _ := b.connect().roundTrip("HEAD /html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Length") != "" || len(resp.TransferEncoding) != 0 {
		t.Errorf("HEAD: %v", resp.Header)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"gzip", true},
		{"deflate, gzip", true},
		{"gzip;q=0", false},
		{"gzip; q=0.001", true},
		{"gzip;q=0.000", false},
		{"x-gzip", false},
		{"gzipped", false},
		{"br,gzip ;q=1", true},
	} {
		if got := acceptsGzip([]byte(tc.v)); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// TestBenchGzipStatic checks gzip_static: the ".gz" neighbour goes to
// clients that accept gzip (to all with always), with the original's
// type, Content-Encoding gzip and ranges; others get the file itself.
func TestBenchGzipStatic(t *testing.T) {
	b := newBench(t, `
		types { text/css css; }
		server {
			listen 127.0.0.1:0;
			gzip_static on;
			gzip_vary on;
			location /always/ { gzip_static always; alias html/; }
		}`)
	dir := filepath.Join(b.dir, "html")
	os.MkdirAll(dir, 0o755)
	plain := strings.Repeat("body { color: red } ", 50)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(plain))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.css"), []byte(plain), 0o644)
	os.WriteFile(filepath.Join(dir, "a.css.gz"), zb.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b.css"), []byte(plain), 0o644)
	for _, tc := range []struct {
		name, req, encoding, body string
		vary                      bool
	}{
		{"a client that accepts gzip", "GET /a.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", "gzip", zb.String(), true},
		{"a client that does not", "GET /a.css HTTP/1.1\r\nHost: x\r\n\r\n", "", plain, true},
		// always does not look at Accept-Encoding, so nginx 1.22 sends
		// no Vary for it.
		{"always", "GET /always/a.css HTTP/1.1\r\nHost: x\r\n\r\n", "gzip", zb.String(), false},
		{"no .gz file", "GET /b.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", "", plain, false},
		// As nginx's gzip_static handler, which does not allow ranges:
		// the whole .gz file, without Accept-Ranges.
		{"a range of the .gz file", "GET /a.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nRange: bytes=0-9\r\n\r\n", "gzip", zb.String(), true},
	} {
		resp, body := b.connect().roundTrip(tc.req)
		if got := resp.Header.Get("Content-Encoding"); got != tc.encoding || body != tc.body {
			t.Errorf("%s: %d Content-Encoding %q body %d bytes, want %q %d bytes", tc.name, resp.StatusCode, got, len(body), tc.encoding, len(tc.body))
		}
		if got := resp.Header.Get("Accept-Ranges"); got != "" && tc.encoding == "gzip" {
			t.Errorf("%s: Accept-Ranges %q on a .gz file", tc.name, got)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/css" {
			t.Errorf("%s: Content-Type %q", tc.name, got)
		}
		if vary := resp.Header.Get("Vary") == "Accept-Encoding"; vary != tc.vary {
			t.Errorf("%s: Vary %v, want %v", tc.name, vary, tc.vary)
		}
	}
}

// TestBenchGzipParksForSlowClient follows a compressed answer whose
// client stops taking it, several times: while it waits, the stream holds
// no compressor (it is back in the worker's pool), and the body the client
// finally gets is one valid gzip member of the whole answer, however many
// times its compression paused. $gzip_ratio still counts all of it.
func TestBenchGzipParksForSlowClient(t *testing.T) {
	big := jsonish(1 << 20)
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		io.WriteString(w, big)
	})
	b := newBench(t, `
		log_format gz "$gzip_ratio";
		server {
			listen 127.0.0.1:0;
			gzip on;
			gzip_types application/json;
			access_log logs/gz.log gz;
			location / { proxy_buffering off; proxy_pass http://`+up+`; }
		}`)
	m := b.connect()
	m.setRoom(0)
	m.send("GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
	// pooled reports the compressors in the pool and whether the answer
	// is compressed, holds one, and has output waiting for the client.
	pooled := func() (n int, gz, holding, waiting bool) {
		b.do(func() {
			n = len(b.w.gzips[1])
			cc := m.cc
			gz = cc.r != nil && cc.r.gz != nil
			holding = gz && cc.r.gz.fw != nil
			waiting = cc.outOff < len(cc.out)
		})
		return
	}
	pauses := 0
	for round := 0; round < 200; round++ {
		// Wait until the answer has compressed bytes waiting for the
		// client, then check that no compressor is held for it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, gz, holding, waiting := pooled()
			if _, closed := m.state(); closed || !gz && round > 0 {
				goto done
			}
			if gz && !holding && waiting && n == 1 {
				pauses++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the waiting answer holds its compressor (pooled %d, holding %v)", round, n, holding)
			}
			time.Sleep(2 * time.Millisecond)
		}
		// Let the client take 16 KB more.
		m.setRoom(16 << 10)
	}
done:
	m.setRoom(-1)
	out := m.waitClosed()
	_, body, ok := bytes.Cut(out, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no head in %q", out[:min(len(out), 200)])
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("chunked body: %v (%d bytes after the head)", err, len(body))
	}
	t.Logf("%d pauses, %d bytes from %d", pauses, len(raw), len(big))
	if pauses < 3 {
		t.Fatalf("the answer paused %d times; the test wants several", pauses)
	}
	if got := gunzipped(t, string(raw)); got != big {
		t.Fatalf("decompressed %d bytes, want the %d of the original", len(got), len(big))
	}
	if len(raw) > len(big)/3 {
		t.Errorf("compressed %d bytes to %d: the pauses cost too much of the ratio", len(big), len(raw))
	}
	b.do(b.w.flushLogs)
	data, _ := os.ReadFile(filepath.Join(b.dir, "logs", "gz.log"))
	if want := fmt.Sprintf("%.2f", float64(len(big))/float64(len(raw))); !strings.Contains(string(data), want) {
		t.Errorf("$gzip_ratio logged %q, want %s", data, want)
	}
}
