package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// payload returns n deterministic pseudo-random bytes.
func payload(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// chunk encodes b as chunks of random sizes (with one chunk extension).
func chunk(b []byte, seed int64) string {
	r := rand.New(rand.NewSource(seed))
	var s strings.Builder
	first := true
	for len(b) > 0 {
		n := 1 + r.Intn(40000)
		if n > len(b) {
			n = len(b)
		}
		if first {
			fmt.Fprintf(&s, "%x;ext=1\r\n", n)
			first = false
		} else {
			fmt.Fprintf(&s, "%x\r\n", n)
		}
		s.Write(b[:n])
		s.WriteString("\r\n")
		b = b[n:]
	}
	s.WriteString("0\r\n\r\n")
	return s.String()
}

// TestRequestBodies checks that request bodies reach the upstream intact:
// Content-Length bodies up to client_max_body_size, and chunked bodies,
// whose framing towards the upstream depends on buffering (see below).
func TestRequestBodies(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			sum := sha256.Sum256(r.Body)
			c.respond(200, fmt.Sprintf("%d %x", len(r.Body), sum[:8]))
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%[1]s; }
        location /v11/ { proxy_pass http://%[1]s; proxy_http_version 1.1; }
        location /stream/ { proxy_pass http://%[1]s; proxy_http_version 1.1; proxy_request_buffering off; }
        location /small/ { proxy_pass http://%[1]s; client_max_body_size 10; }
        location /unlimited/ { proxy_pass http://%[1]s; client_max_body_size 0; }
    }`, up.addr))

		want := func(b []byte) string {
			sum := sha256.Sum256(b)
			return fmt.Sprintf("%d %x", len(b), sum[:8])
		}

		t.Run("content-length 1MB", func(t *testing.T) {
			// 1m is the default client_max_body_size, and the limit
			// is inclusive.
			body := payload(1<<20, 1)
			rc := dialRaw(t, p.addr)
			rc.write(fmt.Sprintf("POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body)))
			rc.write(string(body))
			resp := rc.read("POST")
			if resp.Status != 200 || string(resp.Body) != want(body) {
				t.Fatalf("got %d %q, want 200 %q", resp.Status, resp.Body, want(body))
			}
			ur := up.lastRequest()
			if ur.Headers.get("Content-Length") != strconv.Itoa(len(body)) || ur.Chunked {
				t.Errorf("upstream framing:\n%s", ur)
			}
		})

		t.Run("content-length over default limit", func(t *testing.T) {
			n := 1<<20 + 1
			// The body is never sent: nginx keeps reading (lingering
			// close) until the client is done, then closes.
			resp, closed := sendRawLinger(t, p.addr, fmt.Sprintf("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", n))
			if resp.Status != 413 || resp.StatusLine != "HTTP/1.1 413 Request Entity Too Large" {
				t.Errorf("got %q, want 413 Request Entity Too Large", resp.StatusLine)
			}
			if resp.header("Connection") != "close" || !closed {
				t.Errorf("413 must close the connection: closed=%v\n%s", closed, resp.Headers)
			}
		})

		t.Run("client_max_body_size", func(t *testing.T) {
			resp := sendRaw(t, p.addr, "POST /small/ok HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789")
			if resp.Status != 200 {
				t.Errorf("10 bytes with limit 10: status %d", resp.Status)
			}
			resp = sendRaw(t, p.addr, "POST /small/big HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n0123456789a")
			if resp.Status != 413 {
				t.Errorf("11 bytes with limit 10: status %d, want 413", resp.Status)
			}
			resp = sendRaw(t, p.addr, "POST /small/chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n")
			if resp.Status != 413 {
				t.Errorf("chunked 16 bytes with limit 10: status %d, want 413", resp.Status)
			}
			body := payload(2<<20, 2)
			rc := dialRaw(t, p.addr)
			rc.write(fmt.Sprintf("POST /unlimited/x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body)))
			rc.write(string(body))
			if resp := rc.read("POST"); resp.Status != 200 || string(resp.Body) != want(body) {
				t.Errorf("client_max_body_size 0 with 2MB: got %d %q", resp.Status, resp.Body)
			}
		})

		t.Run("chunked", func(t *testing.T) {
			body := payload(300<<10, 3)
			for _, loc := range []string{"/", "/v11/", "/stream/"} {
				rc := dialRaw(t, p.addr)
				rc.write("POST " + loc + "chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
				rc.write(chunk(body, 4))
				resp := rc.read("POST")
				if resp.Status != 200 || string(resp.Body) != want(body) {
					t.Errorf("%s: got %d %q, want 200 %q", loc, resp.Status, resp.Body, want(body))
					continue
				}
				ur := up.lastRequest()
				if ur.Headers.has("Transfer-Encoding") && !ur.Chunked {
					t.Errorf("%s: upstream Transfer-Encoding %q", loc, ur.Headers.get("Transfer-Encoding"))
				}
				// Framing towards the upstream: the whole body is
				// read first (proxy_request_buffering on) and sent
				// with Content-Length; with buffering off and
				// HTTP/1.1 it is chunked again as it streams. An
				// HTTP/1.0 upstream (location /) cannot take chunks
				// and always gets a Content-Length.
				wantChunked := loc == "/stream/"
				if ur.Chunked != wantChunked {
					t.Errorf("%s: upstream chunked=%v, want %v\n%s", loc, ur.Chunked, wantChunked, ur)
				}
				if !wantChunked && ur.Headers.get("Content-Length") != strconv.Itoa(len(body)) {
					t.Errorf("%s: upstream Content-Length %q, want %d", loc, ur.Headers.get("Content-Length"), len(body))
				}
			}
		})

		t.Run("chunked trailer", func(t *testing.T) {
			resp := sendRaw(t, p.addr, "POST /v11/tr HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != want([]byte("abc")) {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
		})
	})
}

// TestResponseBodies checks how upstream response bodies are relayed:
// chunked (re-chunked for HTTP/1.1 clients, close-delimited for HTTP/1.0
// ones), close-delimited, a large body, and bodiless statuses.
func TestResponseBodies(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		big := payload(10<<20, 5)
		bigSum := sha256.Sum256(big)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		}))
		t.Cleanup(hs.Close)
		hsAddr := strings.TrimPrefix(hs.URL, "http://")

		chunks := []string{"first chunk\n", strings.Repeat("x", 5000), "\nlast\n"}
		chunkedBody := strings.Join(chunks, "")
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			switch {
			case strings.HasPrefix(r.Target, "/chunked"):
				c.writeString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
				for _, ch := range chunks {
					c.writeString(fmt.Sprintf("%x\r\n%s\r\n", len(ch), ch))
					time.Sleep(20 * time.Millisecond)
				}
				c.writeString("0\r\n\r\n")
			case strings.HasPrefix(r.Target, "/eof"):
				c.writeString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
				c.writeString("close-delimited ")
				time.Sleep(20 * time.Millisecond)
				c.writeString("body\n")
				c.closeNow()
			case strings.HasPrefix(r.Target, "/204"):
				c.writeString("HTTP/1.1 204 No Content\r\nX-Up: 204\r\n\r\n")
			case strings.HasPrefix(r.Target, "/304"):
				c.writeString("HTTP/1.1 304 Not Modified\r\nETag: \"e1\"\r\nX-Up: 304\r\n\r\n")
			default:
				c.respond(200, "ok")
			}
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; proxy_http_version 1.1; }
        location /big { proxy_pass http://%s; }
    }`, up.addr, hsAddr))

		t.Run("chunked", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != chunkedBody || !resp.Chunked {
				t.Fatalf("got chunked=%v\n%s", resp.Chunked, resp)
			}
			if resp.Headers.has("Content-Length") {
				t.Errorf("Content-Length with chunked response")
			}
			// The connection stays usable.
			if resp := rc.roundTrip("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"); string(resp.Body) != "ok" {
				t.Errorf("next request: %s", resp)
			}
		})

		t.Run("chunked to HTTP/1.0 client", func(t *testing.T) {
			resp, closed := sendRawClose(t, p.addr, "GET /chunked HTTP/1.0\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != chunkedBody || resp.Chunked || !resp.CloseDelimited || !closed {
				t.Errorf("want a close-delimited body, got chunked=%v closed=%v\n%s", resp.Chunked, closed, resp)
			}
		})

		t.Run("close-delimited", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip("GET /eof HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != "close-delimited body\n" {
				t.Fatalf("got\n%s", resp)
			}
			// An HTTP/1.1 client gets the unknown-length body chunked
			// and keeps its connection.
			if !resp.Chunked || resp.header("Connection") != "keep-alive" {
				t.Errorf("want chunked keep-alive response, got chunked=%v\n%s", resp.Chunked, resp.Headers)
			}
			if resp := rc.roundTrip("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"); string(resp.Body) != "ok" {
				t.Errorf("next request: %s", resp)
			}
		})

		t.Run("10MB", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			rc.c.SetDeadline(time.Now().Add(30 * time.Second))
			rc.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
			r, err := readResponse(rc.br, "GET")
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if r.Status != 200 || len(r.Body) != len(big) || sha256.Sum256(r.Body) != bigSum {
				t.Fatalf("got status %d, %d bytes (want %d, intact)", r.Status, len(r.Body), len(big))
			}
			if r.header("Content-Length") != strconv.Itoa(len(big)) {
				t.Errorf("Content-Length %q", r.header("Content-Length"))
			}
		})

		t.Run("10MB net/http client", func(t *testing.T) {
			resp, err := httpClient().Get(p.url("/big"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if err != nil || n != int64(len(big)) || !bytes.Equal(h.Sum(nil), bigSum[:]) {
				t.Errorf("read %d bytes (%v), want %d intact", n, err, len(big))
			}
		})

		t.Run("no body", func(t *testing.T) {
			rc := dialRaw(t, p.addr)
			for _, tc := range []struct {
				path   string
				status int
			}{{"/204", 204}, {"/304", 304}} {
				resp := rc.roundTrip("GET " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
				if resp.Status != tc.status || resp.header("X-Up") != strconv.Itoa(tc.status) {
					t.Errorf("%s: got\n%s", tc.path, resp)
				}
				if resp.Headers.has("Transfer-Encoding") {
					t.Errorf("%s: Transfer-Encoding %q on a bodiless response", tc.path, resp.header("Transfer-Encoding"))
				}
			}
			// Nothing extra may follow the bodiless responses.
			if resp := rc.roundTrip("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"); resp.Status != 200 || string(resp.Body) != "ok" {
				t.Errorf("next request: %s", resp)
			}
			resp := rc.roundTrip("HEAD /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 {
				t.Errorf("HEAD: %s", resp)
			}
			if resp := rc.roundTrip("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"); resp.Status != 200 || string(resp.Body) != "ok" {
				t.Errorf("request after HEAD: %s", resp)
			}
		})
	})
}

// TestExpectContinue checks "Expect: 100-continue": the client gets
// "100 Continue" before sending the body, then the final response; the
// Expect header is not forwarded; a body over the limit is refused without
// 100 Continue.
func TestExpectContinue(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, "got "+string(r.Body))
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%s; }
        location /small/ { proxy_pass http://%s; client_max_body_size 4; }
    }`, up.addr, up.addr))

		rc := dialRaw(t, p.addr)
		rc.write("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
		interim := rc.read("POST")
		if interim.StatusLine != "HTTP/1.1 100 Continue" || len(interim.Headers) != 0 {
			t.Fatalf("want a bare HTTP/1.1 100 Continue, got\n%s", interim)
		}
		rc.write("hello world")
		resp := rc.read("POST")
		if resp.Status != 200 || string(resp.Body) != "got hello world" {
			t.Fatalf("final response:\n%s", resp)
		}
		if ur := up.lastRequest(); ur.Headers.has("Expect") {
			t.Errorf("upstream received Expect: %q", ur.Headers.get("Expect"))
		}

		// Too large: the final status comes at once.
		resp, closed := sendRawLinger(t, p.addr, "POST /small/x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
		if resp.Status != 413 || !closed {
			t.Errorf("want 413 without 100 Continue and a closed connection, got closed=%v\n%s", closed, resp)
		}

		// HTTP/1.0 clients get no 100 Continue.
		rc = dialRaw(t, p.addr)
		rc.write("POST /old HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
		if resp := rc.read("POST"); resp.Status != 200 || string(resp.Body) != "got hi" {
			t.Errorf("HTTP/1.0 with Expect: got\n%s", resp)
		}
	})
}
