package proxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"headroom/internal/engine"
)

// These tests hold what SSI's includes do on the worker that nginx's
// suite cannot see: that they run side by side and still come out in
// order, how many run at once, and that their slots come back.

// clientSlots returns the worker's client slots in use.
func clientSlots(b *bench) (n int) {
	b.do(func() { n = b.w.loop.InUse(engine.KindClient) })
	return n
}

// TestSSIIncludesRunTogether checks that the includes of a page are in
// progress at once, as nginx's subrequests are, and that their answers
// come out in the order of the commands although the last is answered
// first. The upstream answers none until all three asked: includes made
// one after the other would each wait for the barrier's timeout and say
// "late".
func TestSSIIncludesRunTogether(t *testing.T) {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == 3 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(2 * time.Second):
			w.Write([]byte("late"))
			return
		}
		// The first include is answered last.
		n := r.URL.Path[len(r.URL.Path)-1] - '0'
		time.Sleep(time.Duration(3-n) * 20 * time.Millisecond)
		w.Write([]byte("up" + string('0'+n)))
	})
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /page {
			ssi on;
			default_type text/html;
			return 200 'A<!--#include virtual="/up/1" -->B<!--#include virtual="/up/2" -->C<!--#include virtual="/up/3" -->D';
		}
		location /up/ { proxy_pass http://`+up+`; }
	}`)
	before := clientSlots(b)
	m := b.connect()
	resp, body := m.roundTrip("GET /page HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp.StatusCode != 200 || body != "Aup1Bup2Cup3D" {
		t.Fatalf("%d %q, want the includes in order, none late", resp.StatusCode, body)
	}
	// The page's own connection stays; its includes' slots are back.
	b.eventually("include slots given back", func() bool { return clientSlots(b) == before+1 })
}

// TestSSIIncludesInProgressBounded checks that at most ssiMaxInflight
// includes of one page run at once, and that a page with more still
// gets all of them, in order.
func TestSSIIncludesInProgressBounded(t *testing.T) {
	var now, most atomic.Int32
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		now.Add(-1)
		w.Write([]byte(strings.TrimPrefix(r.URL.Path, "/up/") + ","))
	})
	const includes = 24
	var page, want strings.Builder
	for i := 0; i < includes; i++ {
		fmt.Fprintf(&page, `<!--#include virtual="/up/%d" -->`, i)
		fmt.Fprintf(&want, "%d,", i)
	}
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /page {
			ssi on;
			default_type text/html;
			return 200 '`+page.String()+`';
		}
		location /up/ { proxy_pass http://`+up+`; }
	}`)
	m := b.connect()
	_, body := m.roundTrip("GET /page HTTP/1.1\r\nHost: h\r\n\r\n")
	if body != want.String() {
		t.Fatalf("body %q, want %q", body, want.String())
	}
	if got := most.Load(); got > ssiMaxInflight || got < 2 {
		t.Errorf("%d includes in progress at most, want between 2 and %d", got, ssiMaxInflight)
	}
}

// TestSSIClientGoneEndsIncludes checks that a client that goes away while
// its page waits for an include ends the include too: its slot comes
// back, and the worker goes on serving.
func TestSSIClientGoneEndsIncludes(t *testing.T) {
	release := make(chan struct{})
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.Write([]byte("slow"))
	})
	t.Cleanup(func() { close(release) })
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /page {
			ssi on;
			default_type text/html;
			return 200 'A<!--#include virtual="/up/slow" -->B';
		}
		location = /fast { return 200 "fast"; }
		location /up/ { proxy_pass http://`+up+`; }
	}`)
	before := clientSlots(b)
	m := b.connect()
	m.send("GET /page HTTP/1.1\r\nHost: h\r\n\r\n")
	b.eventually("the include in progress", func() bool { return clientSlots(b) == before+2 })
	m.shutWrite()
	b.eventually("the page and its include ended", func() bool { return clientSlots(b) == before })
	if _, body := b.connect().roundTrip("GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"); body != "fast" {
		t.Fatalf("after: %q", body)
	}
}

// TestSSIFailedIncludeBeforeOutput checks that an include whose answer
// fails before the page sent anything (a body too big for set=) ends the
// page without an answer, as nginx sends a head only with the first
// output.
func TestSSIFailedIncludeBeforeOutput(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 400)))
	})
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /page {
			ssi on;
			default_type text/html;
			return 200 '<!--#include virtual="/up/long" set="x" -->set: <!--#echo var="x" -->';
		}
		location /up/ { proxy_pass http://`+up+`; subrequest_output_buffer_size 42; }
	}`)
	m := b.connect()
	m.send("GET /page HTTP/1.1\r\nHost: h\r\n\r\n")
	if out := m.waitClosed(); len(out) != 0 {
		t.Fatalf("sent %q, want nothing", out)
	}
	b.waitErrorLog("too big subrequest response: 400")
}

// TestSSIInclude101WithBytes checks an include whose upstream switches
// protocols and sends bytes of the new protocol at once: a subrequest
// does not upgrade, so the 101 is an answer without a body, the bytes
// are not its body, and the page ends (the loop once spun on those
// bytes with nowhere to put them).
func TestSSIInclude101WithBytes(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nbar"))
		time.Sleep(time.Second)
	})
	b := newBench(t, `server {
		listen 127.0.0.1:0;
		location = /page {
			ssi on;
			default_type text/html;
			return 200 'A<!--#include virtual="/up" -->B';
		}
		location /up { proxy_pass http://`+up+`; proxy_http_version 1.1; }
		location = /fast { return 200 "fast"; }
	}`)
	for _, req := range []string{
		"GET /page HTTP/1.1\r\nHost: h\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n",
		"GET /page HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		m := b.connect()
		m.send(req)
		m.waitEnded()
	}
	if _, body := b.connect().roundTrip("GET /fast HTTP/1.1\r\nHost: h\r\n\r\n"); body != "fast" {
		t.Errorf("after: %q", body)
	}
}
