package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
)

// TestCacheWriterTempBudget checks that the file an answer is stored
// through counts in the worker's budget of temporary files: its place is
// given back once the answer is stored, and with the budget in use the
// answer is passed on without being stored; and that the figures count
// the requests by their status.
func TestCacheWriterTempBudget(t *testing.T) {
	var n atomic.Int32
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write([]byte("answer"))
	})
	b := newBench(t, `
	proxy_cache_path `+t.TempDir()+` keys_zone=z:1m;
	server {
		listen 127.0.0.1:0;
		location / {
			proxy_pass http://`+up+`;
			proxy_cache z;
			proxy_cache_valid 200 1h;
			add_header X-Cache-Status $upstream_cache_status;
		}
	}`)
	get := func(path string) string {
		t.Helper()
		m := b.connect()
		resp, body := m.roundTrip("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
		if body != "answer" {
			t.Fatalf("GET %s: body %q", path, body)
		}
		return resp.Header.Get("X-Cache-Status")
	}
	tempOpen := func() (open int) {
		b.do(func() { open = b.w.tempOpen })
		return open
	}
	if st := get("/a"); st != "MISS" {
		t.Fatalf("first: %s", st)
	}
	if open := tempOpen(); open != 0 {
		t.Errorf("%d temporary files counted open after the answer was stored, want 0", open)
	}
	if st := get("/a"); st != "HIT" {
		t.Errorf("second: %s, want HIT", st)
	}
	// Every place in the budget taken: /b is passed on, not stored.
	b.do(func() { b.w.tempBudget, b.w.tempOpen = 1, 1 })
	if st := get("/b"); st != "MISS" {
		t.Errorf("with the budget in use: %s", st)
	}
	b.do(func() { b.w.tempBudget, b.w.tempOpen = 0, 0 })
	if st := get("/b"); st != "MISS" {
		t.Errorf("after: %s, want MISS (not stored before)", st)
	}
	if st := get("/b"); st != "HIT" {
		t.Errorf("then: %s, want HIT", st)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("the upstream had %d requests, want 3", got)
	}
	// The figures count each request by its $upstream_cache_status.
	snap := b.srv.Snapshot()
	if len(snap.Caches) != 1 {
		t.Fatalf("%d caches in the figures, want 1", len(snap.Caches))
	}
	if st := snap.Caches[0].Statuses; st["MISS"] != 3 || st["HIT"] != 2 || snap.Caches[0].Stored != 2 {
		t.Errorf("figures %v, %d stored; want 3 MISS, 2 HIT, 2 stored", st, snap.Caches[0].Stored)
	}
}
