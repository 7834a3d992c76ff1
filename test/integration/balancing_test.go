package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// get1 sends one GET on a fresh connection and returns status and body.
func get1(t *testing.T, p *proxy, method, path string) (int, string) {
	t.Helper()
	req := method + " " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
	if method == "POST" {
		req += "Content-Length: 4\r\n\r\ndata"
	} else {
		req += "\r\n"
	}
	resp := sendRaw(t, p.addr, req)
	return resp.Status, string(resp.Body)
}

// server returns the name of the upstream that answered (the first word of
// the default handler's body).
func server(body string) string {
	name, _, _ := strings.Cut(body, " ")
	return name
}

// TestNextUpstream checks proxy_next_upstream: a refused server is skipped
// for the next one; a request that was sent and then failed is retried
// only when idempotent (a POST is not, and gets 502); and
// proxy_next_upstream_tries / off limit the attempts.
func TestNextUpstream(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		good := newUpstream(t, "good", nil)
		good2 := newUpstream(t, "good2", nil)
		// Reads the request, then closes without answering.
		dropper := newUpstream(t, "dropper", func(c *upConn, r *upRequest) { c.closeNow() })
		dead := refusedAddr(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream refused_first {
        server %[1]s;
        server %[2]s;
    }
    upstream dropper_first {
        server %[3]s;
        server %[4]s;
    }
    upstream tries {
        server %[1]s;
        server %[2]s;
    }
    upstream off {
        server %[1]s;
        server %[2]s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /refused/ { proxy_pass http://refused_first; }
        location /dropper/ { proxy_pass http://dropper_first; }
        location /tries/ { proxy_pass http://tries; proxy_next_upstream_tries 1; }
        location /off/ { proxy_pass http://off; proxy_next_upstream off; }
    }`, dead, good.addr, dropper.addr, good2.addr))

		t.Run("refused", func(t *testing.T) {
			for i := 0; i < 4; i++ {
				st, body := get1(t, p, "GET", "/refused/x")
				if st != 200 || server(body) != "good" {
					t.Errorf("request %d: %d %q, want 200 from good", i, st, body)
				}
			}
		})

		t.Run("idempotent retried", func(t *testing.T) {
			st, body := get1(t, p, "GET", "/dropper/get")
			if st != 200 || server(body) != "good2" {
				t.Fatalf("GET: %d %q, want 200 from good2", st, body)
			}
			if n := len(dropper.requests()); n != 1 {
				t.Errorf("dropper got %d requests, want 1", n)
			}
		})

		t.Run("POST not retried", func(t *testing.T) {
			// The shared group's dropper is now marked failed (default
			// max_fails=1), so use a fresh group, whose first pick is
			// its first server.
			dropper2 := newUpstream(t, "dropper2", func(c *upConn, r *upRequest) { c.closeNow() })
			good3 := newUpstream(t, "good3", nil)
			p2 := startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        server %s;
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://u; }
    }`, dropper2.addr, good3.addr))
			st, body := get1(t, p2, "POST", "/post")
			if st != 502 {
				t.Errorf("POST: %d %q, want 502 (non-idempotent, not retried)", st, body)
			}
			if n := len(dropper2.requests()); n != 1 {
				t.Errorf("dropper got %d requests, want 1", n)
			}
			if n := good3.connCount(); n != 0 {
				t.Errorf("the second server got %d connections for a POST that was already sent", n)
			}
		})

		t.Run("tries 1", func(t *testing.T) {
			st, _ := get1(t, p, "GET", "/tries/1")
			if st != 502 {
				t.Errorf("first request: %d, want 502 (first server refused, no second try)", st)
			}
			// The refused server is now marked failed and skipped.
			st, body := get1(t, p, "GET", "/tries/2")
			if st != 200 || server(body) != "good" {
				t.Errorf("second request: %d %q, want 200 from good", st, body)
			}
		})

		t.Run("off", func(t *testing.T) {
			st, _ := get1(t, p, "GET", "/off/1")
			if st != 502 {
				t.Errorf("first request: %d, want 502", st)
			}
		})
	})
}

// TestMaxFails checks failure accounting: with max_fails=1 a failed server
// is skipped until fail_timeout has passed; with max_fails=0 it keeps
// being tried in turn.
func TestMaxFails(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		// Accepts and closes at once: a failure that is counted on the
		// failing server.
		bad1 := newUpstream(t, "bad1", func(c *upConn, r *upRequest) { c.closeNow() })
		good1 := newUpstream(t, "good1", nil)
		bad0 := newUpstream(t, "bad0", func(c *upConn, r *upRequest) { c.closeNow() })
		good0 := newUpstream(t, "good0", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream counted {
        server %s max_fails=1 fail_timeout=3s;
        server %s;
    }
    upstream uncounted {
        server %s max_fails=0;
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /counted/ { proxy_pass http://counted; }
        location /uncounted/ { proxy_pass http://uncounted; }
    }`, bad1.addr, good1.addr, bad0.addr, good0.addr))

		for i := 0; i < 6; i++ {
			if st, body := get1(t, p, "GET", "/counted/x"); st != 200 || server(body) != "good1" {
				t.Fatalf("counted %d: %d %q", i, st, body)
			}
			if st, body := get1(t, p, "GET", "/uncounted/x"); st != 200 || server(body) != "good0" {
				t.Fatalf("uncounted %d: %d %q", i, st, body)
			}
		}
		if n := bad1.connCount(); n != 1 {
			t.Errorf("max_fails=1: failing server tried %d times in 6 requests, want 1", n)
		}
		// Round robin keeps alternating to the failing server.
		if n := bad0.connCount(); n != 3 {
			t.Errorf("max_fails=0: failing server tried %d times in 6 requests, want 3", n)
		}
		// fail_timeout is 3s so that the 12 requests above fit in it
		// even on a loaded machine; it is measured in whole seconds.
		// Once it has passed the server is eligible again, but its
		// failure also dropped its effective weight to 0, which
		// recovers by one per selection round: with nginx's smooth
		// round robin it is picked again on the third request.
		time.Sleep(4100 * time.Millisecond)
		for i := 0; i < 3; i++ {
			if st, body := get1(t, p, "GET", "/counted/x"); st != 200 || server(body) != "good1" {
				t.Fatalf("after fail_timeout %d: %d %q", i, st, body)
			}
			if n, want := bad1.connCount(), 1+i/2; n != want {
				t.Errorf("after fail_timeout, request %d: failed server tried %d times in all, want %d", i, n, want)
			}
		}
	})
}

// TestBalancing checks round robin with weights (nginx's smooth weighted
// order), backup servers and "down".
func TestBalancing(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		a := newUpstream(t, "a", nil)
		b := newUpstream(t, "b", nil)
		c := newUpstream(t, "c", nil)
		primary := newUpstream(t, "primary", nil)
		backup := newUpstream(t, "backup", nil)
		backup2 := newUpstream(t, "backup2", nil)
		downed := newUpstream(t, "downed", nil)
		live := newUpstream(t, "live", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream weighted {
        server %s weight=3;
        server %s;
    }
    upstream equal {
        server %s;
        server %s;
        server %s;
    }
    upstream with_backup {
        server %s;
        server %s backup;
    }
    upstream dead_primary {
        server %s;
        server %s backup;
    }
    upstream with_down {
        server %s down;
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /weighted/ { proxy_pass http://weighted; }
        location /equal/ { proxy_pass http://equal; }
        location /backup/ { proxy_pass http://with_backup; }
        location /dead/ { proxy_pass http://dead_primary; }
        location /down/ { proxy_pass http://with_down; }
    }`, a.addr, b.addr, a.addr, b.addr, c.addr,
			primary.addr, backup.addr, refusedAddr(t), backup2.addr, downed.addr, live.addr))

		order := func(path string, n int) string {
			var names []string
			for i := 0; i < n; i++ {
				st, body := get1(t, p, "GET", path)
				if st != 200 {
					t.Fatalf("%s: status %d", path, st)
				}
				names = append(names, server(body))
			}
			return strings.Join(names, ",")
		}

		if got, want := order("/weighted/", 8), "a,a,b,a,a,a,b,a"; got != want {
			t.Errorf("weight=3 vs 1: order %s, want %s", got, want)
		}
		if got, want := order("/equal/", 6), "a,b,c,a,b,c"; got != want {
			t.Errorf("equal weights: order %s, want %s", got, want)
		}
		if got := order("/backup/", 4); got != "primary,primary,primary,primary" {
			t.Errorf("with a live primary: %s, want the backup unused", got)
		}
		if backup.connCount() != 0 {
			t.Errorf("backup server got %d connections", backup.connCount())
		}
		if got := order("/dead/", 3); got != "backup2,backup2,backup2" {
			t.Errorf("with the primary refusing: %s, want the backup", got)
		}
		if got := order("/down/", 4); got != "live,live,live,live" {
			t.Errorf("with a down server: %s", got)
		}
		if downed.connCount() != 0 {
			t.Errorf("server marked down got %d connections", downed.connCount())
		}
	})
}
