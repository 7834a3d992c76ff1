package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// autoindexRoot makes a document root readable by nginx's workers with a
// directory "list" to be listed: a subdirectory, and files whose names
// need escaping for a URI, for HTML or for JSON, one longer than the
// listing's name column, one in UTF-8, a hidden one, and sizes from
// nothing to 3 GB (sparse), all dated 2021-03-04 05:06:07 UTC.
func autoindexRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "headroom-autoindex-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	list := filepath.Join(root, "list")
	for _, d := range []string{root, list, filepath.Join(list, "sub")} {
		os.MkdirAll(d, 0o755)
		os.Chmod(d, 0o755)
	}
	sizes := map[string]int64{
		"a b.txt":                         42,
		"c:d":                             0,
		"huge":                            3 << 30,
		"long-" + strings.Repeat("n", 50): 0,
		"mid":                             1536 << 10,
		"ten":                             10000,
		`x<&>"y`:                          0,
		"файл":                            0,
		".hidden":                         5,
	}
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for name, size := range sizes {
		path := filepath.Join(list, name)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, when, when)
	}
	os.Chtimes(filepath.Join(list, "sub"), when, when)
	return root
}

// TestAutoindexListings checks the directory listings against nginx's:
// the HTML listing with exact and rounded sizes and with UTF-8 names
// measured in characters, the JSON, JSONP and XML listings, each byte for
// byte, and the head they come with (chunked, no Content-Length), HEAD,
// POST and HTTP/1.0.
func TestAutoindexListings(t *testing.T) {
	root := autoindexRoot(t)
	const date = " 04-Mar-2021 05:06 "
	row := func(href, text string, shown int, size string) string {
		return "<a href=\"" + href + "\">" + text + "</a>" + strings.Repeat(" ", 50-shown) + date + size + "\r\n"
	}
	long := "long-" + strings.Repeat("n", 50)
	html := func(uri string, utf8, exact bool) string {
		size := func(exactSize, rounded string) string {
			if exact {
				return fmt.Sprintf("%19s", exactSize)
			}
			return fmt.Sprintf("%7s", rounded)
		}
		name := 8
		if utf8 {
			name = 4
		}
		return "<html>\r\n<head><title>Index of " + uri + "</title></head>\r\n<body>\r\n" +
			"<h1>Index of " + uri + "</h1><hr><pre><a href=\"../\">../</a>\r\n" +
			row("sub/", "sub/", 4, size("-", "-")) +
			row("a%20b.txt", "a b.txt", 7, size("42", "42")) +
			row("c%3Ad", "c:d", 3, size("0", "0")) +
			row("huge", "huge", 4, size("3221225472", "3G")) +
			"<a href=\"" + long + "\">" + long[:47] + "..&gt;</a>" + date + size("0", "0") + "\r\n" +
			row("mid", "mid", 3, size("1572864", "2M")) +
			row("ten", "ten", 3, size("10000", "10K")) +
			row("x%3C%26%3E%22y", "x&lt;&amp;&gt;&quot;y", 6, size("0", "0")) +
			row("%D1%84%D0%B0%D0%B9%D0%BB", "файл", name, size("0", "0")) +
			"</pre><hr></body>\r\n</html>\r\n"
	}
	const mtime = "Thu, 04 Mar 2021 05:06:07 GMT"
	jsonFile := func(name string, size int64) string {
		return fmt.Sprintf("{ \"name\":\"%s\", \"type\":\"file\", \"mtime\":\"%s\", \"size\":%d }", name, mtime, size)
	}
	json := "[\r\n" + strings.Join([]string{
		"{ \"name\":\"sub\", \"type\":\"directory\", \"mtime\":\"" + mtime + "\" }",
		jsonFile("a b.txt", 42), jsonFile("c:d", 0), jsonFile("huge", 3<<30), jsonFile(long, 0),
		jsonFile("mid", 1536<<10), jsonFile("ten", 10000), jsonFile(`x<&>\"y`, 0), jsonFile("файл", 0),
	}, ",\r\n") + "\r\n]"
	xmlFile := func(name string, size int64) string {
		return fmt.Sprintf("<file mtime=\"2021-03-04T05:06:07Z\" size=\"%d\">%s</file>\r\n", size, name)
	}
	xml := "<?xml version=\"1.0\"?>\r\n<list>\r\n" +
		"<directory mtime=\"2021-03-04T05:06:07Z\">sub</directory>\r\n" +
		xmlFile("a b.txt", 42) + xmlFile("c:d", 0) + xmlFile("huge", 3<<30) + xmlFile(long, 0) +
		xmlFile("mid", 1536<<10) + xmlFile("ten", 10000) + xmlFile("x&lt;&amp;&gt;&quot;y", 0) + xmlFile("файл", 0) +
		"</list>\r\n"

	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    root %[1]s;
    autoindex on;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { }
        location /rounded/ { alias %[1]s/; autoindex_exact_size off; }
        location /utf8/ { alias %[1]s/; charset utf-8; }
        location /json/ { alias %[1]s/; autoindex_format json; }
        location /jsonp/ { alias %[1]s/; autoindex_format jsonp; }
        location /xml/ { alias %[1]s/; autoindex_format xml; }
    }`, root))
		for _, tc := range []struct {
			name, uri, ctype, body string
		}{
			{"HTML", "/list/", "text/html", html("/list/", false, true)},
			{"HTML with rounded sizes", "/rounded/list/", "text/html", html("/rounded/list/", false, false)},
			{"HTML in UTF-8", "/utf8/list/", "text/html; charset=utf-8", html("/utf8/list/", true, true)},
			{"JSON", "/json/list/", "application/json", json},
			{"JSONP", "/jsonp/list/?callback=got.it", "application/javascript", "/* callback */\r\ngot.it(" + json + ");"},
			{"XML", "/xml/list/", "text/xml; charset=utf-8", xml},
		} {
			resp := sendRaw(t, p.addr, "GET "+tc.uri+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			if resp.Status != 200 || resp.Headers.get("Content-Type") != tc.ctype || !resp.Chunked || resp.Headers.has("Content-Length") {
				t.Errorf("%s: %d Content-Type %q chunked %v Content-Length %q, want 200 %q chunked", tc.name, resp.Status,
					resp.Headers.get("Content-Type"), resp.Chunked, resp.Headers.get("Content-Length"), tc.ctype)
			}
			if string(resp.Body) != tc.body {
				t.Errorf("%s: body\n%q\nwant\n%q", tc.name, resp.Body, tc.body)
			}
		}
		resp := sendRaw(t, p.addr, "GET /list/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if got := fieldNames(resp.Headers); got != "Server Date Content-Type Transfer-Encoding Connection" {
			t.Errorf("the listing's fields are %q", got)
		}
		resp = sendRaw(t, p.addr, "HEAD /list/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if got := fieldNames(resp.Headers); resp.Status != 200 || got != "Server Date Content-Type Connection" {
			t.Errorf("HEAD: %d with fields %q", resp.Status, got)
		}
		if resp := sendRaw(t, p.addr, "POST /list/ HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); resp.Status != 403 {
			t.Errorf("POST: %d, want 403", resp.Status)
		}
		resp = sendRaw(t, p.addr, "GET /xml/list/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if !resp.CloseDelimited || resp.Headers.get("Connection") != "close" || string(resp.Body) != xml {
			t.Errorf("HTTP/1.0: close-delimited %v, Connection %q, body %q", resp.CloseDelimited, resp.Headers.get("Connection"), resp.Body)
		}
	})
}

// fieldNames lists the names of a response's fields in their order.
func fieldNames(h headers) string {
	var names []string
	for _, f := range h {
		names = append(names, f.Name)
	}
	return strings.Join(names, " ")
}
