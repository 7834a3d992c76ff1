package proxy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
)

// These tests follow answers through the charset filter's conversion and
// gunzip: the text each way of a charset_map, a body split anywhere
// (inside a UTF-8 sequence too), the chain gunzip → conversion → gzip,
// and a broken gzip stream.

// charsetMaps loads a configuration's charset_map tables.
func charsetMaps(t *testing.T, maps string) *conf.CharsetMaps {
	t.Helper()
	src := "events {}\nhttp {\n" + maps + "\nserver { charset utf-8; }\n}\n"
	cfg, err := conf.Load(conf.LoadOptions{File: "t.conf", Source: []byte(src), Prefix: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return cfg.HTTP.Servers[0].Loc.Charset.Maps
}

const testMaps = `
	charset_map k utf-8 { C1 D0B0; C2 D0B1; 80 E282AC; }
	charset_map B A { 58 59; }`

func TestRecoderSplits(t *testing.T) {
	m := charsetMaps(t, testMaps)
	idx := func(name string) int {
		i, ok := m.Index([]byte(name))
		if !ok {
			t.Fatalf("no charset %q", name)
		}
		return i
	}
	k, utf8, a, b := idx("k"), idx("utf-8"), idx("A"), idx("B")
	tests := []struct {
		name     string
		from, to int
		in, want string
	}{
		{"8-bit", b, a, "XaX", "YaY"},
		{"8-bit back", a, b, "YaY", "XaX"},
		{"into UTF-8", k, utf8, "a\xc1\xc2\x80 \xc3", "a\xd0\xb0\xd0\xb1\xe2\x82\xac ?"},
		{"out of UTF-8", utf8, k, "a\xd0\xb0\xd0\xb1\xe2\x82\xac", "a\xc1\xc2\x80"},
		{"entities", utf8, k, "\xd0\xb6 \xf0\x9d\x84\x9e", "&#1078; &#119070;"},
		{"invalid bytes take the next", utf8, k, "\xff end", "?end"},
		{"overlong", utf8, k, "\xc0\xafx\xe0\x80\xafy", "??x?y"},
		{"unfinished at the end", utf8, k, "ab\xe2\x82", "ab"},
		{"a short sequence", utf8, k, "\xf0A\xd0\xb0", "?\xc1"},
		{"a short sequence with more", utf8, k, "\xf0AB\xd0\xb0", "?B\xc1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := m.Table(tc.from, tc.to)
			if tab == nil {
				t.Fatal("no table")
			}
			// Every way of cutting the input in two or three pieces
			// gives the same output as the whole.
			for i := 0; i <= len(tc.in); i++ {
				for j := i; j <= len(tc.in); j++ {
					rc := recoder{t: tab}
					var out []byte
					for _, p := range []string{tc.in[:i], tc.in[i:j], tc.in[j:]} {
						out = rc.recode(out, []byte(p))
					}
					if string(out) != tc.want {
						t.Fatalf("cut at %d, %d: %q, want %q", i, j, out, tc.want)
					}
				}
			}
		})
	}
}

func gzipOf(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func TestBenchCharsetAndGunzip(t *testing.T) {
	// A UTF-8 text written a few bytes at a time, so that sequences are
	// cut between reads.
	utfText := strings.Repeat("a\xd0\xb0\xd0\xb1\xe2\x82\xac\xd0\xb6 ", 3000)
	kText := strings.Repeat("a\xc1\xc2\x80&#1078; ", 3000)
	big := strings.Repeat("hello gunzip ", 40000)
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/utf":
			w.Header().Set("Content-Type", "text/html")
			fl := w.(http.Flusher)
			for i := 0; i < len(utfText); i += 7 {
				w.Write([]byte(utfText[i:min(i+7, len(utfText))]))
				if i%700 == 0 {
					fl.Flush()
				}
			}
		case "/gz", "/gzk":
			body := big
			if r.URL.Path == "/gzk" {
				body = "a\xc1\xc2 X"
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"abc"`)
			w.Write(gzipOf(body))
		case "/broken":
			z := gzipOf(big)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(append(z[:len(z)/2:len(z)/2], "garbage garbage garbage"...))
		case "/short":
			z := gzipOf(big)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(z[:len(z)-4])
		}
	})
	b := newBench(t, testMaps+`
		types { text/html html; text/plain txt; }
		server {
			listen 127.0.0.1:0;
			location /utf { charset k; source_charset utf-8; proxy_pass http://`+up+`; }
			location /gzc/ { charset k; source_charset utf-8; gzip on; gzip_types text/html; proxy_pass http://`+up+`/; }
			location /files/ { charset utf-8; source_charset k; root /nonexistent; }
			location /gz { gunzip on; gzip_vary on; proxy_pass http://`+up+`; }
			location /gzk { gunzip on; charset utf-8; source_charset k; proxy_pass http://`+up+`; }
			location /broken { gunzip on; proxy_pass http://`+up+`; }
			location /short { gunzip on; proxy_pass http://`+up+`; }
		}`)
	_ = b
	t.Run("a split UTF-8 body converted", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /utf HTTP/1.1\r\nHost: h\r\n\r\n")
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=k" {
			t.Errorf("Content-Type %q", ct)
		}
		if body != kText {
			t.Errorf("body differs: %d bytes, want %d", len(body), len(kText))
		}
	})
	t.Run("converted, then compressed", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /gzc/utf HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("not compressed: %v", resp.Header)
		}
		if got := gunzipped(t, body); got != kText {
			t.Errorf("body differs: %d bytes, want %d", len(got), len(kText))
		}
	})
	t.Run("gunzip, slow client", func(t *testing.T) {
		c := b.connect()
		c.mt.room = 1000
		c.send("GET /gz HTTP/1.1\r\nHost: h\r\n\r\n")
		// The client takes a little at a time; the answer comes whole.
		for i := 0; i < 2000 && !strings.HasSuffix(string(c.unread()), "0\r\n\r\n"); i++ {
			c.setRoom(4096)
			time.Sleep(time.Millisecond)
		}
		c.setRoom(-1)
		resp := c.response("GET")
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		if body.String() != big {
			t.Errorf("body differs: %d bytes, want %d", body.Len(), len(big))
		}
		if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("ETag") != `W/"abc"` {
			t.Errorf("head %v", resp.Header)
		}
	})
	t.Run("gunzip not for a client that takes gzip", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /gz HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n")
		if resp.Header.Get("Content-Encoding") != "gzip" || gunzipped(t, body) != big || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("head %v", resp.Header)
		}
	})
	t.Run("gunzip, then converted", func(t *testing.T) {
		c := b.connect()
		resp, body := c.roundTrip("GET /gzk HTTP/1.1\r\nHost: h\r\n\r\n")
		if body != "a\xd0\xb0\xd0\xb1 X" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%v %q", resp.Header, body)
		}
	})
	for _, tc := range []struct{ path, line string }{
		{"/broken", "inflate() failed: 0, -3"},
		{"/short", "inflate() returned -5 on response end"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c := b.connect()
			c.send("GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			out := c.waitClosed()
			if bytes.HasSuffix(out, []byte("0\r\n\r\n")) {
				t.Errorf("a broken stream ended as a whole answer")
			}
			b.waitErrorLog(tc.line)
		})
	}
}

func TestBenchCharsetFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.html"), []byte("a\xc1\xc2\x80 \xc3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.html"), []byte(strings.Repeat("X", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBench(t, testMaps+`
		types { text/html html; }
		server {
			listen 127.0.0.1:0;
			root `+dir+`;
			location /k.html { charset utf-8; source_charset k; }
			location /b.html { charset A; source_charset B; }
		}`)
	tests := []struct {
		name, req, status, body, length, ranges string
	}{
		{"into UTF-8: no length, no ranges", "GET /k.html HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\n", "200", "a\xd0\xb0\xd0\xb1\xe2\x82\xac ?", "", ""},
		{"HEAD into UTF-8", "HEAD /k.html HTTP/1.1\r\nHost: h\r\n\r\n", "200", "", "", ""},
		{"8-bit keeps length and ranges", "GET /b.html HTTP/1.1\r\nHost: h\r\n\r\n", "200", strings.Repeat("Y", 100), "100", "bytes"},
		{"8-bit range", "GET /b.html HTTP/1.1\r\nHost: h\r\nRange: bytes=90-\r\n\r\n", "206", strings.Repeat("Y", 10), "10", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := b.connect()
			resp, body := c.roundTrip(tc.req)
			got := fmt.Sprintf("%d %q %s %s", resp.StatusCode, body, resp.Header.Get("Content-Length"), resp.Header.Get("Accept-Ranges"))
			want := fmt.Sprintf("%s %q %s %s", tc.status, tc.body, tc.length, tc.ranges)
			if got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
				t.Errorf("validators gone: %v", resp.Header)
			}
		})
	}
}
