package integration

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// These tests run the same configuration against nginx and headroom for
// the charset filter's conversion (charset_map) and for gunzip.

func TestCharsetConversionAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; }
    charset_map k utf-8 {
        C1 D0B0;
        C2 D0B1;
        80 E282AC;
    }
    charset_map B A { 58 59; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        location /k/ { charset utf-8; source_charset k; }
        location /u/ { charset k; source_charset utf-8; }
        location /b/ { charset A; source_charset B; }
        location /own { charset k; source_charset utf-8; default_type text/html; return 200 "a€б"; }
        location /up/ { charset k; override_charset on; proxy_pass http://127.0.0.1:{{PORT1}}/; }
        location /xa/ { proxy_pass http://127.0.0.1:{{PORT1}}; }
        location /xi/ { proxy_ignore_headers X-Accel-Charset; proxy_pass http://127.0.0.1:{{PORT1}}/xa/; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { default_type text/html; charset utf-8; return 200 "xа€"; }
        location /xa/ { default_type text/html; charset B; add_header X-Accel-Charset A; return 200 "XaX"; }
        location /xa/unknown { default_type text/html; charset B; add_header X-Accel-Charset Z; return 200 "XaX"; }
        location /xa/none { default_type text/html; add_header X-Accel-Charset A; return 200 "XaX"; }
    }`)
		writeHTML(t, p, "k/t.html", "a\xc1\xc2\x80 \xc3 end")
		writeHTML(t, p, "u/t.html", "a\xd0\xb0\xd0\xb1\xe2\x82\xac \xf0\x9d\x84\x9e \xd0\xb6 \xff end")
		writeHTML(t, p, "b/t.html", strings.Repeat("X", 100))
		for _, tc := range []struct {
			name, req, ctype, body string
			length, ranges         string
			chunked                bool
		}{
			{"into UTF-8", "GET /k/t.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=utf-8", "a\xd0\xb0\xd0\xb1\xe2\x82\xac ? end", "", "", true},
			{"out of UTF-8", "GET /u/t.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=k", "a\xc1\xc2\x80 &#119070; &#1078; ?end", "", "", true},
			{"no range into UTF-8", "GET /k/t.html HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n", "text/html; charset=utf-8", "a\xd0\xb0\xd0\xb1\xe2\x82\xac ? end", "", "", true},
			{"HTTP/1.0", "GET /u/t.html HTTP/1.0\r\n\r\n", "text/html; charset=k", "a\xc1\xc2\x80 &#119070; &#1078; ?end", "", "", false},
			{"8-bit", "GET /b/t.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=A", strings.Repeat("Y", 100), "100", "bytes", false},
			{"8-bit range", "GET /b/t.html HTTP/1.1\r\nHost: h\r\nRange: bytes=90-\r\nConnection: close\r\n\r\n", "text/html; charset=A", strings.Repeat("Y", 10), "10", "", false},
			{"an answer of its own", "GET /own HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=k", "a\x80\xc2", "", "", true},
			{"an upstream's charset overridden", "GET /up/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=k", "x\xc1\x80", "", "", true},
			// An upstream's X-Accel-Charset names the charset to send,
			// where charset is not set: converted by the charset_map,
			// unless it names a charset the configuration does not know
			// or proxy_ignore_headers says so; an answer without a
			// charset of its own is named, not converted.
			{"X-Accel-Charset", "GET /xa/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=A", "YaY", "3", "", false},
			{"X-Accel-Charset unknown", "GET /xa/unknown HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=B", "XaX", "3", "", false},
			{"X-Accel-Charset without a charset", "GET /xa/none HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=A", "XaX", "3", "", false},
			{"X-Accel-Charset ignored", "GET /xi/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "text/html; charset=B", "XaX", "3", "", false},
		} {
			r := sendRaw(t, p.addr, tc.req)
			if r.header("Content-Type") != tc.ctype || string(r.Body) != tc.body || r.header("Content-Length") != tc.length || r.header("Accept-Ranges") != tc.ranges || r.Chunked != tc.chunked || r.header("X-Accel-Charset") != "" {
				t.Errorf("%s:\n%s", tc.name, r)
			}
		}
		if log := p.readLog("error.log"); !strings.Contains(log, `unknown charset "Z" to override`) {
			t.Errorf("no line for the unknown charset in the error log:\n%s", log)
		}
		r := sendRaw(t, p.addr, "HEAD /k/t.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r.header("Content-Length") != "" || r.header("ETag") == "" || r.header("Last-Modified") == "" {
			t.Errorf("HEAD:\n%s", r)
		}
	})
}

func TestGunzipAsNginx(t *testing.T) {
	text := strings.Repeat("hello gunzip ", 3000)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(text))
	zw.Close()
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        location / {
            gunzip on;
            gzip_vary on;
            proxy_pass http://127.0.0.1:{{PORT1}}/;
            proxy_set_header Accept-Encoding gzip;
        }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        root {{PREFIX}}/html;
        location / { default_type text/plain; gzip_static always; }
    }`)
		writeHTML(t, p, "t.gz", z.String())
		writeHTML(t, p, "broken.gz", z.String()[:z.Len()/2]+strings.Repeat("garbage", 20)+z.String()[z.Len()/2:])
		r := sendRaw(t, p.addr, "GET /t HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if string(r.Body) != text || r.header("Content-Encoding") != "" || r.header("Content-Length") != "" || !r.Chunked ||
			r.header("Vary") != "Accept-Encoding" || !strings.HasPrefix(r.header("ETag"), `W/"`) {
			t.Errorf("gunzipped:\n%s", r)
		}
		r = sendRaw(t, p.addr, "GET /t HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
		if r.header("Content-Encoding") != "gzip" || gunzipBody(t, r.Body) != text || r.header("Vary") != "Accept-Encoding" {
			t.Errorf("passed compressed:\n%s", r)
		}
		r = sendRaw(t, p.addr, "HEAD /t HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r.header("Content-Encoding") != "" || r.header("Content-Length") != "" || r.header("Vary") != "Accept-Encoding" {
			t.Errorf("HEAD:\n%s", r)
		}
		// A broken stream ends the answer with the connection, logged.
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /broken HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		raw, err := io.ReadAll(c)
		if err != nil || bytes.HasSuffix(raw, []byte("0\r\n\r\n")) {
			t.Errorf("a broken stream: %v %q", err, raw)
		}
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(p.readLog("error.log"), "inflate() failed: 0, -3") {
			if time.Now().After(deadline) {
				t.Errorf("no inflate() line in the error log:\n%s", p.readLog("error.log"))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
