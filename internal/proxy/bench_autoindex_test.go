package proxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// autoindexTree makes the directory the autoindex tests list, under the
// bench's html: a subdirectory, files of several sizes and names (one
// that needs escaping, one longer than the name column, a hidden one),
// all dated 2021-03-04 05:06:07 UTC.
func autoindexTree(t *testing.T, b *bench) {
	t.Helper()
	dir := filepath.Join(b.dir, "html", "list")
	long := strings.Repeat("n", 60)
	for _, d := range []string{"sub", "empty"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]int{"a b&c.txt": 42, "big": 10000, long: 0, ".hidden": 1, "Zeta": 1536 * 1024}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(b.dir, "html", "withindex"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "html", "withindex", "index.html"), []byte("the index\n"), 0o644)
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, name := range []string{"sub", "empty", "a b&c.txt", "big", long, ".hidden", "Zeta", "."} {
		if err := os.Chtimes(filepath.Join(dir, name), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBenchAutoindexListings checks the listings byte for byte, as nginx
// 1.22 writes them: directories first, names in byte order, hidden files
// left out, each format's layout, and the answer chunked without a
// Content-Length.
func TestBenchAutoindexListings(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			autoindex on;
			location /json/ { alias html/; autoindex_format json; }
			location /jsonp/ { alias html/; autoindex_format jsonp; }
			location /xml/ { alias html/; autoindex_format xml; }
			location /rounded/ { alias html/; autoindex_exact_size off; }
		}`)
	autoindexTree(t, b)
	long := strings.Repeat("n", 60)
	pad := func(n int) string { return strings.Repeat(" ", n) }
	html := "<html>\r\n<head><title>Index of /list/</title></head>\r\n<body>\r\n" +
		"<h1>Index of /list/</h1><hr><pre><a href=\"../\">../</a>\r\n" +
		"<a href=\"empty/\">empty/</a>" + pad(44) + " 04-Mar-2021 05:06                   -\r\n" +
		"<a href=\"sub/\">sub/</a>" + pad(46) + " 04-Mar-2021 05:06                   -\r\n" +
		"<a href=\"Zeta\">Zeta</a>" + pad(46) + " 04-Mar-2021 05:06             1572864\r\n" +
		"<a href=\"a%20b%26c.txt\">a b&amp;c.txt</a>" + pad(41) + " 04-Mar-2021 05:06                  42\r\n" +
		"<a href=\"big\">big</a>" + pad(47) + " 04-Mar-2021 05:06               10000\r\n" +
		"<a href=\"" + long + "\">" + long[:47] + "..&gt;</a> 04-Mar-2021 05:06                   0\r\n" +
		"</pre><hr></body>\r\n</html>\r\n"
	rounded := strings.NewReplacer("/list/", "/rounded/list/",
		"                   -\r\n", "       -\r\n",
		"             1572864\r\n", "      2M\r\n",
		"                  42\r\n", "      42\r\n",
		"               10000\r\n", "     10K\r\n",
		"                   0\r\n", "       0\r\n").Replace(html)
	const date = "Thu, 04 Mar 2021 05:06:07 GMT"
	jsonBody := "[\r\n" +
		"{ \"name\":\"empty\", \"type\":\"directory\", \"mtime\":\"" + date + "\" },\r\n" +
		"{ \"name\":\"sub\", \"type\":\"directory\", \"mtime\":\"" + date + "\" },\r\n" +
		"{ \"name\":\"Zeta\", \"type\":\"file\", \"mtime\":\"" + date + "\", \"size\":1572864 },\r\n" +
		"{ \"name\":\"a b&c.txt\", \"type\":\"file\", \"mtime\":\"" + date + "\", \"size\":42 },\r\n" +
		"{ \"name\":\"big\", \"type\":\"file\", \"mtime\":\"" + date + "\", \"size\":10000 },\r\n" +
		"{ \"name\":\"" + long + "\", \"type\":\"file\", \"mtime\":\"" + date + "\", \"size\":0 }\r\n]"
	xmlBody := "<?xml version=\"1.0\"?>\r\n<list>\r\n" +
		"<directory mtime=\"2021-03-04T05:06:07Z\">empty</directory>\r\n" +
		"<directory mtime=\"2021-03-04T05:06:07Z\">sub</directory>\r\n" +
		"<file mtime=\"2021-03-04T05:06:07Z\" size=\"1572864\">Zeta</file>\r\n" +
		"<file mtime=\"2021-03-04T05:06:07Z\" size=\"42\">a b&amp;c.txt</file>\r\n" +
		"<file mtime=\"2021-03-04T05:06:07Z\" size=\"10000\">big</file>\r\n" +
		"<file mtime=\"2021-03-04T05:06:07Z\" size=\"0\">" + long + "</file>\r\n</list>\r\n"
	for _, tc := range []struct {
		name, uri, ctype, body string
	}{
		{"the HTML listing", "/list/", "text/html", html},
		{"the HTML listing with rounded sizes", "/rounded/list/", "text/html", rounded},
		{"the JSON listing", "/json/list/", "application/json", jsonBody},
		{"the JSONP listing with a callback", "/jsonp/list/?callback=show.list_2", "application/javascript", "/* callback */\r\nshow.list_2(" + jsonBody + ");"},
		{"the JSONP listing without a callback is JSON", "/jsonp/list/?callback=", "application/json", jsonBody},
		{"the XML listing", "/xml/list/", "text/xml; charset=utf-8", xmlBody},
		{"an empty directory's JSON", "/json/list/empty/", "application/json", "[\r\n]"},
	} {
		resp, body := b.connect().roundTrip(httpGet(tc.uri))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %q, want 200 %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
		}
		if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.Header.Get("Content-Length") != "" || resp.Header.Get("Last-Modified") != "" {
			t.Errorf("%s: framing %v, Content-Length %q, Last-Modified %q; want chunked and neither", tc.name, resp.TransferEncoding, resp.Header.Get("Content-Length"), resp.Header.Get("Last-Modified"))
		}
		if body != tc.body {
			t.Errorf("%s: body\n%q\nwant\n%q", tc.name, body, tc.body)
		}
	}
}

// TestBenchAutoindexRequests checks what else decides a directory
// request's answer: an index file first, GET and HEAD listed, POST
// forbidden and other methods not allowed, autoindex off forbidden, a
// bad jsonp callback refused, the not-modified checks of an answer
// without a date, and HTTP/1.0 ended by closing.
func TestBenchAutoindexRequests(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			autoindex on;
			location /off/ { alias html/; autoindex off; }
			location /jsonp/ { alias html/; autoindex_format jsonp; }
		}`)
	autoindexTree(t, b)
	for _, tc := range []struct {
		name, req string
		status    int
		body      string
		conn      string
	}{
		{"an index file is served rather than the listing", httpGet("/withindex/"), 200, "the index\n", "keep-alive"},
		{"a directory that does not exist is not found", httpGet("/nothing/"), 404, "", "keep-alive"},
		{"HEAD gets the head alone", "HEAD /list/ HTTP/1.1\r\nHost: h\r\n\r\n", 200, "", "keep-alive"},
		{"POST is forbidden", "POST /list/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab", 403, "", "keep-alive"},
		{"PUT is not allowed", "PUT /list/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab", 405, "", "keep-alive"},
		{"autoindex off is forbidden", httpGet("/off/list/"), 403, "", "keep-alive"},
		{"a callback with another character is refused", httpGet("/jsonp/list/empty/?callback=a-b"), 400, "", "close"},
		{"a callback longer than 128 bytes is refused", httpGet("/jsonp/list/empty/?callback=" + strings.Repeat("f", 129)), 400, "", "close"},
		{"a callback of 128 bytes is taken", httpGet("/jsonp/list/empty/?callback=" + strings.Repeat("f", 128)), 200, "/* callback */\r\n" + strings.Repeat("f", 128) + "([\r\n]);", "keep-alive"},
		{"If-Unmodified-Since fails without a date", httpGet("/list/empty/", "If-Unmodified-Since: Thu, 01 Jan 2099 00:00:00 GMT\r\n"), 412, "", "keep-alive"},
		{"If-Match fails without an entity tag", httpGet("/list/empty/", "If-Match: \"x\"\r\n"), 412, "", "keep-alive"},
		{"If-Match: * passes", httpGet("/list/empty/", "If-Match: *\r\n"), 200, "", "keep-alive"},
		{"If-None-Match: * is not modified", httpGet("/list/empty/", "If-None-Match: *\r\n"), 304, "", "keep-alive"},
		{"If-Modified-Since is always modified", httpGet("/list/empty/", "If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT\r\nIf-None-Match: *\r\n"), 200, "", "keep-alive"},
		{"a Range is not applied", httpGet("/list/empty/", "Range: bytes=0-5\r\n"), 200, "", "keep-alive"},
		{"HTTP/1.0 is answered without chunks and closed", "GET /list/empty/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "", "close"},
	} {
		resp, body := b.connect().roundTrip(tc.req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.body != "" && body != tc.body {
			t.Errorf("%s: body %q, want %q", tc.name, body, tc.body)
		}
		if got := connField(resp); got != tc.conn {
			t.Errorf("%s: Connection %q, want %q", tc.name, got, tc.conn)
		}
		if tc.status == 200 && strings.HasPrefix(tc.req, "HEAD") && (body != "" || resp.Header.Get("Content-Type") != "text/html" || len(resp.TransferEncoding) != 0) {
			t.Errorf("%s: %q %v, want no body, text/html and no Transfer-Encoding", tc.name, body, resp.Header)
		}
		if strings.Contains(tc.req, "HTTP/1.0") && (len(resp.TransferEncoding) != 0 || !strings.HasPrefix(body, "<html>")) {
			t.Errorf("%s: Transfer-Encoding %v, body %q", tc.name, resp.TransferEncoding, body)
		}
	}
	log := b.errorLog()
	for _, want := range []string{
		"client sent invalid callback name: \"a-b\"",
		"client sent too long callback name: \"" + strings.Repeat("f", 129) + "\"",
		"directory index of \"" + b.dir + "/html/list/\" is forbidden",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the error log lacks %q:\n%s", want, log)
		}
	}
}

// TestBenchAutoindexCharset checks that the HTML listing measures names
// in characters when the answer's charset is UTF-8, and in bytes
// otherwise, as nginx does.
func TestBenchAutoindexCharset(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			autoindex on;
			location /utf8/ { alias html/; charset utf-8; }
		}`)
	dir := filepath.Join(b.dir, "html", "names")
	os.MkdirAll(dir, 0o755)
	short := "ф" + "ф"
	long := strings.Repeat("ф", 60)
	for _, name := range []string{short, long} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	resp, body := b.connect().roundTrip(httpGet("/utf8/names/"))
	if resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		">" + short + "</a>" + strings.Repeat(" ", 48) + " ",
		">" + strings.Repeat("ф", 47) + "..&gt;</a> ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the UTF-8 listing lacks %q:\n%s", want, body)
		}
	}
	_, body = b.connect().roundTrip(httpGet("/names/"))
	for _, want := range []string{
		">" + short + "</a>" + strings.Repeat(" ", 46) + " ",
		">" + long[:47] + "..&gt;</a> ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the listing in bytes lacks %q:\n%s", want, body)
		}
	}
}

// TestBenchNotModifiedWithoutETag checks the conditions on a file sent
// without an entity tag (etag off), and an If-Unmodified-Since that is
// not a date, as nginx answers them.
func TestBenchNotModifiedWithoutETag(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location /plain/ { alias html/; etag off; }
		}`)
	os.MkdirAll(filepath.Join(b.dir, "html"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "html", "f.txt"), []byte("f"), 0o644)
	for _, tc := range []struct {
		name, field string
		status      int
	}{
		{"If-Match: * passes without an entity tag", "If-Match: *\r\n", 200},
		{"If-None-Match: * is not modified without an entity tag", "If-None-Match: *\r\n", 304},
		{"If-Match with a tag fails without an entity tag", "If-Match: \"x\"\r\n", 412},
		{"an If-Unmodified-Since that is not a date fails", "If-Unmodified-Since: yesterday\r\n", 412},
	} {
		resp, _ := b.connect().roundTrip(httpGet("/plain/f.txt", tc.field))
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
}

// TestListingSize checks the HTML listing's size column against nginx's
// rounding: bytes up to 9999, then K, M and G rounded to the nearest,
// and no unit beyond G.
func TestListingSize(t *testing.T) {
	const K, M, G = 1024, 1024 * 1024, 1024 * 1024 * 1024
	for _, tc := range []struct {
		size         int64
		exact, short string
	}{
		{0, "                  0", "      0"},
		{9999, "               9999", "   9999"},
		{10000, "              10000", "    10K"},
		{10 * K, "              10240", "    10K"},
		{10*K + 511, "              10751", "    10K"},
		{10*K + 512, "              10752", "    11K"},
		{M - 1, "            1048575", "  1024K"},
		{M, "            1048576", "     1M"},
		{M + M/2 - 1, "            1572863", "     1M"},
		{M + M/2, "            1572864", "     2M"},
		{G - 1, "         1073741823", "  1024M"},
		{3 * G, "         3221225472", "     3G"},
		{5 * 1024 * G, "      5497558138880", "  5120G"},
	} {
		e := listEntry{size: tc.size, file: true}
		if got := string(appendListingSize(nil, &e, true)); got != tc.exact {
			t.Errorf("exact size of %d: %q, want %q", tc.size, got, tc.exact)
		}
		if got := string(appendListingSize(nil, &e, false)); got != tc.short {
			t.Errorf("rounded size of %d: %q, want %q", tc.size, got, tc.short)
		}
	}
	dir := listEntry{dir: true, size: 4096}
	if got := string(appendListingSize(nil, &dir, true)) + "|" + string(appendListingSize(nil, &dir, false)); got != "                  -|      -" {
		t.Errorf("a directory's size: %q", got)
	}
}

// TestListingEscapes checks how names are escaped: for a link as nginx
// escapes a URI component, for HTML and XML with four entities, for JSON
// with backslashes and \u00XX.
func TestListingEscapes(t *testing.T) {
	var all []byte
	for c := 0x20; c < 0x7f; c++ {
		if c != '/' {
			all = append(all, byte(c))
		}
	}
	wantURI := "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C-.0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~"
	if got := string(appendEscaped(nil, all, &escapeURIComponent)); got != wantURI {
		t.Errorf("URI component escape:\n%s\nwant\n%s", got, wantURI)
	}
	if got := string(appendEscaped(nil, []byte("a\x01\x7f\x80\xff"), &escapeURIComponent)); got != "a%01%7F%80%FF" {
		t.Errorf("URI component escape of control and high bytes: %q", got)
	}
	if got := string(appendEscapedHTML(nil, []byte(`<a href="x">&'</a>`))); got != "&lt;a href=&quot;x&quot;&gt;&amp;'&lt;/a&gt;" {
		t.Errorf("HTML escape: %q", got)
	}
	if got := string(appendEscapedJSON(nil, "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7fф")); got != `q\"b\\n\nr\rt\tb\bf\f\u0001\u001F`+"\x7fф" {
		t.Errorf("JSON escape: %q", got)
	}
}

// TestListingUTF8 checks how names are measured in UTF-8: characters
// when the name is valid (as nginx decodes it), bytes when it is not.
func TestListingUTF8(t *testing.T) {
	for _, tc := range []struct {
		name string
		want int
	}{
		{"abc", 3},
		{"фф", 2},
		{"a€b", 3},
		{"\xf0\x9f\x98\x80", 1},
		{"bad\xd1", 4},
		// Any byte from 0x80 continues a sequence, as nginx decodes.
		{"bad\xd1\xd1x", 5},
		{"bad\xd1x", 5},
		{"\xc0\x80", 2},
		{"\xe0\x80\x80", 3},
		{"\xf4\x90\x80\x80", 4},
	} {
		if got := utf8Length([]byte(tc.name)); got != tc.want {
			t.Errorf("utf8Length(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := utf8Prefix([]byte("aфbф"), 3); got != 4 {
		t.Errorf("utf8Prefix of three characters: %d bytes, want 4", got)
	}
}

// TestListingOrder checks nginx 1.22's order: directories first, then
// names by their bytes (capitals before small letters, "file10" before
// "file9").
func TestListingOrder(t *testing.T) {
	entries := []listEntry{
		{name: "file9"}, {name: "b"}, {name: "zdir", dir: true}, {name: "file10"},
		{name: "B"}, {name: "Adir", dir: true}, {name: "file010"}, {name: "a:b"}, {name: "a"},
	}
	slices.SortFunc(entries, compareEntries)
	var got []string
	for _, e := range entries {
		got = append(got, e.name)
	}
	want := []string{"Adir", "zdir", "B", "a", "a:b", "b", "file010", "file10", "file9"}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

// TestListingDates checks the HTML listing's date column: day, month
// name, year, hours and minutes, moved by autoindex_localtime's offset,
// and a time before 1970 shown as its start, as nginx's ngx_gmtime does.
func TestListingDates(t *testing.T) {
	for _, tc := range []struct {
		mtime, offset int64
		want          string
	}{
		{1614834367, 0, " 04-Mar-2021 05:06 "},
		{1614834367, 5*3600 + 1800, " 04-Mar-2021 10:36 "},
		{-86400, 0, " 01-Jan-1970 00:00 "},
	} {
		b := appendHTMLListing(nil, []byte("/"), []listEntry{{name: "f", file: true, mtime: tc.mtime}}, htmlListingOptions{exactSize: true, offset: tc.offset})
		if !strings.Contains(string(b), "</a>"+strings.Repeat(" ", 49)+tc.want) {
			t.Errorf("mtime %d offset %d: %q lacks %q", tc.mtime, tc.offset, b, tc.want)
		}
	}
}
