package integration

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// staticRoot makes a document root readable by nginx's workers (they run
// as nobody when nginx starts as root): an index, a text file, a 300 KB
// binary file, a directory with an index and one without. It returns the
// root and the binary file's content.
func staticRoot(t *testing.T) (string, []byte) {
	t.Helper()
	root, err := os.MkdirTemp("", "headroom-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	big := make([]byte, 300000)
	rand.Read(big)
	files := map[string][]byte{
		"index.html":     []byte("hello\n"),
		"a.txt":          []byte("a file\n"),
		"big.bin":        big,
		"dir/index.html": []byte("sub\n"),
		"dir/other.htm":  []byte("other\n"),
		"UPPER.HTML":     []byte("upper\n"),
		".hidden.html":   []byte("hidden\n"),
	}
	for _, d := range []string{root, filepath.Join(root, "dir"), filepath.Join(root, "empty")} {
		os.MkdirAll(d, 0o755)
		os.Chmod(d, 0o755)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A fixed modification time, so that both servers' validators are
	// known in advance.
	mtime := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for name := range files {
		os.Chtimes(filepath.Join(root, name), mtime, mtime)
	}
	return root, big
}

// TestStaticFiles checks the static file handler against nginx: status,
// the fields and their order, validators, conditional requests, methods,
// directories, index, try_files, alias and types.
func TestStaticFiles(t *testing.T) {
	root, big := staticRoot(t)
	etag := func(size int) string {
		return fmt.Sprintf("\"%x-%x\"", time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Unix(), size)
	}
	const lastMod = "Mon, 30 Nov 2026 12:00:00 GMT"
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { }
        location /sf/ { alias %[1]s/; sendfile on; }
        location /t/ { try_files $uri /index.html; }
        location /t404/ { try_files $uri $uri/ =404; }
        location /td/ { alias %[1]s/; try_files $uri $uri/ =410; }
        location /al/ { alias %[1]s/dir/; }
        location /ix/ { alias %[1]s/dir/; index missing.html other.htm; }
        location /ty/ {
            alias %[1]s/;
            types { application/x-text txt; }
            default_type application/octet-stream;
        }
        location /noetag/ { alias %[1]s/; etag off; }
        location /before/ { alias %[1]s/; if_modified_since before; }
        location /loop/ { try_files /nothing /loop/x; }
        location /spa/ { alias %[1]s/; try_files $uri $uri/ /index.html; }
        location = /typed { default_type application/json; return 200 "{}"; }
        location = /typed.css { types { text/css css; } return 200 "x"; }
    }`, root))
		cases := []struct {
			name, req string
			status    int
			fields    string // the response's field names in order, when set
			header    map[string]string
			body      string
			bodyLen   int
		}{
			{name: "index of the root", req: "GET / HTTP/1.1", status: 200, body: "hello\n",
				fields: "Server Date Content-Type Content-Length Last-Modified Connection ETag Accept-Ranges",
				header: map[string]string{"Content-Type": "text/html", "Last-Modified": lastMod, "ETag": etag(6), "Accept-Ranges": "bytes"}},
			{name: "text file", req: "GET /a.txt HTTP/1.1", status: 200, body: "a file\n", header: map[string]string{"Content-Type": "text/plain"}},
			{name: "extension case is ignored", req: "GET /UPPER.HTML HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "text/html"}},
			{name: "hidden file with an extension", req: "GET /.hidden.html HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "text/html"}},
			{name: "head", req: "HEAD /a.txt HTTP/1.1", status: 200, header: map[string]string{"Content-Length": "7"}},
			{name: "big file", req: "GET /big.bin HTTP/1.1", status: 200, bodyLen: len(big)},
			{name: "big file with sendfile", req: "GET /sf/big.bin HTTP/1.1", status: 200, bodyLen: len(big)},
			{name: "directory without slash", req: "GET /dir HTTP/1.1", status: 301, header: map[string]string{"Location": "http://h:{{PORT}}/dir/"}},
			{name: "directory without slash keeps args", req: "GET /dir?a=1 HTTP/1.1", status: 301, header: map[string]string{"Location": "http://h:{{PORT}}/dir/?a=1"}},
			{name: "directory index", req: "GET /dir/ HTTP/1.1", status: 200, body: "sub\n"},
			{name: "directory without index", req: "GET /empty/ HTTP/1.1", status: 403},
			{name: "missing directory", req: "GET /gone/ HTTP/1.1", status: 404},
			{name: "missing file", req: "GET /nope HTTP/1.1", status: 404},
			{name: "post to a file", req: "POST /a.txt HTTP/1.1\r\nContent-Length: 0", status: 405},
			{name: "post to a missing file", req: "POST /nope HTTP/1.1\r\nContent-Length: 0", status: 404},
			{name: "put", req: "PUT /a.txt HTTP/1.1\r\nContent-Length: 0", status: 405},
			{name: "if-modified-since equal", req: "GET /a.txt HTTP/1.1\r\nIf-Modified-Since: " + lastMod, status: 304,
				fields: "Server Date Last-Modified Connection ETag"},
			{name: "if-modified-since older", req: "GET /a.txt HTTP/1.1\r\nIf-Modified-Since: Sun, 29 Nov 2026 12:00:00 GMT", status: 200},
			{name: "if-modified-since newer, exact", req: "GET /a.txt HTTP/1.1\r\nIf-Modified-Since: Tue, 01 Dec 2026 12:00:00 GMT", status: 200},
			{name: "if-modified-since newer, before", req: "GET /before/a.txt HTTP/1.1\r\nIf-Modified-Since: Tue, 01 Dec 2026 12:00:00 GMT", status: 304},
			{name: "if-none-match", req: "GET /a.txt HTTP/1.1\r\nIf-None-Match: " + etag(7), status: 304},
			{name: "if-none-match weak", req: "GET /a.txt HTTP/1.1\r\nIf-None-Match: W/" + etag(7), status: 304},
			{name: "if-none-match other", req: "GET /a.txt HTTP/1.1\r\nIf-None-Match: \"x\"", status: 200},
			{name: "if-none-match star", req: "GET /a.txt HTTP/1.1\r\nIf-None-Match: *", status: 304},
			{name: "if-match other", req: "GET /a.txt HTTP/1.1\r\nIf-Match: \"x\"", status: 412},
			{name: "if-match", req: "GET /a.txt HTTP/1.1\r\nIf-Match: " + etag(7), status: 200},
			{name: "if-unmodified-since older", req: "GET /a.txt HTTP/1.1\r\nIf-Unmodified-Since: Sun, 29 Nov 2026 12:00:00 GMT", status: 412},
			{name: "if-unmodified-since equal", req: "GET /a.txt HTTP/1.1\r\nIf-Unmodified-Since: " + lastMod, status: 200},
			{name: "etag off", req: "GET /noetag/a.txt HTTP/1.1", status: 200, fields: "Server Date Content-Type Content-Length Last-Modified Connection Accept-Ranges"},
			{name: "try_files falls back to a URI", req: "GET /t/x HTTP/1.1", status: 200, body: "hello\n"},
			{name: "try_files code", req: "GET /t404/x HTTP/1.1", status: 404},
			{name: "try_files directory", req: "GET /td/dir HTTP/1.1", status: 301, header: map[string]string{"Location": "http://h:{{PORT}}/td/dir/"}},
			{name: "try_files file", req: "GET /td/a.txt HTTP/1.1", status: 200, body: "a file\n"},
			{name: "try_files last code", req: "GET /td/none HTTP/1.1", status: 410},
			{name: "alias", req: "GET /al/index.html HTTP/1.1", status: 200, body: "sub\n"},
			{name: "alias index", req: "GET /al/ HTTP/1.1", status: 200, body: "sub\n"},
			{name: "index list", req: "GET /ix/ HTTP/1.1", status: 200, body: "other\n", header: map[string]string{"Content-Type": "text/plain"}},
			{name: "types block", req: "GET /ty/a.txt HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "application/x-text"}},
			{name: "default_type", req: "GET /ty/index.html HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "application/octet-stream"}},
			{name: "internal redirect cycle", req: "GET /loop/a HTTP/1.1", status: 500},
			{name: "range", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=0-3", status: 206, body: "a fi",
				fields: "Server Date Content-Type Content-Length Last-Modified Connection ETag Content-Range",
				header: map[string]string{"Content-Range": "bytes 0-3/7", "Content-Length": "4"}},
			{name: "range to the end", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=2-", status: 206, body: "file\n", header: map[string]string{"Content-Range": "bytes 2-6/7"}},
			{name: "range suffix", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=-3", status: 206, body: "le\n", header: map[string]string{"Content-Range": "bytes 4-6/7"}},
			{name: "range past the end is cut", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=5-100", status: 206, body: "e\n", header: map[string]string{"Content-Range": "bytes 5-6/7"}},
			{name: "range with spaces", req: "GET /a.txt HTTP/1.1\r\nRange: bytes= 1 - 2", status: 206, body: " f"},
			{name: "range unsatisfiable", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=7-", status: 416, header: map[string]string{"Content-Range": "bytes */7"}},
			{name: "range malformed", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=x", status: 416},
			{name: "range of another unit", req: "GET /a.txt HTTP/1.1\r\nRange: lines=1-2", status: 200, body: "a file\n"},
			{name: "range head", req: "HEAD /a.txt HTTP/1.1\r\nRange: bytes=0-3", status: 206, header: map[string]string{"Content-Length": "4"}},
			{name: "if-range etag", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: " + etag(7), status: 206, body: "a"},
			{name: "if-range other etag", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: \"x\"", status: 200, body: "a file\n"},
			{name: "if-range date", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: " + lastMod, status: 206, body: "a"},
			{name: "if-range other date", req: "GET /a.txt HTTP/1.1\r\nRange: bytes=0-0\r\nIf-Range: Sun, 29 Nov 2026 12:00:00 GMT", status: 200},
			{name: "range in a big file", req: "GET /big.bin HTTP/1.1\r\nRange: bytes=100000-100099", status: 206, body: string(big[100000:100100])},
			{name: "range in a big file with sendfile", req: "GET /sf/big.bin HTTP/1.1\r\nRange: bytes=250000-", status: 206, body: string(big[250000:])},
			{name: "return takes default_type", req: "GET /typed HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "application/json"}},
			{name: "return takes types", req: "GET /typed.css HTTP/1.1", status: 200, header: map[string]string{"Content-Type": "text/css"}},
			{name: "try_files directory with slash", req: "GET /spa/dir/ HTTP/1.1", status: 200, body: "sub\n"},
			{name: "try_files fallback for a route", req: "GET /spa/some/route HTTP/1.1", status: 200, body: "hello\n"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				defer rc.c.Close()
				rc.write(c.req + "\r\nHost: h\r\n\r\n")
				method, _, _ := strings.Cut(c.req, " ")
				resp := rc.read(method)
				if resp.Status != c.status {
					t.Fatalf("status %d, want %d", resp.Status, c.status)
				}
				if c.fields != "" {
					var names []string
					for _, f := range resp.Headers {
						names = append(names, f.Name)
					}
					if got := strings.Join(names, " "); got != c.fields {
						t.Errorf("fields: %s\nwant:    %s", got, c.fields)
					}
				}
				for name, want := range c.header {
					if got := resp.header(name); got != p.expand(want) {
						t.Errorf("%s: %q, want %q", name, got, p.expand(want))
					}
				}
				if c.body != "" && string(resp.Body) != c.body {
					t.Errorf("body %q, want %q", resp.Body, c.body)
				}
				if c.bodyLen > 0 && !bytes.Equal(resp.Body, big[:min(len(big), len(resp.Body))]) || c.bodyLen > 0 && len(resp.Body) != c.bodyLen {
					t.Errorf("body of %d bytes, not the file's %d", len(resp.Body), c.bodyLen)
				}
				if method == "HEAD" && len(resp.Body) != 0 {
					t.Errorf("a body for HEAD")
				}
			})
		}
		t.Run("keep-alive", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			for i, step := range []struct {
				req    string
				status int
				n      int
			}{
				{"GET /a.txt", 200, 7},
				{"HEAD /a.txt", 200, 0},
				{"GET /a.txt HTTP/1.1\r\nIf-None-Match: " + etag(7), 304, 0},
				{"GET /big.bin", 200, len(big)},
				{"GET /sf/big.bin", 200, len(big)},
				{"GET /nope", 404, -1},
				{"GET /", 200, 6},
			} {
				req := step.req
				if !strings.Contains(req, "HTTP/1.1") {
					req += " HTTP/1.1"
				}
				method, _, _ := strings.Cut(req, " ")
				resp := rc.roundTrip(req + "\r\nHost: h\r\n\r\n")
				if resp.Status != step.status || step.n >= 0 && len(resp.Body) != step.n {
					t.Fatalf("request %d (%s): %d with %d bytes, want %d with %d", i, method, resp.Status, len(resp.Body), step.status, step.n)
				}
			}
		})
		log := p.readLog("error.log")
		for _, want := range []string{
			`open() "` + root + `/nope" failed (2: No such file or directory)`,
			`directory index of "` + root + `/empty/" is forbidden`,
			`rewrite or internal redirection cycle while internally redirecting to "/loop/x"`,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q", want)
			}
		}
	})
}

// TestStaticFileSlowReader checks that a file sent to a client that reads
// slowly arrives whole, with and without sendfile.
func TestStaticFileSlowReader(t *testing.T) {
	root, big := staticRoot(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { }
        location /sf/ { alias %[1]s/; sendfile on; }
    }`, root))
		for _, path := range []string{"/big.bin", "/sf/big.bin"} {
			rc := dialRaw(t, p.addr)
			rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			time.Sleep(200 * time.Millisecond)
			resp := rc.read("GET")
			if resp.Status != http.StatusOK || !bytes.Equal(resp.Body, big) {
				t.Errorf("%s: status %d, %d bytes", path, resp.Status, len(resp.Body))
			}
			rc.c.Close()
		}
	})
}

// TestRedirectForms checks absolute_redirect, server_name_in_redirect and
// port_in_redirect on the redirects headroom makes itself (a directory's
// slash, return with a path) against nginx.
func TestRedirectForms(t *testing.T) {
	root, _ := staticRoot(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name primary.example alias.example;
        location / { }
        location /rel/ { absolute_redirect off; alias %[1]s/; }
        location /name/ { server_name_in_redirect on; alias %[1]s/; }
        location /noport/ { port_in_redirect off; alias %[1]s/; }
        location = /ret { port_in_redirect off; return 302 /there; }
        location = /retrel { absolute_redirect off; return 302 /there; }
    }`, root))
		cases := []struct{ path, want string }{
			{"/dir", "http://h:{{PORT}}/dir/"},
			{"/rel/dir", "/rel/dir/"},
			{"/name/dir", "http://primary.example:{{PORT}}/name/dir/"},
			{"/noport/dir", "http://h/noport/dir/"},
			{"/ret", "http://h/there"},
			{"/retrel", "/there"},
		}
		for _, c := range cases {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET " + c.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			rc.c.Close()
			if got := resp.header("Location"); got != p.expand(c.want) {
				t.Errorf("%s: Location %q, want %q", c.path, got, p.expand(c.want))
			}
		}
	})
}

// TestXAccelRedirect checks an upstream's X-Accel-Redirect against nginx:
// the request is redirected internally (a GET) to the URI, whose answer
// keeps the upstream's Content-Type, Content-Disposition and Set-Cookie;
// arguments pass; proxy_ignore_headers turns it off; an unsafe URI is 404.
func TestXAccelRedirect(t *testing.T) {
	root, _ := staticRoot(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "app", func(c *upConn, r *upRequest) {
			target := strings.TrimPrefix(r.Target, "/app")
			c.respond(200, "from the app\n", "X-Accel-Redirect: "+target, "Content-Type: application/x-download",
				"Content-Disposition: attachment; filename=a.txt", "Set-Cookie: seen=1", "X-Other: dropped")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /app/ { proxy_pass http://%[2]s; }
        location /ignored/ { proxy_pass http://%[2]s/app/; proxy_ignore_headers X-Accel-Redirect; }
        location /files/ { alias %[1]s/; }
        location = /echo { return 200 "$request_method $args\n"; }
    }`, root, up.addr))
		cases := []struct {
			req, status, body, ctype, disposition, cookie, other string
		}{
			{"GET /app/files/a.txt", "200", "a file\n", "application/x-download", "attachment; filename=a.txt", "seen=1", ""},
			{"POST /app/echo?x=1", "200", "GET x=1\n", "application/x-download", "attachment; filename=a.txt", "seen=1", ""},
			{"GET /ignored/files/a.txt", "200", "from the app\n", "application/x-download", "attachment; filename=a.txt", "seen=1", "dropped"},
			{"GET /app/files/../a.txt", "404", "", "", "", "", ""},
		}
		for _, c := range cases {
			req := c.req + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
			if strings.HasPrefix(c.req, "POST") {
				req += "Content-Length: 2\r\n\r\nhi"
			} else {
				req += "\r\n"
			}
			resp, _ := sendRawLinger(t, p.addr, req)
			if fmt.Sprint(resp.Status) != c.status {
				t.Errorf("%s: status %d, want %s", c.req, resp.Status, c.status)
				continue
			}
			if c.status != "200" {
				continue
			}
			if string(resp.Body) != c.body {
				t.Errorf("%s: body %q, want %q", c.req, resp.Body, c.body)
			}
			for name, want := range map[string]string{"Content-Type": c.ctype, "Content-Disposition": c.disposition, "Set-Cookie": c.cookie, "X-Other": c.other} {
				if got := resp.header(name); got != want {
					t.Errorf("%s: %s %q, want %q", c.req, name, got, want)
				}
			}
		}
	})
}

// TestTryFilesBeforeProxyAsNginx checks that try_files runs before a
// location's proxy_pass, as nginx's try_files phase runs before any
// content handler: a file found is passed on under its own URI, and
// without one the last entry answers (a status, a named location).
// Debian's PHP snippet relies on it ("try_files $fastcgi_script_name
// =404" before fastcgi_pass) to keep requests for scripts that do not
// exist away from the application.
func TestTryFilesBeforeProxyAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, "up "+r.Target+"\n")
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /p/ { try_files $uri $uri.html =404; proxy_pass http://%[1]s; }
        location /n/ { try_files $uri @fallback; proxy_pass http://%[1]s; }
        location @fallback { return 200 "fallback $uri\n"; }
    }`, up.addr))
		writeHTML(t, p, "p/page", "x")
		writeHTML(t, p, "p/doc.html", "x")
		writeHTML(t, p, "n/page", "x")
		for _, tc := range []struct{ path, want string }{
			{"/p/page?a=1", "200 up /p/page?a=1\n"},
			// The file found is doc.html, but a proxy_pass without a URI
			// part sends the client's own target, as nginx sends it.
			{"/p/doc", "200 up /p/doc\n"},
			{"/p/missing", "404"},
			{"/n/page", "200 up /n/page\n"},
			{"/n/missing", "200 fallback /n/missing\n"},
		} {
			r := sendRaw(t, p.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			got := fmt.Sprint(r.Status)
			if r.Status == 200 {
				got += " " + string(r.Body)
			}
			if got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.path, got, tc.want)
			}
		}
	})
}

// TestTryFilesAfterRedirectAsNginx checks that a request redirected
// internally (here by error_page, after try_files chose its file and the
// upstream failed) runs the try_files of the location it lands in, as
// nginx runs the phase again after a redirect: the error page is the
// fallback's answer, with the 502 status error_page keeps.
func TestTryFilesAfterRedirectAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		dead := refusedAddr(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /p/ { try_files $uri =404; proxy_pass http://%s; error_page 502 /e/missing; }
        location /e/ { try_files $uri /maint.html; }
        location = /maint.html { return 200 "maintenance\n"; }
    }`, dead))
		writeHTML(t, p, "p/page", "x")
		r := sendRaw(t, p.addr, "GET /p/page HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if r.Status != 502 || string(r.Body) != "maintenance\n" {
			t.Errorf("got %d %q, want 502 \"maintenance\\n\"", r.Status, r.Body)
		}
	})
}
