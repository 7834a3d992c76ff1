package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tempBudgetBench is a worker that may hold one temporary file, in front
// of an upstream that answers with the length of the body it received.
// Bodies beyond 1 KiB go to a file; /a waits long for its body, /b little.
func tempBudgetBench(t *testing.T) *bench {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	})
	b := newBench(t, `
		client_body_buffer_size 1k;
		client_header_buffer_size 1k;
		server {
			listen 127.0.0.1:0;
			location /a { proxy_pass http://`+up+`; client_body_timeout 10s; }
			location /b { proxy_pass http://`+up+`; client_body_timeout 150ms; }
		}`)
	b.do(func() { b.w.tempBudget = 1 })
	return b
}

// TestBodyWaitsForTemporaryFile checks that a body that needs a temporary
// file while the worker holds its budget of them waits, reading nothing
// more, and goes on whole once the file in use is closed.
func TestBodyWaitsForTemporaryFile(t *testing.T) {
	b := tempBudgetBench(t)
	first := b.connect()
	first.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("a", 3000))
	second := b.connect()
	second.send("POST /b1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("b", 4000))
	var open int
	var waiting int
	b.do(func() { open, waiting = b.w.tempOpen, len(b.w.tempWaiters) })
	if open != 1 || waiting != 1 {
		t.Fatalf("%d files open and %d bodies waiting, want 1 and 1", open, waiting)
	}
	if got := b.srv.Snapshot().Buffering.TempFileWaits; got != 1 {
		t.Errorf("temp_file_waits = %d, want 1", got)
	}
	first.send(strings.Repeat("a", 1000))
	if resp := first.response("POST"); resp.StatusCode != 200 || bodyOf(resp) != "4000" {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := second.response("POST")
	if body := bodyOf(resp); resp.StatusCode != 200 || body != "4000" {
		t.Fatalf("second: %d %q, want 200 \"4000\"", resp.StatusCode, body)
	}
	b.do(func() { open = b.w.tempOpen })
	if open != 0 {
		t.Errorf("%d temporary files open after both requests, want 0", open)
	}
}

// TestTemporaryFileWaitTimesOut checks that a body that finds no
// temporary file within client_body_timeout is answered 503 with
// Retry-After: the server lacked capacity, the client was not slow.
func TestTemporaryFileWaitTimesOut(t *testing.T) {
	b := tempBudgetBench(t)
	first := b.connect()
	first.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("a", 3000))
	second := b.connect()
	second.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("b", 4000))
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, closed := second.state()
		if strings.HasPrefix(string(out), "HTTP/1.1 503") {
			if !strings.Contains(string(out), "\r\nRetry-After: 1\r\n") {
				t.Errorf("503 without Retry-After: %q", out)
			}
			break
		}
		if closed || strings.Contains(string(out), "\r\n\r\n") || time.Now().After(deadline) {
			t.Fatalf("no 503 for the waiting body; the client has %q", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var waiting int
	b.do(func() { waiting = len(b.w.tempWaiters) })
	if waiting != 0 {
		t.Errorf("%d bodies still waiting after the 503", waiting)
	}
	first.send(strings.Repeat("a", 1000))
	if resp := first.response("POST"); resp.StatusCode != 200 || bodyOf(resp) != "4000" {
		t.Fatalf("first: %d", resp.StatusCode)
	}
}

// TestWaitingBodyClientLeaves checks that a client that closes while its
// body waits for a temporary file leaves the wait.
func TestWaitingBodyClientLeaves(t *testing.T) {
	b := tempBudgetBench(t)
	first := b.connect()
	first.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("a", 3000))
	second := b.connect()
	second.send("POST /b1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("b", 4000))
	second.shutWrite()
	second.waitClosed()
	var waiting int
	b.do(func() { waiting = len(b.w.tempWaiters) })
	if waiting != 0 {
		t.Errorf("%d bodies still waiting after their client left", waiting)
	}
}

// bodyOf returns a response's body as text.
func bodyOf(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
