package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestBenchServesReturnAndKeepsAlive(t *testing.T) {
	b := newBench(t, `server { listen 127.0.0.1:0; location / { return 200 "hello\n"; } }`)
	m := b.connect()
	for i := 0; i < 3; i++ {
		resp, body := m.roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || body != "hello\n" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if _, closed := m.state(); closed {
		t.Fatal("keep-alive connection closed")
	}
}

func TestBenchProxies(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.Write([]byte(strings.Repeat("x", 100000)))
	})
	b := newBench(t, `server { listen 127.0.0.1:0; location / { proxy_pass http://`+up+`; } }`)
	m := b.connect()
	resp, body := m.roundTrip("GET /a/b HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("X-Path") != "/a/b" || len(body) != 100000 {
		t.Fatalf("%d %v %d bytes", resp.StatusCode, resp.Header, len(body))
	}
}
