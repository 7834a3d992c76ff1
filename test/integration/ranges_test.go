package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// boundaryType is the Content-Type of a multipart answer, nginx's
// boundary being a 20-digit counter.
var boundaryType = regexp.MustCompile(`^multipart/byteranges; boundary=(\d{20})$`)

// multipartBody is the body nginx sends for ranges of a file: each part
// with its head, then the closing boundary.
func multipartBody(boundary, ctype string, file []byte, ranges [][2]int) []byte {
	var b bytes.Buffer
	for _, r := range ranges {
		b.WriteString("\r\n--" + boundary + "\r\n")
		if ctype != "" {
			b.WriteString("Content-Type: " + ctype + "\r\n")
		}
		fmt.Fprintf(&b, "Content-Range: bytes %d-%d/%d\r\n\r\n", r[0], r[1]-1, len(file))
		b.Write(file[r[0]:r[1]])
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// TestByteRanges checks nginx's range filter on files: one range, several
// (a multipart answer, from the file and with sendfile, to a slow reader
// too), the cases that give the whole file or 416, max_ranges, and the
// charset in the parts' Content-Type.
func TestByteRanges(t *testing.T) {
	root, big := staticRoot(t)
	small := []byte("a file\n")
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { }
        location /sf/ { alias %[1]s/; sendfile on; }
        location /two/ { alias %[1]s/; max_ranges 2; }
        location /one/ { alias %[1]s/; max_ranges 1; }
        location /none/ { alias %[1]s/; max_ranges 0; }
        location /cs/ { alias %[1]s/; charset utf-8; }
    }`, root))
		type part = [2]int
		cases := []struct {
			name, req string
			status    int
			ctype     string // the parts' Content-Type, for a multipart answer
			file      []byte
			parts     []part // a multipart answer's ranges
			body      []byte // any other answer's body
			accept    bool   // Accept-Ranges is expected
		}{
			{name: "one range", req: "GET /a.txt\r\nRange: bytes=2-5", status: 206, body: small[2:6]},
			{name: "two ranges", req: "GET /a.txt\r\nRange: bytes=0-1,4-", status: 206, ctype: "text/plain", file: small, parts: []part{{0, 2}, {4, 7}}},
			{name: "unsorted and overlapping, with spaces", req: "GET /a.txt\r\nRange: bytes= 4-5 , 0-2,-2", status: 206, ctype: "text/plain", file: small, parts: []part{{4, 6}, {0, 3}, {5, 7}}},
			{name: "a range past the end is left out", req: "GET /a.txt\r\nRange: bytes=0-0,100-,6-", status: 206, ctype: "text/plain", file: small, parts: []part{{0, 1}, {6, 7}}},
			{name: "one range left of several", req: "GET /a.txt\r\nRange: bytes=100-,1-1", status: 206, body: small[1:2]},
			{name: "ranges longer than the file", req: "GET /a.txt\r\nRange: bytes=0-6,0-0", status: 200, body: small, accept: true},
			{name: "malformed after a good range", req: "GET /a.txt\r\nRange: bytes=0-1,x", status: 416},
			{name: "empty range list entry", req: "GET /a.txt\r\nRange: bytes=0-1,,2-3", status: 416},
			{name: "overflow", req: "GET /a.txt\r\nRange: bytes=0-1,99999999999999999999-", status: 416},
			{name: "big file", req: "GET /big.bin\r\nRange: bytes=0-99999,250000-,100-100000,-3", status: 206, ctype: "text/plain", file: big,
				parts: []part{{0, 100000}, {250000, 300000}, {100, 100001}, {299997, 300000}}},
			{name: "big file with sendfile", req: "GET /sf/big.bin\r\nRange: bytes=-70000,5-10,16384-32768", status: 206, ctype: "text/plain", file: big,
				parts: []part{{230000, 300000}, {5, 11}, {16384, 32769}}},
			{name: "charset in the parts", req: "GET /cs/index.html\r\nRange: bytes=0-0,-1", status: 206, ctype: "text/html; charset=utf-8", file: []byte("hello\n"), parts: []part{{0, 1}, {5, 6}}},
			{name: "max_ranges not reached", req: "GET /two/a.txt\r\nRange: bytes=0-0,-1", status: 206, ctype: "text/plain", file: small, parts: []part{{0, 1}, {6, 7}}},
			{name: "max_ranges not reached, a range left out", req: "GET /two/a.txt\r\nRange: bytes=0-0,-1,100-", status: 206, ctype: "text/plain", file: small, parts: []part{{0, 1}, {6, 7}}},
			{name: "max_ranges reached", req: "GET /two/a.txt\r\nRange: bytes=0-0,-1,2-2", status: 200, body: small, accept: true},
			{name: "max_ranges 1", req: "GET /one/a.txt\r\nRange: bytes=0-0,-1", status: 200, body: small, accept: true},
			{name: "max_ranges 1, one range", req: "GET /one/a.txt\r\nRange: bytes=0-0", status: 206, body: small[:1]},
			{name: "max_ranges 0", req: "GET /none/a.txt\r\nRange: bytes=0-0", status: 200, body: small},
			{name: "max_ranges 0, unsatisfiable", req: "GET /none/a.txt\r\nRange: bytes=100-", status: 200, body: small},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				method, _, _ := strings.Cut(c.req, " ")
				path, rest, _ := strings.Cut(c.req[len(method)+1:], "\r\n")
				resp := rc.roundTrip(method + " " + path + " HTTP/1.1\r\n" + rest + "\r\nHost: h\r\n\r\n")
				if resp.Status != c.status {
					t.Fatalf("status %d, want %d", resp.Status, c.status)
				}
				if got := resp.header("Accept-Ranges") != ""; got != c.accept {
					t.Errorf("Accept-Ranges present: %v, want %v", got, c.accept)
				}
				if n, _ := strconv.Atoi(resp.header("Content-Length")); c.status != 416 && n != len(resp.Body) {
					t.Errorf("Content-Length %s for a body of %d bytes", resp.header("Content-Length"), len(resp.Body))
				}
				want := c.body
				if c.parts != nil {
					m := boundaryType.FindStringSubmatch(resp.header("Content-Type"))
					if m == nil {
						t.Fatalf("Content-Type %q", resp.header("Content-Type"))
					}
					if resp.header("Content-Range") != "" {
						t.Errorf("a multipart answer with Content-Range %q", resp.header("Content-Range"))
					}
					want = multipartBody(m[1], c.ctype, c.file, c.parts)
				}
				if c.status != 416 && !bytes.Equal(resp.Body, want) {
					t.Errorf("body of %d bytes:\n%.300q\nwant %d bytes:\n%.300q", len(resp.Body), resp.Body, len(want), want)
				}
			})
		}
		t.Run("multipart head", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			get := rc.roundTrip("GET /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1,4-\r\n\r\n")
			head := rc.roundTrip("HEAD /a.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1,4-\r\n\r\n")
			if head.Status != 206 || head.header("Content-Length") != get.header("Content-Length") || len(head.Body) != 0 {
				t.Errorf("HEAD: %d with Content-Length %q and %d bytes; GET's length %q", head.Status, head.header("Content-Length"), len(head.Body), get.header("Content-Length"))
			}
		})
		t.Run("multipart to a slow reader", func(t *testing.T) {
			for _, path := range []string{"/big.bin", "/sf/big.bin"} {
				rc := dialRaw(t, p.addr)
				rc.write("GET " + path + " HTTP/1.1\r\nHost: h\r\nRange: bytes=299990-,0-299989\r\n\r\n")
				time.Sleep(200 * time.Millisecond)
				resp := rc.read("GET")
				m := boundaryType.FindStringSubmatch(resp.header("Content-Type"))
				if resp.Status != 206 || m == nil {
					t.Fatalf("%s: status %d, Content-Type %q", path, resp.Status, resp.header("Content-Type"))
				}
				if want := multipartBody(m[1], "text/plain", big, [][2]int{{299990, 300000}, {0, 299990}}); !bytes.Equal(resp.Body, want) {
					t.Errorf("%s: body of %d bytes, want %d", path, len(resp.Body), len(want))
				}
			}
		})
		if log := p.readLog("error.log"); strings.Contains(log, "[alert]") || strings.Contains(log, "[crit]") {
			t.Errorf("error log:\n%s", log)
		}
	})
}

// TestRandomIndex checks random_index against nginx: a directory's
// regular files (a symbolic link to a file among them) are picked, not
// hidden names, subdirectories, links to directories or dangling links;
// the arguments are kept; a directory without a file goes on to index;
// a missing one is 404 with nginx's line.
func TestRandomIndex(t *testing.T) {
	root, _ := staticRoot(t)
	other := filepath.Join(root, "other")
	r := filepath.Join(root, "r")
	for _, d := range []string{other, r, filepath.Join(r, "sub"), filepath.Join(root, "nofiles"), filepath.Join(root, "nofiles", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
	}
	for name, data := range map[string]string{"r/one": "ONE", "r/.hidden": "HIDDEN", "other/target": "LINKED", "r/sub/inner": "INNER"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"r/link": filepath.Join(other, "target"), "r/dirlink": other, "r/dangling": filepath.Join(root, "nowhere"), "nofiles/dirlink": other} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { random_index on; }
        location /ra/ { alias %[1]s/r/; random_index on; }
        location ~ ^/ra/.+ { return 200 "$uri $args"; }
        location /off/ { alias %[1]s/r/; }
    }`, root))
		rc := dialRaw(t, p.addr)
		seen := map[string]int{}
		for range 40 {
			resp := rc.roundTrip("GET /r/ HTTP/1.1\r\nHost: h\r\n\r\n")
			seen[fmt.Sprintf("%d %s", resp.Status, resp.Body)]++
		}
		if len(seen) != 2 || seen["200 ONE"] == 0 || seen["200 LINKED"] == 0 {
			t.Errorf("answers to /r/: %v; want 200 ONE and 200 LINKED", seen)
		}
		seen = map[string]int{}
		for range 20 {
			resp := rc.roundTrip("GET /ra/?a=1 HTTP/1.1\r\nHost: h\r\n\r\n")
			seen[fmt.Sprintf("%d %s", resp.Status, resp.Body)]++
		}
		for k := range seen {
			if k != "200 /ra/one a=1" && k != "200 /ra/link a=1" {
				t.Errorf("answers to /ra/?a=1: %v", seen)
				break
			}
		}
		for _, c := range []struct {
			req    string
			status int
		}{
			{"GET /nofiles/", 403},
			{"GET /missing/", 404},
			{"PUT /r/", 405},
			{"GET /off/", 403},
			{"GET /r/sub/", 200},
		} {
			resp := rc.roundTrip(c.req + " HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
			if resp.Status != c.status {
				t.Errorf("%s: status %d, want %d", c.req, resp.Status, c.status)
			}
		}
		log := p.readLog("error.log")
		for _, want := range []string{
			`opendir() "` + root + `/missing" failed (2: No such file or directory)`,
			`directory index of "` + root + `/nofiles/" is forbidden`,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("error log lacks %q:\n%s", want, log)
			}
		}
	})
}

// TestMSIE checks msie_padding and msie_refresh against nginx: the
// padding after error pages of 400 and above for Internet Explorer and
// Chrome, and the refresh page instead of a 301 or 302 for Internet
// Explorer.
func TestMSIE(t *testing.T) {
	const (
		msie    = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"
		chrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
		opera   = "Opera/9.80 (compatible; MSIE 8.0)"
		padding = "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n"
	)
	refresh := func(url string) string {
		return `<html><head><meta http-equiv="Refresh" content="0; URL=` + url + "\"></head><body></body></html>\r\n"
	}
	root, _ := staticRoot(t)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    server {
        listen 127.0.0.1:{{PORT}};
        msie_refresh on;
        location / { }
        location /ret { return 301 "/a b'c\"d%%e"; }
        location /found { return 302 http://example.com/x; }
        location /other { return 307 /x; }
        location /rw { rewrite ^ /there redirect; }
        location /ep { error_page 404 http://example.com/e; return 404; }
        location /off { msie_refresh off; return 301 /x; }
        location /nopad/ { msie_padding off; }
    }`, root))
		cases := []struct {
			name, req, ua string
			status        int
			body          string // the whole body, when set
			padded        bool
		}{
			{name: "padding for msie", req: "GET /nope", ua: msie, status: 404, padded: true},
			{name: "padding for chrome", req: "GET /nope", ua: chrome, status: 404, padded: true},
			{name: "padding for a 405", req: "PUT /a.txt", ua: msie, status: 405, padded: true},
			{name: "no padding for firefox", req: "GET /nope", ua: firefox, status: 404},
			{name: "no padding for opera", req: "GET /nope", ua: opera, status: 404},
			{name: "no padding without a user agent", req: "GET /nope", status: 404},
			{name: "msie_padding off", req: "GET /nopad/nope", ua: chrome, status: 404},
			{name: "padding with head", req: "HEAD /nope", ua: msie, status: 404},
			{name: "refresh for a return", req: "GET /ret", ua: msie, status: 200, body: refresh("/a%20b%27c%22d%e")},
			{name: "refresh for a 302", req: "GET /found", ua: msie, status: 200, body: refresh("http://example.com/x")},
			{name: "refresh for a rewrite", req: "GET /rw", ua: msie, status: 200, body: refresh("/there")},
			{name: "refresh for a directory", req: "GET /dir", ua: msie, status: 200, body: refresh("/dir/")},
			{name: "refresh for an error_page redirect", req: "GET /ep", ua: msie, status: 200, body: refresh("http://example.com/e")},
			{name: "no refresh for a 307", req: "GET /other", ua: msie, status: 307},
			{name: "no refresh for chrome", req: "GET /ret", ua: chrome, status: 301},
			{name: "msie_refresh off", req: "GET /off", ua: msie, status: 301},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rc := dialRaw(t, p.addr)
				req := c.req + " HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
				if c.ua != "" {
					req += "User-Agent: " + c.ua + "\r\n"
				}
				resp := rc.roundTrip(req + "\r\n")
				if resp.Status != c.status {
					t.Fatalf("status %d, want %d", resp.Status, c.status)
				}
				if c.body != "" {
					if string(resp.Body) != c.body || resp.header("Location") != "" || resp.header("Content-Type") != "text/html" {
						t.Errorf("body %q, Location %q, Content-Type %q; want %q", resp.Body, resp.header("Location"), resp.header("Content-Type"), c.body)
					}
					return
				}
				if got := bytes.HasSuffix(resp.Body, []byte(padding)); got != c.padded {
					t.Errorf("padded: %v, want %v:\n%s", got, c.padded, resp.Body)
				}
				if c.padded && !bytes.HasSuffix(resp.Body, []byte("</html>\r\n"+strings.Repeat(padding, 6))) {
					t.Errorf("padding not six comments after the page:\n%s", resp.Body)
				}
				if strings.HasPrefix(c.req, "HEAD") {
					// The padding counts in the length of a HEAD's page.
					get := rc.roundTrip("GET" + req[4:] + "\r\n")
					if resp.header("Content-Length") != get.header("Content-Length") || !bytes.HasSuffix(get.Body, []byte(padding)) {
						t.Errorf("HEAD Content-Length %q, GET's %q", resp.header("Content-Length"), get.header("Content-Length"))
					}
				}
			})
		}
	})
}
