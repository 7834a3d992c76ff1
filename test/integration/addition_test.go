package integration

import (
	"strings"
	"testing"
)

// TestAdditionAsNginx runs the same add_before_body and add_after_body
// configuration against nginx and headroom: a file, a body proxied in
// pieces behind an addition that is itself proxied slowly, a large file,
// an empty one, an addition that answers 404, SSI and sub_filter in the
// main answer (which the additions do not pass through), gzip over the
// whole, and the head (HEAD, no length, a weak ETag).
func TestAdditionAsNginx(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 8192)
	up := startPieceUpstream(t, map[string]pieceAnswer{
		"/pieces": {head: chunkedHead, pieces: []string{oneChunk("<main "), oneChunk("in "), oneChunk("pieces>"), "0\r\n\r\n"}},
		"/slow": {head: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
			pieces: []string{"[slow", " head]", "\n"}},
	})
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; text/plain txt; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        add_before_body /add/head.html;
        add_after_body /add/foot.html;
        location /add/ { }
        location /up/ { add_before_body /slowhead; proxy_pass http://`+up+`/; }
        location = /slowhead { proxy_pass http://`+up+`/slow; }
        location /missing/ { add_after_body /add/none.html; }
        location /ssi/ { ssi on; sub_filter MAIN main; }
        location /gz/ { gzip on; gzip_min_length 1; }
        location /txt/ { addition_types text/plain; }
        location /off/ { add_before_body ""; add_after_body ""; }
    }`)
		writeHTML(t, p, "add/head.html", "<head>")
		writeHTML(t, p, "add/foot.html", "<foot MAIN>")
		writeHTML(t, p, "page.html", "<page>")
		writeHTML(t, p, "empty.html", "")
		writeHTML(t, p, "big.html", big)
		writeHTML(t, p, "missing/p.html", "<p>")
		writeHTML(t, p, "ssi/p.html", `<MAIN <!--# echo var="arg_a" -->>`)
		writeHTML(t, p, "gz/p.html", "<gz "+big+">")
		writeHTML(t, p, "t.txt", "<text>")
		writeHTML(t, p, "txt/t.txt", "<text>")
		writeHTML(t, p, "off/p.html", "<off>")
		ssiRun(t, p, []ssiCase{
			{"a file", "", "", "/page.html", "<head><page><foot MAIN>"},
			{"an empty file", "", "", "/empty.html", "<head><foot MAIN>"},
			{"a large file", "", "", "/big.html", "<head>" + big + "<foot MAIN>"},
			{"proxied in pieces after a slow addition", "", "", "/up/pieces", "[slow head]\n<main in pieces><foot MAIN>"},
			{"an addition that is not found", "", "", "/missing/p.html", "<head><p>" + ssiErrorPage("404 Not Found")},
			{"SSI and sub_filter change the main answer only", "", "", "/ssi/p.html?a=1", "<head><main 1><foot MAIN>"},
			{"text/plain is not taken by default", "", "", "/t.txt", "<text>"},
			{"addition_types text/plain", "", "", "/txt/t.txt", "<head><text><foot MAIN>"},
			{"an empty URI turns it off", "", "", "/off/p.html", "<off>"},
		})
		r := ssiGet(t, p, "/gz/p.html", "Accept-Encoding: gzip")
		if body, err := ssiGunzipOne(r.Body); err != nil || body != "<head><gz "+big+"><foot MAIN>" {
			t.Errorf("gzip over the whole: %v, %d bytes", err, len(body))
		}
		for _, req := range []string{
			"GET /page.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"HEAD /page.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		} {
			r := sendRaw(t, p.addr, req)
			if r.Status != 200 || r.header("Content-Length") != "" || r.header("Accept-Ranges") != "" ||
				!strings.HasPrefix(r.header("ETag"), `W/"`) || r.header("Last-Modified") == "" {
				t.Errorf("the head of %q:\n%s", strings.SplitN(req, "\r\n", 2)[0], r)
			}
		}
		// Not a 200: no additions.
		r = ssiGet(t, p, "/nosuch.html")
		if r.Status != 404 || strings.Contains(string(r.Body), "<foot") {
			t.Errorf("a 404 got additions:\n%s", r)
		}
	})
}
