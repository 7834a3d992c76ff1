package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The balancing methods that choose by the client or by a key (ip_hash,
// hash, hash consistent) are deterministic, so headroom must choose the
// very server nginx chooses. TestBalancingMethodsMatchNginx runs both in
// front of the same upstream servers, each answering its own name, and
// compares the choice for many clients and keys. least_conn and random
// depend on timing or chance; their tests check the behaviour on each
// target alone, with bounds wide enough for any honest run.

// bmGet sends one GET for path to addr from the local address from (any
// address of 127.0.0.0/8 is usable on Linux loopback; empty for the
// system's choice) and returns the first word of the answer's body, the
// name of the upstream server that answered.
func bmGet(from, addr, path string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("dial %s from %s: %v", addr, from, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", path)
	resp, err := readResponse(bufio.NewReader(c), "GET")
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %v", path, from, err)
	}
	if resp.Status != 200 {
		return "", fmt.Errorf("GET %s from %s: status %d", path, from, resp.Status)
	}
	return server(string(resp.Body)), nil
}

// bmAsk is bmGet for the test's own goroutine: an error ends the test.
func bmAsk(t *testing.T, from, addr, path string) string {
	t.Helper()
	name, err := bmGet(from, addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// bmPair returns the nginx and headroom targets, skipping the test when
// either is missing or not selected.
func bmPair(t *testing.T) (ng, hr *target) {
	t.Helper()
	for _, tg := range targets {
		switch {
		case tg.isNginx():
			ng = tg
		case tg.isHeadroom():
			hr = tg
		}
	}
	if ng == nil {
		ng = nginxTarget()
	}
	ng.require(t)
	if hr == nil {
		t.Skipf("the headroom target is not selected (%s=%s)", envTargets, os.Getenv(envTargets))
	}
	hr.require(t)
	return ng, hr
}

// TestBalancingMethodsMatchNginx checks that ip_hash, hash and hash
// consistent send each client and key to the server nginx sends it to.
// The group has weights and a down server, so the weight arithmetic and
// nginx's rehashing past an unusable server are compared too.
func TestBalancingMethodsMatchNginx(t *testing.T) {
	t.Parallel()
	ng, hr := bmPair(t)

	var ups []*upstream
	for i := 1; i <= 6; i++ {
		ups = append(ups, newUpstream(t, fmt.Sprintf("s%d", i), nil))
	}
	// The same servers, written the same way, for both proxies: the
	// consistent hash ring is built from the servers as written.
	servers := fmt.Sprintf(`
        server %s weight=2;
        server %s;
        server %s down;
        server %s weight=3;
        server %s;
        server %s max_fails=0;`, ups[0].addr, ups[1].addr, ups[2].addr, ups[3].addr, ups[4].addr, ups[5].addr)
	config := fmt.Sprintf(`
    upstream by_ip {
        ip_hash;%[1]s
    }
    upstream by_key {
        hash $arg_k;%[1]s
    }
    upstream by_ring {
        hash "$arg_k" consistent;%[1]s
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /ip { proxy_pass http://by_ip; }
        location /key { proxy_pass http://by_key; }
        location /ring { proxy_pass http://by_ring; }
    }`, servers)
	pn := startProxy(t, ng, config)
	ph := startProxy(t, hr, config)

	compare := func(t *testing.T, what string, from, path string, chosen map[string]int) {
		t.Helper()
		want := bmAsk(t, from, pn.addr, path)
		got := bmAsk(t, from, ph.addr, path)
		if got != want {
			t.Errorf("%s: nginx chose %s, headroom %s", what, want, got)
		}
		chosen[want]++
	}
	// Agreement means little if the clients or keys all land on one
	// server: every usable server must have been chosen, and the down
	// one never.
	spread := func(t *testing.T, chosen map[string]int) {
		t.Helper()
		t.Logf("nginx's choices: %v", chosen)
		if chosen["s3"] > 0 {
			t.Errorf("the down server was chosen %d times", chosen["s3"])
		}
		for _, name := range []string{"s1", "s2", "s4", "s5", "s6"} {
			if chosen[name] == 0 {
				t.Errorf("server %s was never chosen: %v", name, chosen)
			}
		}
	}

	t.Run("ip_hash", func(t *testing.T) {
		// ip_hash uses the first three octets: vary them, and check that
		// the fourth does not matter.
		chosen := map[string]int{}
		for a := 0; a < 16; a++ {
			for b := 0; b < 16; b++ {
				from := fmt.Sprintf("127.%d.%d.%d", a*16+1, b*16, 1+(a+b)%200)
				compare(t, "client "+from, from, "/ip/", chosen)
			}
		}
		spread(t, chosen)
	})
	keys := []string{"a", "b", "user42", "%2Fitem%2F7", strings.Repeat("x", 300)}
	for i := 0; i < 250; i++ {
		keys = append(keys, fmt.Sprintf("key-%d", i*7919))
	}
	t.Run("hash", func(t *testing.T) {
		chosen := map[string]int{}
		for _, k := range keys {
			compare(t, "key "+k, "", "/key/?k="+k, chosen)
		}
		spread(t, chosen)
	})
	t.Run("hash consistent", func(t *testing.T) {
		chosen := map[string]int{}
		for _, k := range keys {
			compare(t, "key "+k, "", "/ring/?k="+k, chosen)
		}
		spread(t, chosen)
	})
}

// TestBalancingLeastConnSlowServer checks least_conn on each target: with
// requests in parallel, a server that takes long to answer holds its
// connections and is given fewer requests than a quick one. Round robin
// would give each half.
func TestBalancingLeastConnSlowServer(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		slow := newUpstream(t, "slow", func(c *upConn, r *upRequest) {
			c.sleep(300 * time.Millisecond)
			c.respond(200, "slow "+r.Target+"\n")
		})
		quick := newUpstream(t, "quick", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        least_conn;
        server %s;
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://u; }
    }`, slow.addr, quick.addr))

		const clients, each = 6, 10
		var mu sync.Mutex
		count := map[string]int{}
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					name, err := bmGet("", p.addr, "/")
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					count[name]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		total := clients * each
		if count["slow"]+count["quick"] != total {
			t.Fatalf("answers %v, want %d from the two servers", count, total)
		}
		if count["slow"] >= total/4 {
			t.Errorf("the slow server got %d of %d requests (quick: %d); least_conn should give it far fewer than round robin's half",
				count["slow"], total, count["quick"])
		}
	})
}

// TestBalancingRandomDistribution checks random on each target, roughly:
// with weights 1 and 3 the heavier server gets about three quarters of
// sequential requests. With "random two" and no connection open, the
// second server drawn wins the tie, as in nginx, and must differ from the
// first, so the lighter server gets about three quarters instead.
func TestBalancingRandomDistribution(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		light := newUpstream(t, "light", nil)
		heavy := newUpstream(t, "heavy", nil)
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream one {
        random;
        server %[1]s;
        server %[2]s weight=3;
    }
    upstream two {
        random two least_conn;
        server %[1]s;
        server %[2]s weight=3;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /one { proxy_pass http://one; }
        location /two { proxy_pass http://two; }
    }`, light.addr, heavy.addr))

		const n = 400
		share := func(path string) float64 {
			heavyCount := 0
			for i := 0; i < n; i++ {
				if bmAsk(t, "", p.addr, path) == "heavy" {
					heavyCount++
				}
			}
			return float64(heavyCount) / n
		}
		// Expected 0.75 and 0.25; n=400 gives a standard deviation of
		// about 0.02, so these bounds are many deviations wide.
		if s := share("/one"); s < 0.6 || s > 0.9 {
			t.Errorf("random: the weight=3 server got %.2f of the requests, want about 0.75", s)
		}
		if s := share("/two"); s < 0.1 || s > 0.4 {
			t.Errorf("random two: the weight=3 server got %.2f of the requests, want about 0.25", s)
		}
	})
}

// TestBalancingFailedServersStayOut checks on each target that servers
// that failed stay out for their fail_timeout even when every one of them
// did: nginx 1.22 answers "no live upstreams" rather than forgetting the
// failures to try them again.
func TestBalancingFailedServersStayOut(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, fmt.Sprintf(`
    upstream u {
        least_conn;
        server %s;
        server %s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://u; }
    }`, refusedAddr(t), refusedAddr(t)))
		for i := 0; i < 4; i++ {
			if st, _ := get1(t, p, "GET", fmt.Sprintf("/r%d", i)); st != 502 {
				t.Fatalf("request %d: status %d, want 502", i, st)
			}
		}
		errs := p.readLog("error.log")
		if n := strings.Count(errs, "(111: Connection refused)"); n != 2 {
			t.Errorf("%d refused connections logged, want 2 (both servers, first request only)", n)
		}
		if n := strings.Count(errs, "no live upstreams"); n != 3 {
			t.Errorf("%d \"no live upstreams\" logged, want 3 (every request after the first); log:\n%s", n, errs)
		}
	})
}
