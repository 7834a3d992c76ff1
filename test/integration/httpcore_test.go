package integration

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests run the same configuration and requests against nginx and
// headroom: each expectation holds for both, so each is a comparison
// with nginx for gzip, expires, charset, map, realip, limit_except and
// proxy_pass with variables.

// writeHTML puts a file under the proxy's html directory.
func writeHTML(t *testing.T, p *proxy, name, content string) {
	t.Helper()
	path := filepath.Join(p.prefix, "html", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gunzipBody decompresses an answer's body.
func gunzipBody(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip stream: %v", err)
	}
	return string(out)
}

func TestGzipAsNginx(t *testing.T) {
	json := strings.Repeat(`{"name":"value","n":12345},`, 400)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; application/json json; text/css css; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        gzip on;
        gzip_types application/json;
        gzip_vary on;
        gzip_min_length 100;
        location /up/ { proxy_pass http://127.0.0.1:{{PORT1}}/; }
        location /text { default_type text/html; return 200 "`+strings.Repeat("text ", 50)+`"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        root {{PREFIX}}/html;
    }`)
		writeHTML(t, p, "a.json", json)
		writeHTML(t, p, "b.css", strings.Repeat("body{} ", 100))
		writeHTML(t, p, "small.json", "{}")
		for _, tc := range []struct {
			name, req, want string
			gzip, vary      bool
		}{
			{"a file", "GET /a.json HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", json, true, true},
			{"an upstream's answer", "GET /up/a.json HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, br\r\nConnection: close\r\n\r\n", json, true, true},
			{"headroom's own answer", "GET /text HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", strings.Repeat("text ", 50), true, true},
			{"a type not listed", "GET /b.css HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", "", false, false},
			{"shorter than gzip_min_length", "GET /small.json HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", "", false, false},
			{"no Accept-Encoding", "GET /a.json HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", false, true},
			{"gzip refused", "GET /a.json HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip;q=0\r\nConnection: close\r\n\r\n", "", false, true},
			{"HTTP/1.0", "GET /a.json HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "", false, true},
		} {
			r := sendRaw(t, p.addr, tc.req)
			if r.Status != 200 {
				t.Errorf("%s: status %d", tc.name, r.Status)
				continue
			}
			gz := r.header("Content-Encoding") == "gzip"
			vary := r.header("Vary") == "Accept-Encoding"
			if gz != tc.gzip || vary != tc.vary {
				t.Errorf("%s: gzip %v vary %v, want %v %v\n%s", tc.name, gz, vary, tc.gzip, tc.vary, r)
				continue
			}
			if !gz {
				continue
			}
			if r.header("Content-Length") != "" || !r.Chunked || r.header("Accept-Ranges") != "" {
				t.Errorf("%s: head of a compressed answer:\n%s", tc.name, r)
			}
			if etag := r.header("ETag"); etag != "" && !strings.HasPrefix(etag, `W/"`) {
				t.Errorf("%s: ETag %q is not weak", tc.name, etag)
			}
			if got := gunzipBody(t, r.Body); got != tc.want {
				t.Errorf("%s: decompressed to %d bytes, want %d", tc.name, len(got), len(tc.want))
			}
		}
		r := sendRaw(t, p.addr, "HEAD /a.json HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
		if r.header("Content-Encoding") != "gzip" || r.header("Content-Length") != "" || r.header("Transfer-Encoding") != "" {
			t.Errorf("HEAD:\n%s", r)
		}
	})
}

func TestExpiresAndCharsetAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; application/json json; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        charset utf-8;
        location /hour { expires 1h; return 200 "x"; }
        location /past { expires -1; return 200 "x"; }
        location /epoch { expires epoch; return 200 "x"; }
        location /max { expires max; return 200 "x"; }
        location /err { expires 1h; return 404; }
        location /up { expires 30s; proxy_pass http://127.0.0.1:{{PORT1}}/; }
        location /var { expires $arg_e; return 200 "x"; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        add_header Cache-Control private;
        add_header Cache-Control no-transform;
        add_header Expires "Thu, 01 Jan 2037 00:00:00 GMT";
        location / { default_type application/json; return 200 "{}"; }
    }`)
		writeHTML(t, p, "a.json", "{}")
		for _, tc := range []struct {
			path, cacheControl, expires, ctype string
		}{
			{"/hour", "max-age=3600", "present", "text/plain; charset=utf-8"},
			{"/past", "no-cache", "present", "text/plain; charset=utf-8"},
			{"/epoch", "no-cache", "Thu, 01 Jan 1970 00:00:01 GMT", "text/plain; charset=utf-8"},
			{"/max", "max-age=315360000", "Thu, 31 Dec 2037 23:55:55 GMT", "text/plain; charset=utf-8"},
			{"/err", "", "", "text/html; charset=utf-8"},
			{"/up", "max-age=30", "present", "application/json"},
			{"/var?e=2m", "max-age=120", "present", "text/plain; charset=utf-8"},
			{"/var?e=off", "", "", "text/plain; charset=utf-8"},
			{"/a.json", "", "", "application/json"},
		} {
			r := sendRaw(t, p.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if got := strings.Join(r.Headers.values("Cache-Control"), "|"); got != tc.cacheControl {
				t.Errorf("%s: Cache-Control %q, want %q", tc.path, got, tc.cacheControl)
			}
			exp := r.header("Expires")
			if tc.expires == "present" && exp == "" || tc.expires != "present" && exp != tc.expires {
				t.Errorf("%s: Expires %q, want %s", tc.path, exp, tc.expires)
			}
			if got := r.header("Content-Type"); got != tc.ctype {
				t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
			}
		}
	})
}

func TestMapRealIPLimitExceptAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    map $http_host $site {
        hostnames;
        default other;
        example.com exact;
        *.example.com sub;
        ~^(?<label>[a-z]+)\.test$ re-$label;
    }
    map $arg_k $kind {
        ~*^img kind-image;
        default "";
    }
    set_real_ip_from 127.0.0.1;
    set_real_ip_from 10.0.0.0/8;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    server {
        listen 127.0.0.1:{{PORT}};
        location /map { return 200 "$site $kind"; }
        location /ip { return 200 "$remote_addr $realip_remote_addr"; }
        location /lmt {
            limit_except GET { deny all; }
            return 200 "ok";
        }
        location /var/ {
            set $backend 127.0.0.1:{{PORT1}};
            proxy_pass http://$backend;
        }
        location /varuri/ { proxy_pass http://127.0.0.1:{{PORT1}}/fixed; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { return 200 "up $request_uri"; }
    }`)
		for _, tc := range []struct{ name, req, body string }{
			{"exact key", "GET /map HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "exact "},
			{"wildcard key", "GET /map HTTP/1.1\r\nHost: a.b.example.com\r\nConnection: close\r\n\r\n", "sub "},
			{"regex key with a named capture", "GET /map?k=IMG1 HTTP/1.1\r\nHost: foo.test\r\nConnection: close\r\n\r\n", "re-foo kind-image"},
			{"default", "GET /map HTTP/1.1\r\nHost: none\r\nConnection: close\r\n\r\n", "other "},
			{"recursive real IP", "GET /ip HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.7, 10.1.1.1\r\nConnection: close\r\n\r\n", "192.0.2.7 127.0.0.1"},
			{"GET under limit_except GET", "GET /lmt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "ok"},
			{"proxy_pass with a variable", "GET /var/a?b=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "up /var/a?b=1"},
		} {
			r := sendRaw(t, p.addr, tc.req)
			if r.Status != 200 || string(r.Body) != tc.body {
				t.Errorf("%s: %d %q, want 200 %q", tc.name, r.Status, r.Body, tc.body)
			}
		}
		if r := sendRaw(t, p.addr, "POST /lmt HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); r.Status != 403 {
			t.Errorf("POST under limit_except GET: %d, want 403", r.Status)
		}
	})
}
