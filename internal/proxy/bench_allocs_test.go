package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestBenchRequestAllocations checks the allocation budget of a
// keep-alive request that headroom answers itself: none, but for the one
// slice of indexes that Go's regexp makes for each match whose groups are
// kept as captures (it has no call that fills a slice given). Each request is
// run on the worker's loop, as an event does, fifty times over once its
// buffers have grown, and the process's allocations are counted around
// them; nothing else runs meanwhile but the runtime, so a request that
// allocates shows as at least one allocation per request. The proxied
// request's share (the balancer) is checked in internal/upstream.
func TestBenchRequestAllocations(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "1k.bin"), bytes.Repeat([]byte("x"), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBench(t, fmt.Sprintf(`
	access_log off;
	map $arg_k $mapped { default none; key1 v1; key2 v2; }
	server {
		listen 127.0.0.1:0;
		server_name example.com *.example.org;
		root %s;
		location /files/ { alias %s/; }
		location ~ ^/item/(?<id>\d+)$ {
			if ($http_x_a) { return 403; }
			if ($arg_k != "key2") { return 403; }
			if ($http_user_agent ~* "badbot") { return 403; }
			return 200 "item $id $mapped\n";
		}
	}`, root, root))
	const runs = 50
	for _, tc := range []struct {
		name, target, want string
		allocs             float64
	}{
		{"static file", "/1k.bin", "HTTP/1.1 200 OK\r\n", 0},
		{"alias", "/files/1k.bin", "HTTP/1.1 200 OK\r\n", 0},
		{"if, map and return", "/item/12?k=key2", "item 12 v2\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := b.connect()
			req := []byte("GET " + tc.target + " HTTP/1.1\r\nHost: www.Example.org\r\nUser-Agent: test\r\n\r\n")
			allocs, out := countAllocations(b, m, req, runs)
			if !bytes.Contains(out, []byte(tc.want)) {
				t.Fatalf("the last answer %q has no %q", out, tc.want)
			}
			if per := float64(allocs) / runs; per >= tc.allocs+0.5 {
				t.Errorf("%.1f allocations per request (%d in %d), want %v", per, allocs, runs, tc.allocs)
			}
		})
	}
}

// TestBenchCacheHitAllocations checks the allocation budget of a
// keep-alive request answered from proxy_cache (a HIT), counted as
// TestBenchRequestAllocations counts them, once the answer is stored:
// none (the key is made in the request's kept buffer, the file's path on
// the stack, its Last-Modified read without time.Parse).
func TestBenchCacheHitAllocations(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
		w.Write(bytes.Repeat([]byte("x"), 1024))
	})
	b := newBench(t, fmt.Sprintf(`
	access_log off;
	proxy_cache_path %s/cache levels=1:2 keys_zone=z:1m;
	server {
		listen 127.0.0.1:0;
		location / {
			proxy_pass http://%s;
			proxy_cache z;
			proxy_cache_valid 200 1h;
		}
	}`, t.TempDir(), up))
	m := b.connect()
	req := []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := m.roundTrip(string(req)); resp.StatusCode != 200 {
		t.Fatalf("the first answer: %d", resp.StatusCode)
	}
	const runs = 50
	allocs, out := countAllocations(b, m, req, runs)
	if !bytes.Contains(out, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(out, bytes.Repeat([]byte("x"), 1024)) {
		t.Fatalf("the last answer is not the stored one: %q", out)
	}
	if per := float64(allocs) / runs; per >= 0.5 {
		t.Errorf("%.1f allocations per HIT (%d in %d), want none", per, allocs, runs)
	}
}

// countAllocations serves req on m once, then runs times, on the worker's
// loop as an event does, and counts the process's allocations around the
// runs; it returns them and the last answer.
func countAllocations(b *bench, m *memConn, req []byte, runs int) (allocs uint64, out []byte) {
	b.do(func() {
		m.mt.out = make([]byte, 0, 8<<10)
		in := make([]byte, 0, len(req))
		serve := func() {
			// Reading leaves in empty at its end: the request is
			// copied in again from the start.
			m.mt.in = append(in, req...)
			m.mt.out = m.mt.out[:0]
			m.readEvent()
		}
		serve()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			serve()
		}
		runtime.ReadMemStats(&after)
		allocs = after.Mallocs - before.Mallocs
		out = bytes.Clone(m.mt.out)
	})
	return allocs, out
}
