package upstream

import (
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
)

func group(servers ...*conf.UpstreamServer) *Group {
	for _, s := range servers {
		if s.Weight == 0 {
			s.Weight = 1
		}
		if s.FailTimeout == 0 {
			s.FailTimeout = 10 * time.Second
		}
	}
	u := &conf.Upstream{Name: "u", Servers: servers}
	return NewGroup(u, NewShared(u))
}

func srv(name string, weight, maxFails int) *conf.UpstreamServer {
	return &conf.UpstreamServer{Addr: name, Name: name, Weight: weight, MaxFails: maxFails}
}

// sequence picks n times without failures and returns the servers' names.
func sequence(g *Group, n int) string {
	now := time.Unix(1000, 0)
	var names []string
	for i := 0; i < n; i++ {
		var t Tried
		p := g.Pick(now, &t)
		if p == nil {
			names = append(names, "-")
			continue
		}
		names = append(names, p.Conf.Name)
		g.Success(p, now)
	}
	return strings.Join(names, " ")
}

func TestSmoothWeightedRoundRobin(t *testing.T) {
	tests := []struct {
		name    string
		servers []*conf.UpstreamServer
		n       int
		want    string
	}{
		// nginx's documented smooth sequence for weights 5, 1, 1.
		{"weights 5 1 1", []*conf.UpstreamServer{srv("a", 5, 1), srv("b", 1, 1), srv("c", 1, 1)}, 7, "a a b a c a a"},
		{"equal weights rotate", []*conf.UpstreamServer{srv("a", 1, 1), srv("b", 1, 1), srv("c", 1, 1)}, 6, "a b c a b c"},
		{"weights 3 1", []*conf.UpstreamServer{srv("a", 3, 1), srv("b", 1, 1)}, 8, "a a b a a a b a"},
		{"down is skipped", []*conf.UpstreamServer{srv("a", 1, 1), {Addr: "b", Name: "b", Weight: 1, MaxFails: 1, Down: true}}, 3, "a a a"},
		{"backup unused while primaries live", []*conf.UpstreamServer{srv("a", 1, 1), {Addr: "b", Name: "b", Weight: 1, MaxFails: 1, Backup: true}}, 3, "a a a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sequence(group(tc.servers...), tc.n); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMaxFailsTakesServerOutForFailTimeout(t *testing.T) {
	g := group(srv("a", 1, 1), srv("b", 1, 1))
	now := time.Unix(1000, 0)
	var tried Tried
	a := g.Pick(now, &tried)
	if a.Conf.Name != "a" {
		t.Fatalf("first pick %s, want a", a.Conf.Name)
	}
	g.Fail(a, now)
	for i := 0; i < 4; i++ {
		var t2 Tried
		if p := g.Pick(now.Add(time.Second), &t2); p.Conf.Name != "b" {
			t.Fatalf("pick %d within fail_timeout: %s, want b", i, p.Conf.Name)
		}
	}
	// After fail_timeout the server is tried again.
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		var t2 Tried
		p := g.Pick(now.Add(11*time.Second), &t2)
		seen[p.Conf.Name] = true
		g.Success(p, now.Add(11*time.Second))
	}
	if !seen["a"] {
		t.Fatalf("server a not tried again after fail_timeout")
	}
}

func TestBackupUsedWhenPrimariesFail(t *testing.T) {
	g := group(srv("a", 1, 1), &conf.UpstreamServer{Addr: "b", Name: "b", Weight: 1, MaxFails: 1, Backup: true})
	now := time.Unix(1000, 0)
	var tried Tried
	a := g.Pick(now, &tried)
	tried.Mark(a)
	g.Fail(a, now)
	b := g.Pick(now, &tried)
	if b == nil || b.Conf.Name != "b" {
		t.Fatalf("after the primary failed got %v, want backup b", b)
	}
	tried.Mark(b)
	if p := g.Pick(now, &tried); p != nil {
		t.Fatalf("with every server tried got %s, want none", p.Conf.Name)
	}
}

func TestTriedServersAreNotPickedAgain(t *testing.T) {
	g := group(srv("a", 1, 1), srv("b", 1, 1), srv("c", 1, 1))
	now := time.Unix(1000, 0)
	var tried Tried
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		p := g.Pick(now, &tried)
		if p == nil || seen[p.Conf.Name] {
			t.Fatalf("pick %d: %v (seen %v)", i, p, seen)
		}
		seen[p.Conf.Name] = true
		tried.Mark(p)
	}
	if p := g.Pick(now, &tried); p != nil {
		t.Fatalf("fourth pick returned %s, want none", p.Conf.Name)
	}
}

func TestSingleServerIgnoresFailures(t *testing.T) {
	g := group(srv("a", 1, 1))
	now := time.Unix(1000, 0)
	var tried Tried
	a := g.Pick(now, &tried)
	g.Fail(a, now)
	var t2 Tried
	if p := g.Pick(now, &t2); p == nil {
		t.Fatal("a lone server must stay in use after a failure, as in nginx")
	}
}

func TestMaxConns(t *testing.T) {
	g := group(&conf.UpstreamServer{Addr: "a", Name: "a", Weight: 1, MaxFails: 1, MaxConns: 1}, srv("b", 1, 1))
	now := time.Unix(1000, 0)
	var tried Tried
	a := g.Pick(now, &tried)
	if !g.Shared.TryAcquire(a.Server) {
		t.Fatal("could not take a place below max_conns")
	}
	if g.Shared.TryAcquire(a.Server) {
		t.Fatal("took a second place at max_conns=1")
	}
	for i := 0; i < 3; i++ {
		var t2 Tried
		if p := g.Pick(now, &t2); p == nil || p == a {
			t.Fatalf("server at max_conns was picked")
		}
	}
}
