package proxy

import (
	"net/http"
	"testing"
	"time"

	"headroom/internal/h2"
)

// TestH2ShedIdle checks that under pressure an HTTP/2 connection without
// a stream in progress gives its slot up like an idle keep-alive client
// (GOAWAY, then closed at once), while one whose stream waits for its
// upstream keeps it.
func TestH2ShedIdle(t *testing.T) {
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("late"))
	})
	defer close(release)
	b := newH2Bench(t, `location = /r { return 200 "ok"; } location /slow { proxy_pass http://`+up+`; }`)

	idle := dialH2(b)
	idle.send(idle.get(1, "GET", "/r"))
	idle.waitFor("the answer", func() bool { return idle.ended(1) })

	busy := dialH2(b)
	busy.send(busy.get(1, "GET", "/slow"))
	time.Sleep(50 * time.Millisecond)

	// Two clients wait: both connections are candidates if they may be.
	b.do(func() { b.w.shed(2, b.w.loop.Now().Add(time.Second)) })

	if code := idle.goAway(); code != h2.NoError {
		t.Errorf("the idle connection's GOAWAY has %v, want NO_ERROR", code)
	}
	if _, closed, _ := idle.state(); !closed {
		t.Errorf("the idle connection still holds its slot")
	}
	if _, closed, _ := busy.state(); closed {
		t.Errorf("the connection whose stream waits for its upstream was closed")
	}
	if busy.count(h2.TypeGoAway) != 0 {
		t.Errorf("the busy connection got a GOAWAY")
	}
}
