package integration

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the same SSI configurations against nginx and headroom:
// the commands (echo, set, config, if, block, include), the include
// subrequests and what they reach, the answer's header and framing, gzip
// on top of SSI, and the SSI stage under a slow client, a client that goes
// away, and an include cycle. The expected bodies are nginx 1.22's.

// ssiServer is the head of a server block with SSI on, serving the html
// directory of the prefix; the caller adds locations and the closing brace.
const ssiServer = `
    types { text/html html; }
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        ssi on;`

// ssiGet sends a GET of path over HTTP/1.1 on a connection of its own and
// returns the answer; the test fails and stops when no whole answer
// arrives within 10 s.
func ssiGet(t *testing.T, p *proxy, path string, extra ...string) *response {
	t.Helper()
	r, err := ssiTry(p, path, extra...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// ssiTry is ssiGet that returns what arrived with the error instead of
// stopping the test.
func ssiTry(p *proxy, path string, extra ...string) (*response, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: h\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req+"Connection: close\r\n\r\n"); err != nil {
		return nil, err
	}
	r, err := readResponse(bufio.NewReader(c), "GET")
	if err != nil && r != nil {
		err = fmt.Errorf("%w, after %d bytes of body", err, len(r.Body))
	}
	return r, err
}

// ssiSignature matches the signature line of a built-in error page, the
// one part of it that names the server.
var ssiSignature = regexp.MustCompile(`<hr><center>[^<]*</center>`)

// ssiErrorPage is a built-in error page with the signature replaced by
// SIG, as ssiNormalize leaves it.
func ssiErrorPage(status string) string {
	return "<html>\r\n<head><title>" + status + "</title></head>\r\n<body>\r\n<center><h1>" + status +
		"</h1></center>\r\n<hr><center>SIG</center>\r\n</body>\r\n</html>\r\n"
}

// ssiNormalize replaces the signature of the error pages in a body.
func ssiNormalize(b []byte) string {
	return ssiSignature.ReplaceAllString(string(b), "<hr><center>SIG</center>")
}

// ssiCase is a page, the request target that asks for it, and the body
// nginx answers.
type ssiCase struct {
	name, file, page, target, want string
}

// ssiRun writes the pages of cases, asks for them all at once and checks
// each answer: 200 and the body expected.
func ssiRun(t *testing.T, p *proxy, cases []ssiCase) {
	t.Helper()
	for _, tc := range cases {
		if tc.page != "" {
			writeHTML(t, p, tc.file, tc.page)
		}
	}
	// The requests run side by side, so that answers that stall cost
	// one timeout, not one each.
	type result struct {
		r   *response
		err error
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ssiTry(p, tc.target)
			results[i] = result{r, err}
		}()
	}
	wg.Wait()
	for i, tc := range cases {
		r, err := results[i].r, results[i].err
		if err != nil {
			t.Errorf("%s: GET %s: %v", tc.name, tc.target, err)
			continue
		}
		if got := ssiNormalize(r.Body); r.Status != 200 || got != tc.want {
			if len(got) > 300 || len(tc.want) > 300 {
				t.Errorf("%s: GET %s: got %d with %d bytes, want 200 with %d bytes", tc.name, tc.target, r.Status, len(got), len(tc.want))
				continue
			}
			t.Errorf("%s: GET %s: got %d %q, want 200 %q", tc.name, tc.target, r.Status, got, tc.want)
		}
	}
}

// TestSSIEcho checks echo and set: a variable of the request, default=,
// "(none)" for a variable that does not exist, the three encodings and how
// one given stays for the echo commands that follow, set's value with
// variables in it, and $date_gmt in the format config timefmt= sets.
func TestSSIEcho(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
    }`)
		ssiRun(t, p, []ssiCase{
			{"a query argument, entity-encoded", "arg.html", `[<!--# echo var="arg_a" -->]`,
				"/arg.html?a=<b>%20c&b=B", "[&lt;b&gt;%20c]"},
			{"an empty argument is not replaced by default", "empty.html", `[<!--# echo var="arg_a" default="d" -->]`,
				"/empty.html?a=", "[]"},
			{"an unknown variable", "none.html", `[<!--# echo var="nosuch" -->]`,
				"/none.html", "[(none)]"},
			{"default for an unknown variable", "default.html", `[<!--# echo var="nosuch" default="dflt" -->]`,
				"/default.html", "[dflt]"},
			{"default for a missing argument", "default2.html", `[<!--# echo var="arg_zz" default="dflt" -->]`,
				"/default2.html?a=1", "[dflt]"},
			{"encodings, each kept for the echo commands after it", "enc.html",
				`<!--# set var="v" value="a<b>&'x y'\"q" -->` +
					`[<!--# echo var="v" -->]` +
					`[<!--# echo var="v" encoding="none" -->]` +
					`[<!--# echo var="v" -->]` +
					`[<!--# echo var="v" encoding="url" -->]` +
					`[<!--# echo var="v" -->]` +
					`[<!--# echo var="v" encoding="entity" -->]` +
					`[<!--# echo var="v" -->]`,
				"/enc.html",
				`[a&lt;b&gt;&amp;'x y'&quot;q]` +
					`[a<b>&'x y'"q]` +
					`[a<b>&'x y'"q]` +
					`[a%3Cb%3E&%27x%20y%27%22q]` +
					`[a%3Cb%3E&%27x%20y%27%22q]` +
					`[a&lt;b&gt;&amp;'x y'&quot;q]` +
					`[a&lt;b&gt;&amp;'x y'&quot;q]`},
			{"set with variables in the value", "set.html",
				`<!--# set var="w" value="pre-$arg_a-${arg_b}post" -->[<!--# echo var="w" encoding="none" -->]`,
				"/set.html?a=<b>%20c&b=B", "[pre-<b>%20c-Bpost]"},
			{"set replaces a value set before", "reset.html",
				`<!--# set var="w" value="one" --><!--# set var="w" value="two" -->[<!--# echo var="w" -->]`,
				"/reset.html", "[two]"},
		})

		// $date_gmt in the format "%Y": the current year, either of two
		// should the year change while the request runs.
		writeHTML(t, p, "date.html", `<!--# config timefmt="%Y" -->[<!--# echo var="date_gmt" -->]`)
		before := time.Now().UTC().Year()
		r := ssiGet(t, p, "/date.html")
		after := time.Now().UTC().Year()
		if got := string(r.Body); r.Status != 200 || (got != fmt.Sprintf("[%d]", before) && got != fmt.Sprintf("[%d]", after)) {
			t.Errorf("date_gmt with timefmt %%Y: got %d %q, want 200 [%d]", r.Status, got, after)
		}
	})
}

// TestSSIConditionals checks if, elif, else and endif: string comparison
// with = and !=, a regular expression and its captures (read by a later
// echo and a later set), a variable alone as the condition, and the
// branches not taken leaving nothing.
func TestSSIConditionals(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
    }`)
		ssiRun(t, p, []ssiCase{
			{"string equal", "eq.html",
				`<!--# set var="v" value="abc" --><!--# if expr="$v = abc" -->eq<!--# else -->ne<!--# endif -->`,
				"/eq.html", "eq"},
			{"string not equal", "ne.html",
				`<!--# set var="v" value="abd" --><!--# if expr="$v = abc" -->eq<!--# else -->ne<!--# endif -->`,
				"/ne.html", "ne"},
			{"elif with a regular expression and captures", "re.html",
				`<!--# set var="v" value="abc" -->` +
					`<!--# if expr="$v != abc" -->A<!--# elif expr="$v = /^a(b)(c)/" -->B<!--# else -->C<!--# endif -->` +
					`[<!--# echo var="1" -->][<!--# echo var="2" -->]` +
					`<!--# set var="c" value="$2-$1" -->[<!--# echo var="c" -->]`,
				"/re.html", "B[b][c][c-b]"},
			{"a regular expression that does not match, with !=", "nre.html",
				`<!--# set var="v" value="abc" --><!--# if expr="$v != /x/" -->nomatch<!--# endif -->`,
				"/nre.html", "nomatch"},
			{"an argument as the condition, set", "arg.html",
				`<!--# if expr="$arg_q" -->q-set<!--# else -->q-empty<!--# endif -->`,
				"/arg.html?q=1", "q-set"},
			{"an argument as the condition, absent", "arg2.html",
				`<!--# if expr="$arg_q" -->q-set<!--# else -->q-empty<!--# endif -->`,
				"/arg2.html", "q-empty"},
			{"the last elif", "chain.html",
				`<!--# set var="v" value="abc" -->` +
					`<!--# if expr="$v = /^(x)/" -->1<!--# elif expr="$v = ab" -->2<!--# elif expr="$v" -->3<!--# else -->4<!--# endif -->`,
				"/chain.html", "3"},
			{"commands in a branch not taken do nothing", "skip.html",
				`<!--# set var="v" value="1" -->` +
					`<!--# if expr="$v = 2" --><!--# set var="v" value="changed" -->x<!--# include virtual="/nosuch" --><!--# endif -->` +
					`[<!--# echo var="v" -->]`,
				"/skip.html", "[1]"},
		})
	})
}

// ssiIncludeConf has locations of each kind an include can reach: a
// static file, a return, a proxied location answered by a second server,
// and an internal location.
const ssiIncludeConf = ssiServer + `
        location /ret { return 200 "ret-body"; }
        location /up/ { proxy_pass http://127.0.0.1:{{PORT1}}/; }
        location /int/ { internal; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { return 200 "upstream $uri $args"; }
        location /files/ { root {{PREFIX}}/html; }
    }`

// TestSSIInclude checks include virtual= of each kind of location, a nested
// SSI file, a relative path, arguments, an internal location, a missing
// file (its 404 page is included), stub=, set= and wait="yes", and that
// include file= reads a file as a subrequest too. It also includes an SSI
// file larger than a buffer, from the disk and proxied, which the SSI
// stage of the include must take in more than one piece.
func TestSSIInclude(t *testing.T) {
	large := ssiBigBody(40 << 10)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiIncludeConf)
		writeHTML(t, p, "child.html", `(<!--# echo var="pv" --><!--# set var="cv" value="child" -->)`)
		writeHTML(t, p, "files/large.txt", large)
		writeHTML(t, p, "files/large.html", `<!--# echo var="arg_a" -->`+large+"END")
		writeHTML(t, p, "part.html", "static-part")
		writeHTML(t, p, "dir/part.html", "dir-part")
		writeHTML(t, p, "dir/page.html", `[dir-page <!--# include virtual="part.html" -->]`)
		writeHTML(t, p, "nested.html", `inner<!--# include virtual="/part.html" -->/inner`)
		writeHTML(t, p, "args.html", `a=<!--# echo var="arg_a" -->`)
		writeHTML(t, p, "int/p.html", "internal-part")
		ssiRun(t, p, []ssiCase{
			{"a static file", "i1.html", `1[<!--# include virtual="/part.html" -->]`, "/i1.html", "1[static-part]"},
			{"a return", "i2.html", `2[<!--# include virtual="/ret" -->]`, "/i2.html", "2[ret-body]"},
			{"a proxied location", "i3.html", `3[<!--# include virtual="/up/x?y=1" -->]`, "/i3.html", "3[upstream /x y=1]"},
			{"a nested SSI file", "i4.html", `4[<!--# include virtual="/nested.html" -->]`, "/i4.html", "4[innerstatic-part/inner]"},
			{"a relative path in an included file", "i5.html", `5[<!--# include virtual="/dir/page.html" -->]`, "/i5.html", "5[[dir-page dir-part]]"},
			{"a relative path in the main page", "", "", "/dir/page.html", "[dir-page dir-part]"},
			{"arguments", "i6.html", `6[<!--# include virtual="/args.html?a=1" -->]`, "/i6.html?a=main", "6[a=1]"},
			{"an internal location", "i7.html", `7[<!--# include virtual="/int/p.html" -->]`, "/i7.html", "7[internal-part]"},
			{"a missing file", "i8.html", `8[<!--# include virtual="/nosuch.html" -->]`, "/i8.html", "8[" + ssiErrorPage("404 Not Found") + "]"},
			{"stub= for a missing file", "i9.html",
				`<!--# block name="st" -->stub-text<!--# endblock -->9[<!--# include virtual="/nosuch.html" stub="st" -->]`,
				"/i9.html", "9[stub-text]"},
			{"stub= unused when the include has a body", "i9b.html",
				`<!--# block name="st" -->stub-text<!--# endblock -->9[<!--# include virtual="/part.html" stub="st" -->]`,
				"/i9b.html", "9[static-part]"},
			{"set=", "i10.html",
				`<!--# include virtual="/ret" set="r" -->10[<!--# echo var="r" -->]`,
				"/i10.html", "10[ret-body]"},
			{"set= of a proxied location", "i10b.html",
				`<!--# include virtual="/up/s" set="r" -->10[<!--# echo var="r" -->]`,
				"/i10b.html", "10[upstream /s ]"},
			{"wait=yes", "i11.html",
				`11[<!--# include virtual="/up/w" wait="yes" -->]<!--# include virtual="/part.html" -->`,
				"/i11.html", "11[upstream /w ]static-part"},
			{"file=", "i12.html", `12[<!--# include file="part.html" -->]`, "/i12.html", "12[static-part]"},
			{"several in one page", "i13.html",
				`<!--# include virtual="/up/a" -->|<!--# include virtual="/part.html" -->|<!--# include virtual="/ret" -->|<!--# include virtual="/nested.html" -->`,
				"/i13.html", "upstream /a |static-part|ret-body|innerstatic-part/inner"},
			{"a variable set by an include, read after wait=yes", "i16.html",
				`<!--# set var="pv" value="parent" --><!--# include virtual="/child.html" wait="yes" -->[<!--# echo var="cv" -->]`,
				"/i16.html", "(parent)[child]"},
			{"a variable set by an include, read in the same piece without wait", "i16b.html",
				`<!--# set var="pv" value="parent" --><!--# include virtual="/child.html" -->[<!--# echo var="cv" -->]`,
				"/i16b.html", "(parent)[(none)]"},
			{"a large file", "i17.html", `17[<!--# include virtual="/files/large.txt" -->]`,
				"/i17.html", "17[" + large + "]"},
			{"a large SSI file", "i14.html", `14[<!--# include virtual="/files/large.html?a=1" -->]`,
				"/i14.html", "14[1" + large + "END]"},
			{"a large SSI file, proxied", "i15.html", `15[<!--# include virtual="/up/files/large.html?a=1" -->]`,
				"/i15.html", "15[1" + large + "END]"},
		})

		// An internal location is reachable by an include only.
		if r := ssiGet(t, p, "/int/p.html"); r.Status != 404 {
			t.Errorf("GET of an internal location: got %d, want 404", r.Status)
		}
	})
}

// ssiSlowBody is what the slow upstream of TestSSIIncludeOrder answers for
// name: large enough to take more than one read.
func ssiSlowBody(name string) string {
	return "<" + name + ">" + strings.Repeat(name+"-", 8000) + "</" + name + ">"
}

// TestSSIIncludeOrder checks pages of several includes proxied to an
// upstream that answers them slowly, each after its own delay and in two
// writes: whatever order the answers end in, the page has them in the
// order of the commands, and all of it arrives. One page has more
// includes than a server may want to run at once, another has more than
// 64 KB of output (large static includes) waiting behind a slow include.
func TestSSIIncludeOrder(t *testing.T) {
	big := ssiBigBody(100 << 10)
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
			name, ms, _ := strings.Cut(strings.TrimPrefix(r.Target, "/"), "?d=")
			d, _ := strconv.Atoi(ms)
			body := ssiSlowBody(name)
			c.sleep(time.Duration(d/2) * time.Millisecond)
			c.writeString(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:len(body)/2]))
			c.sleep(time.Duration(d/2) * time.Millisecond)
			c.writeString(body[len(body)/2:])
		})
		p := startProxy(t, tg, ssiServer+`
        location /slow/ { proxy_pass http://`+up.addr+`/; }
    }`)
		writeHTML(t, p, "big.txt", big)

		var many, manyWant strings.Builder
		for i := 0; i < 40; i++ {
			fmt.Fprintf(&many, `<!--# include virtual="/slow/n%d?d=%d" -->,`, i, (40-i)*10)
			manyWant.WriteString(ssiSlowBody(fmt.Sprintf("n%d", i)) + ",")
		}
		for _, tc := range []struct {
			name, file, page, want string
		}{
			{"four includes", "order.html",
				`begin|<!--# include virtual="/slow/a?d=400" -->|<!--# include virtual="/slow/b?d=0" -->|mid|` +
					`<!--# include virtual="/slow/c?d=200" -->|<!--# include virtual="/slow/d?d=100" -->|end`,
				"begin|" + ssiSlowBody("a") + "|" + ssiSlowBody("b") + "|mid|" + ssiSlowBody("c") + "|" + ssiSlowBody("d") + "|end"},
			{"forty includes", "many.html", many.String() + "end", manyWant.String() + "end"},
			{"large output behind a slow include", "behind.html",
				`<!--# include virtual="/slow/w?d=400" -->|<!--# include virtual="/big.txt" -->|` +
					`<!--# include virtual="/big.txt" -->|<!--# include virtual="/big.txt" -->|end`,
				ssiSlowBody("w") + "|" + big + "|" + big + "|" + big + "|end"},
		} {
			writeHTML(t, p, tc.file, tc.page)
			r, err := ssiTry(p, "/"+tc.file)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if r.Status != 200 || !r.Chunked || string(r.Body) != tc.want {
				t.Errorf("%s: got %d, chunked %v, %d bytes, want 200 chunked %d bytes; body starts %q",
					tc.name, r.Status, r.Chunked, len(r.Body), len(tc.want), truncate(r.Body, 100))
			}
		}
		if n := len(up.requests()); n != 45 {
			t.Errorf("the upstream received %d requests, want 45", n)
		}
	})
}

// TestSSIHeaders checks the head and framing of an answer the SSI stage
// changes: no Content-Length, Accept-Ranges, Last-Modified or ETag, unless
// ssi_last_modified keeps Last-Modified and a weak ETag; a Range is
// ignored; chunked over HTTP/1.1, ended by the close over HTTP/1.0; HEAD
// gives the head alone. It also checks ssi_types, and the error text:
// nginx's default for each kind of invalid command, config errmsg=, and
// ssi_silent_errors.
func TestSSIHeaders(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
        location /lm/ { ssi_last_modified on; }
        location /txt/ { ssi_types text/plain; }
        location /silent/ { ssi_silent_errors on; }
    }`)
		writeHTML(t, p, "p.html", `p<!--# echo var="uri" -->`)
		writeHTML(t, p, "lm/p.html", `p<!--# echo var="uri" -->`)

		checkFilteredHeads(t, p, func(r *response) bool {
			return r.header("Accept-Ranges") == "" && r.header("Content-Type") == "text/html"
		}, []filteredHeadCase{
			{"HTTP/1.1", "GET /p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "p/p.html", true, false, false},
			{"a Range ignored", "GET /p.html HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n", "p/p.html", true, false, false},
			{"HTTP/1.0", "GET /p.html HTTP/1.0\r\n\r\n", "p/p.html", false, true, false},
			{"HEAD", "HEAD /p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", false, false, false},
			{"ssi_last_modified", "GET /lm/p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "p/lm/p.html", true, false, true},
			{"ssi_last_modified, HEAD", "HEAD /lm/p.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "", false, false, true},
		})

		const e = "[an error occurred while processing the directive]"
		writeHTML(t, p, "txt/t.txt", `x<!--# echo var="arg_a" -->y`)
		writeHTML(t, p, "t.txt", `x<!--# echo var="arg_a" -->y`)
		writeHTML(t, p, "silent/e.html", `a<!--# include -->b<!--# foo -->c`)
		ssiRun(t, p, []ssiCase{
			{"ssi_types text/plain", "", "", "/txt/t.txt?a=1", "x1y"},
			{"text/plain not processed by default", "", "", "/t.txt?a=1", `x<!--# echo var="arg_a" -->y`},
			{"an unknown command", "e1.html", `1<!--# foo -->2`, "/e1.html", "1" + e + "2"},
			{"a parameter missing", "e2.html", `1<!--# echo -->2`, "/e2.html", "1" + e + "2"},
			{"include without a source", "e3.html", `1<!--# include -->2`, "/e3.html", "1" + e + "2"},
			{"a value not quoted", "e4.html", `1<!--# echo var=x -->2`, "/e4.html", "1" + e + "2"},
			{"an unknown parameter", "e5.html", `1<!--# echo var="arg_a" bogus="1" -->2`, "/e5.html?a=A", "1" + e + "2"},
			{"endif out of place", "e6.html", `1<!--# endif -->2`, "/e6.html", "1" + e + "2"},
			{"else out of place", "e7.html", `1<!--# else -->2`, "/e7.html", "1" + e + "2"},
			{"a broken end up to the next end", "e8.html", "1<!--# echo var=\"arg_a\" -- >x\ny -->2", "/e8.html?a=A", "1" + e + "2"},
			{"no space after the command", "e9.html", `1<!--#echo var="arg_a"-->2`, "/e9.html?a=A", "1A2"},
			{"a plain comment kept", "e10.html", `1<!-- c -->2`, "/e10.html", "1<!-- c -->2"},
			{"config errmsg", "e11.html", `1<!--# foo --><!--# config errmsg="E" -->2<!--# foo -->3`, "/e11.html", "1" + e + "2E3"},
			{"ssi_silent_errors", "", "", "/silent/e.html", "abc"},
		})
	})
}

// filteredHeadCase is a request for an answer a body filter changes, and
// what its head and body must be: framing, and whether Last-Modified
// and a weak ETag are kept (the filter's *_last_modified).
type filteredHeadCase struct {
	name, req, body  string
	chunked, closing bool
	lastModified     bool
}

// checkFilteredHeads sends each request and checks the head of a
// filtered answer: 200, the body, its framing, no Content-Length, the
// validators as the case says, and what more the filter asks (more).
func checkFilteredHeads(t *testing.T, p *proxy, more func(*response) bool, cases []filteredHeadCase) {
	t.Helper()
	for _, tc := range cases {
		r := sendRaw(t, p.addr, tc.req)
		bad := r.Status != 200 || string(r.Body) != tc.body || r.Chunked != tc.chunked || r.CloseDelimited != tc.closing ||
			r.header("Content-Length") != "" || !more(r)
		if tc.lastModified {
			bad = bad || r.header("Last-Modified") == "" || !strings.HasPrefix(r.header("ETag"), `W/"`)
		} else {
			bad = bad || r.header("Last-Modified") != "" || r.header("ETag") != ""
		}
		if bad {
			t.Errorf("%s:\n%s", tc.name, r)
		}
	}
}

// TestSSISetTooLarge checks include set= of an answer larger than
// subrequest_output_buffer_size, one memory page by default (100 KB is
// more than any): the request fails with "too big subrequest response"
// logged and, nothing of the page having been sent, the connection closes
// without an answer.
func TestSSISetTooLarge(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
    }`)
		writeHTML(t, p, "big.txt", ssiBigBody(100<<10))
		writeHTML(t, p, "set.html", `[<!--# include virtual="/big.txt" set="v" -->]<!--# echo var="v" -->`)
		r, err := ssiTry(p, "/set.html")
		switch {
		case err == nil:
			t.Errorf("got an answer, want the connection closed without one:\n%s", r)
		case r != nil:
			t.Errorf("got part of an answer (%v), want the connection closed without one:\n%s", err, r)
		case !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET):
			t.Errorf("got %v, want the connection closed without an answer", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for !strings.Contains(p.readLog("error.log"), "too big subrequest response") {
			if time.Now().After(deadline) {
				t.Errorf("no \"too big subrequest response\" line in the error log")
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// ssiGunzipOne decompresses b, which must be a single gzip stream with
// nothing after it: a body compressed in pieces would be several.
func ssiGunzipOne(b []byte) (string, error) {
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return "", err
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		return string(out), err
	}
	if br.Len() != 0 {
		return string(out), fmt.Errorf("%d bytes after the first gzip stream", br.Len())
	}
	return string(out), nil
}

// TestSSIGzip checks gzip on top of SSI: the processed page, with what its
// includes (a static file, an SSI file, a proxied location) gave, goes out
// as one gzip stream; the includes' output is not compressed on its own.
func TestSSIGzip(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
        gzip on;
        gzip_min_length 1;
        location /up/ { proxy_pass http://127.0.0.1:{{PORT1}}/; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        root {{PREFIX}}/html;
    }`)
		part := strings.Repeat("static part text ", 500)
		writeHTML(t, p, "part.html", part)
		writeHTML(t, p, "nested.html", `n[<!--# echo var="arg_a" -->]`)
		writeHTML(t, p, "page.html", `head|<!--# include virtual="/part.html" -->|<!--# include virtual="/nested.html?a=1" -->|`+
			`<!--# include virtual="/up/part.html" -->|tail`)
		want := "head|" + part + "|n[1]|" + part + "|tail"
		r := ssiGet(t, p, "/page.html", "Accept-Encoding: gzip")
		got, err := ssiGunzipOne(r.Body)
		if r.Status != 200 || r.header("Content-Encoding") != "gzip" || r.header("Content-Length") != "" || err != nil || got != want {
			t.Errorf("gzip: %v; decompressed %d bytes, want %d; answer:\n%s", err, len(got), len(want), r)
		}
		r = ssiGet(t, p, "/page.html")
		if r.Status != 200 || r.header("Content-Encoding") != "" || string(r.Body) != want {
			t.Errorf("without Accept-Encoding:\n%s", r)
		}
	})
}

// ssiBigBody is a text of about n bytes made of numbered lines, so that a
// piece lost, doubled or moved shows.
func ssiBigBody(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %06d of the large included file\n", i)
	}
	return b.String()
}

// TestSSISlowReader checks a page that includes a large file, from the
// disk and through a proxied location, read by a client with a small
// receive buffer that reads in small pieces with pauses: the SSI stage
// must wait for the client and the whole page arrive intact. The included
// file is text/plain, which the includes pass on as it is, or text/html,
// which their own SSI stage processes.
func TestSSISlowReader(t *testing.T) {
	big := ssiBigBody(300 << 10)
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    types { text/html html; }
    server {
        listen 127.0.0.1:{{PORT}} sndbuf=16k;
        root {{PREFIX}}/html;
        ssi on;
        location /up/ { proxy_pass http://127.0.0.1:{{PORT1}}/; }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        root {{PREFIX}}/html;
    }`)
		writeHTML(t, p, "big.txt", big)
		writeHTML(t, p, "big.html", big)
		writeHTML(t, p, "txt.html", `head[<!--# include virtual="/big.txt" -->]mid[<!--# include virtual="/up/big.txt" -->]tail`)
		writeHTML(t, p, "html.html", `head[<!--# include virtual="/big.html" -->]mid[<!--# include virtual="/up/big.html" -->]tail`)
		want := "head[" + big + "]mid[" + big + "]tail"
		for _, page := range []string{"/txt.html", "/html.html"} {
			c := slowConn(t, p.addr, "GET "+page+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 4096)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			time.Sleep(300 * time.Millisecond)
			var raw bytes.Buffer
			buf := make([]byte, 8<<10)
			var rerr error
			for {
				n, err := c.Read(buf)
				raw.Write(buf[:n])
				if err != nil {
					if err != io.EOF {
						rerr = err
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			r, err := readResponse(bufio.NewReader(&raw), "GET")
			if rerr != nil || err != nil {
				t.Errorf("%s: reading: %v; parsing: %v; %d bytes arrived", page, rerr, err, raw.Len())
				continue
			}
			if r.Status != 200 || !r.Chunked || string(r.Body) != want {
				t.Errorf("%s: got %d, chunked %v, %d bytes (intact: %v), want 200 chunked %d bytes",
					page, r.Status, r.Chunked, len(r.Body), string(r.Body) == want, len(want))
			}
		}
	})
}

// ssiLogClean fails the test when the error log or the standard error of
// the process shows a crash or an alert.
func ssiLogClean(t *testing.T, p *proxy) {
	t.Helper()
	for _, f := range []string{"error.log", "stderr.log"} {
		for _, line := range strings.Split(p.readLog(f), "\n") {
			if strings.Contains(line, "panic") || strings.Contains(line, "[alert]") || strings.Contains(line, "[emerg]") {
				t.Errorf("%s: %s", f, line)
			}
		}
	}
}

// TestSSIClientAbort checks a client that closes its connection while an
// include is still waiting for a slow upstream: once the upstream is done
// with it, the server answers ordinary requests and SSI pages as before,
// and has logged no crash or alert.
func TestSSIClientAbort(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		done := make(chan struct{}, 4)
		up := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
			defer func() { done <- struct{}{} }()
			if strings.HasPrefix(r.Target, "/slow") {
				c.sleep(1500 * time.Millisecond)
			}
			c.respond(200, "up "+r.Target)
		})
		p := startProxy(t, tg, ssiServer+`
        location /up/ { proxy_pass http://`+up.addr+`/; }
        location /ret { return 200 "ret-body"; }
    }`)
		writeHTML(t, p, "plain.txt", "plain")
		writeHTML(t, p, "slow.html", `before<!--# include virtual="/ret" -->|<!--# include virtual="/up/slow" -->after`)
		writeHTML(t, p, "fast.html", `before<!--# include virtual="/ret" -->|<!--# include virtual="/up/fast" -->after`)

		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /slow.html HTTP/1.1\r\nHost: h\r\n\r\n")
		up.waitForRequest()
		if len(up.requests()) == 0 {
			t.Fatal("the include never reached the upstream")
		}
		c.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream's handler did not end")
		}
		time.Sleep(100 * time.Millisecond)

		if r := ssiGet(t, p, "/plain.txt"); r.Status != 200 || string(r.Body) != "plain" {
			t.Errorf("a static file after the abort:\n%s", r)
		}
		if r := ssiGet(t, p, "/fast.html"); r.Status != 200 || string(r.Body) != "beforeret-body|up /fastafter" {
			t.Errorf("an SSI page after the abort:\n%s", r)
		}
		ssiLogClean(t, p)
	})
}

// TestSSIIncludeCycle checks a page that includes itself: the server stops
// the cycle at nginx's limit of nested subrequests and answers 200 with
// the levels it made.
func TestSSIIncludeCycle(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, ssiServer+`
    }`)
		writeHTML(t, p, "cycle.html", `x<!--# include virtual="/cycle.html" -->y`)
		r := ssiGet(t, p, "/cycle.html")
		// 51 levels of includes are made, and the 52nd page's include
		// is refused with the error text.
		want := strings.Repeat("x", 52) + "[an error occurred while processing the directive]" + strings.Repeat("y", 52)
		if r.Status != 200 || string(r.Body) != want {
			t.Errorf("got %d with %q, want 200 with %q", r.Status, truncate(r.Body, 200), want)
		}
		if r := ssiGet(t, p, "/cycle.html"); r.Status != 200 {
			t.Errorf("again: got %d", r.Status)
		}
		ssiLogClean(t, p)
	})
}
