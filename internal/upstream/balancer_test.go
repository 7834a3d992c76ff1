package upstream

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
)

// upstreamOf builds a configuration with nginx's defaults for the fields
// a test leaves out.
func upstreamOf(method conf.BalanceMethod, servers ...*conf.UpstreamServer) *conf.Upstream {
	for _, s := range servers {
		if s.Weight == 0 {
			s.Weight = 1
		}
		if s.FailTimeout == 0 {
			s.FailTimeout = 10 * time.Second
		}
		if s.Name == "" {
			s.Name = s.Addr
		}
	}
	return &conf.Upstream{Name: "u", Servers: servers, Balance: method}
}

func group(servers ...*conf.UpstreamServer) *Group {
	u := upstreamOf(conf.BalanceRoundRobin, servers...)
	return NewGroup(u, NewShared(u))
}

func methodGroup(method conf.BalanceMethod, servers ...*conf.UpstreamServer) *Group {
	u := upstreamOf(method, servers...)
	return NewGroup(u, NewShared(u))
}

func srv(name string, weight, maxFails int) *conf.UpstreamServer {
	return &conf.UpstreamServer{Addr: name, Name: name, Weight: weight, MaxFails: maxFails}
}

var t0 = time.Unix(1000, 0)

// try picks a server for a fresh request, marks it tried and, as a
// finished request does, gives its place back. It returns the server's
// name, or "-" when none was picked.
func try(g *Group, now time.Time, key Key) string {
	var t Tried
	p := g.Pick(now, &t, key)
	if p == nil {
		return "-"
	}
	t.Mark(p)
	g.Success(p, now)
	p.Active++
	g.Release(p)
	return p.Conf.Name
}

// sequence picks n times without failures and returns the servers' names.
func sequence(g *Group, n int) string {
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, try(g, t0, Key{}))
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
		{"down is skipped", []*conf.UpstreamServer{srv("a", 1, 1), {Addr: "b", Weight: 1, MaxFails: 1, Down: true}}, 3, "a a a"},
		{"backup unused while primaries live", []*conf.UpstreamServer{srv("a", 1, 1), {Addr: "b", Weight: 1, MaxFails: 1, Backup: true}}, 3, "a a a"},
		{"every server down", []*conf.UpstreamServer{{Addr: "a", Down: true}, {Addr: "b", Down: true}}, 2, "- -"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sequence(group(tc.servers...), tc.n); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDistributionByWeight checks that over many requests every method
// gives each server its share by weight: exactly for round robin and for
// least_conn with no connection open (which then ties and falls to round
// robin), within a tenth for the methods that hash or draw.
func TestDistributionByWeight(t *testing.T) {
	const n = 6000
	tests := []struct {
		name      string
		method    conf.BalanceMethod
		consist   bool
		key       func(i int) Key
		tolerance float64
	}{
		{"round robin", conf.BalanceRoundRobin, false, nil, 0},
		{"least_conn", conf.BalanceLeastConn, false, nil, 0},
		{"ip_hash", conf.BalanceIPHash, false, func(i int) Key { return Key{Addr: v4(10, byte(i>>8), byte(i), 1)} }, 0.1},
		{"hash", conf.BalanceHash, false, func(i int) Key { return Key{Value: []byte("/item/" + itoa(i))} }, 0.1},
		{"hash consistent", conf.BalanceHash, true, func(i int) Key { return Key{Value: []byte("/item/" + itoa(i))} }, 0.1},
		{"random", conf.BalanceRandom, false, nil, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := upstreamOf(tc.method, srv("10.0.0.1:80", 1, 1), srv("10.0.0.2:80", 2, 1), srv("10.0.0.3:80", 3, 1))
			u.Consistent = tc.consist
			g := NewGroup(u, NewShared(u))
			if r, ok := g.Balancer.(*random); ok {
				// A fixed seed keeps the draw, and so the test, the same.
				r.rnd = rand.New(rand.NewPCG(1, 2))
			}
			count := map[string]int{}
			for i := 0; i < n; i++ {
				var k Key
				if tc.key != nil {
					k = tc.key(i)
				}
				count[try(g, t0, k)]++
			}
			t.Logf("%v", count)
			for _, s := range u.Servers {
				want := float64(n) * float64(s.Weight) / 6
				got := float64(count[s.Name])
				if got < want*(1-tc.tolerance) || got > want*(1+tc.tolerance) {
					t.Errorf("%s (weight %d): %v of %d requests, want %v (±%v%%); all: %v",
						s.Name, s.Weight, got, n, want, tc.tolerance*100, count)
				}
			}
		})
	}
}

func TestMaxFailsTakesServerOutForFailTimeout(t *testing.T) {
	for _, method := range []conf.BalanceMethod{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceRandom} {
		t.Run(method.String(), func(t *testing.T) {
			g := methodGroup(method, srv("a", 1, 1), srv("b", 1, 1))
			a := g.Peer(0)
			g.Fail(a, t0)
			if a.FailedUntil(t0.Add(time.Second)) != t0.Add(10*time.Second) {
				t.Fatalf("failed until %v, want fail_timeout after the failure", a.FailedUntil(t0.Add(time.Second)))
			}
			for i := 0; i < 10; i++ {
				if got := try(g, t0.Add(time.Second), Key{}); got != "b" {
					t.Fatalf("pick %d within fail_timeout: %s, want b", i, got)
				}
			}
			// After fail_timeout the server is tried again; its effective
			// weight, cut to 0 by the failure, grows back by one a round,
			// so round robin returns to it within a few requests.
			seen := map[string]bool{}
			for i := 0; i < 40; i++ {
				seen[try(g, t0.Add(11*time.Second), Key{})] = true
			}
			if !seen["a"] {
				t.Fatalf("server a not tried again after fail_timeout")
			}
		})
	}
}

func TestMaxFailsCountsWithinFailTimeout(t *testing.T) {
	g := group(srv("a", 1, 3), srv("b", 1, 3))
	a := g.Peer(0)
	g.Fail(a, t0)
	g.Fail(a, t0.Add(time.Second))
	if !a.FailedUntil(t0.Add(time.Second)).IsZero() {
		t.Fatal("two failures took out a server with max_fails=3")
	}
	g.Fail(a, t0.Add(2*time.Second))
	if a.FailedUntil(t0.Add(2 * time.Second)).IsZero() {
		t.Fatal("a third failure did not take out a server with max_fails=3")
	}
	// max_fails=0 turns the accounting off.
	g0 := group(srv("a", 1, 0), srv("b", 1, 0))
	for i := 0; i < 5; i++ {
		g0.Fail(g0.Peer(0), t0)
	}
	if got := sequence(g0, 4); got != "a b a b" {
		t.Errorf("max_fails=0 after failures: %q, want the server kept in turn", got)
	}
}

// TestSuccessAfterFailTimeoutForgetsFailures checks nginx's recovery: a
// server that answers after fail_timeout has passed since its failures is
// counted from zero again.
func TestSuccessAfterFailTimeoutForgetsFailures(t *testing.T) {
	g := group(srv("a", 1, 2), srv("b", 1, 2))
	a := g.Peer(0)
	g.Fail(a, t0)
	g.Fail(a, t0)
	later := t0.Add(11 * time.Second)
	var tr Tried
	for p := g.Pick(later, &tr, Key{}); p != a; p = g.Pick(later, &tr, Key{}) {
		if p == nil {
			t.Fatal("server a never picked after fail_timeout")
		}
		tr.Mark(p)
		g.Release(p)
	}
	g.Success(a, later)
	g.Fail(a, later)
	if !a.FailedUntil(later).IsZero() {
		t.Fatal("one failure after a success took out a server with max_fails=2: the old failures were not forgotten")
	}
}

// TestEveryServerFailed checks that nginx 1.22 keeps failed servers out
// for their fail_timeout even when that leaves none: there is no "quick
// recovery" that would forget the failures.
func TestEveryServerFailed(t *testing.T) {
	g := group(srv("a", 1, 1), srv("b", 1, 1))
	g.Fail(g.Peer(0), t0)
	g.Fail(g.Peer(1), t0)
	for i := 0; i < 3; i++ {
		if got := try(g, t0.Add(time.Second), Key{}); got != "-" {
			t.Fatalf("pick %d with every server failed: %s, want none", i, got)
		}
	}
	if got := try(g, t0.Add(11*time.Second), Key{}); got == "-" {
		t.Fatal("no server after fail_timeout")
	}
}

func TestBackupUsedWhenPrimariesFail(t *testing.T) {
	for _, method := range []conf.BalanceMethod{conf.BalanceRoundRobin, conf.BalanceLeastConn} {
		t.Run(method.String(), func(t *testing.T) {
			g := methodGroup(method, srv("a", 1, 1), &conf.UpstreamServer{Addr: "b", MaxFails: 1, Backup: true},
				&conf.UpstreamServer{Addr: "c", MaxFails: 1, Backup: true})
			var tried Tried
			a := g.Pick(t0, &tried, Key{})
			if a == nil || a.Conf.Name != "a" {
				t.Fatalf("first pick %v, want the primary", a)
			}
			tried.Mark(a)
			g.Fail(a, t0)
			g.Release(a)
			b := g.Pick(t0, &tried, Key{})
			if b == nil || !b.Conf.Backup {
				t.Fatalf("after the primary failed got %v, want a backup", b)
			}
			tried.Mark(b)
			g.Release(b)
			c := g.Pick(t0, &tried, Key{})
			if c == nil || !c.Conf.Backup || c == b {
				t.Fatalf("third pick %v, want the other backup", c)
			}
			tried.Mark(c)
			g.Release(c)
			if p := g.Pick(t0, &tried, Key{}); p != nil {
				t.Fatalf("with every server tried got %s, want none", p.Conf.Name)
			}
		})
	}
}

// TestRequestStaysAmongBackups checks nginx's rule that a request that
// went on to the backup servers does not come back to the primary ones,
// even if one of them becomes usable meanwhile.
func TestRequestStaysAmongBackups(t *testing.T) {
	g := group(&conf.UpstreamServer{Addr: "a", MaxConns: 1}, &conf.UpstreamServer{Addr: "b", Backup: true},
		&conf.UpstreamServer{Addr: "c", Backup: true})
	var other Tried
	a := g.Pick(t0, &other, Key{})
	if a == nil || a.Conf.Name != "a" {
		t.Fatalf("first request got %v, want a", a)
	}
	var tr Tried
	b := g.Pick(t0, &tr, Key{})
	if b == nil || !b.Conf.Backup {
		t.Fatalf("with the primary at max_conns got %v, want a backup", b)
	}
	tr.Mark(b)
	g.Release(b)
	g.Release(a)
	if p := g.Pick(t0, &tr, Key{}); p == nil || !p.Conf.Backup {
		t.Fatalf("retry after the backup got %v, want the other backup", p)
	}
	if !g.HasRoom(t0, &tr) || g.AtCapacity(&tr) {
		t.Fatal("HasRoom and AtCapacity disagree with Pick about the backup tier")
	}
}

func TestTriedServersAreNotPickedAgain(t *testing.T) {
	for _, method := range []conf.BalanceMethod{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceIPHash, conf.BalanceHash, conf.BalanceRandom} {
		t.Run(method.String(), func(t *testing.T) {
			g := methodGroup(method, srv("a", 1, 1), srv("b", 1, 1), srv("c", 1, 1))
			key := Key{Addr: v4(192, 0, 2, 1), Value: []byte("k")}
			var tried Tried
			seen := map[string]bool{}
			for i := 0; i < 3; i++ {
				p := g.Pick(t0, &tried, key)
				if p == nil || seen[p.Conf.Name] {
					t.Fatalf("pick %d: %v (seen %v)", i, p, seen)
				}
				seen[p.Conf.Name] = true
				tried.Mark(p)
				g.Release(p)
			}
			if p := g.Pick(t0, &tried, key); p != nil {
				t.Fatalf("fourth pick returned %s, want none", p.Conf.Name)
			}
		})
	}
}

func TestSingleServerIgnoresFailures(t *testing.T) {
	for _, method := range []conf.BalanceMethod{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceIPHash, conf.BalanceHash, conf.BalanceRandom} {
		t.Run(method.String(), func(t *testing.T) {
			g := methodGroup(method, srv("a", 1, 1))
			g.Fail(g.Peer(0), t0)
			if got := try(g, t0, Key{Value: []byte("k")}); got != "a" {
				t.Fatalf("a lone server must stay in use after a failure, as in nginx; got %s", got)
			}
		})
	}
}

func TestMaxConns(t *testing.T) {
	for _, method := range []conf.BalanceMethod{conf.BalanceRoundRobin, conf.BalanceLeastConn, conf.BalanceIPHash, conf.BalanceHash, conf.BalanceRandom} {
		t.Run(method.String(), func(t *testing.T) {
			g := methodGroup(method, &conf.UpstreamServer{Addr: "a", MaxFails: 1, MaxConns: 1}, &conf.UpstreamServer{Addr: "b", MaxFails: 1, MaxConns: 2})
			key := Key{Addr: v4(192, 0, 2, 1), Value: []byte("k")}
			var held []*Peer
			for i := 0; i < 3; i++ {
				var tr Tried
				p := g.Pick(t0, &tr, key)
				if p == nil {
					t.Fatalf("pick %d found no server below max_conns", i)
				}
				held = append(held, p)
			}
			if g.Shared.Active(0) != 1 || g.Shared.Active(1) != 2 {
				t.Fatalf("places taken: a %d, b %d; want 1 and 2", g.Shared.Active(0), g.Shared.Active(1))
			}
			var tr Tried
			if p := g.Pick(t0, &tr, key); p != nil {
				t.Fatalf("picked %s with every server at max_conns", p.Conf.Name)
			}
			if !g.AtCapacity(&tr) || g.HasRoom(t0, &tr) {
				t.Fatal("every server at max_conns: want AtCapacity and no room")
			}
			g.Release(held[0])
			if !g.HasRoom(t0, &tr) {
				t.Fatal("no room after a place was given back")
			}
			if p := g.Pick(t0, &tr, key); p != held[0] {
				t.Fatalf("after a release got %v, want the server with the free place", p)
			}
		})
	}
}

func TestTriesCountsServersNotDown(t *testing.T) {
	g := group(srv("a", 1, 1), &conf.UpstreamServer{Addr: "b", Down: true}, &conf.UpstreamServer{Addr: "c", Backup: true})
	if n := g.Tries(); n != 2 {
		t.Errorf("Tries() = %d, want 2 (the servers not down, backup included)", n)
	}
}

func TestLeastConn(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		active  []int
		want    string
	}{
		{"fewest connections", []int{1, 1, 1}, []int{3, 1, 2}, "b"},
		{"relative to weight", []int{1, 3}, []int{1, 2}, "b"}, // 2/3 < 1/1
		{"heavier loses when the ratio is higher", []int{1, 3}, []int{1, 4}, "a"},
		{"ties go to weighted round robin", []int{1, 2}, []int{0, 0}, "b"},
		{"tie among the last two", []int{1, 1, 1}, []int{2, 1, 1}, "b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var servers []*conf.UpstreamServer
			for i, w := range tc.weights {
				servers = append(servers, srv(string(rune('a'+i)), w, 1))
			}
			g := methodGroup(conf.BalanceLeastConn, servers...)
			for i, n := range tc.active {
				g.Peer(i).Active = n
			}
			var tr Tried
			if p := g.Pick(t0, &tr, Key{}); p == nil || p.Conf.Name != tc.want {
				t.Errorf("got %v, want %s", p, tc.want)
			}
		})
	}
	// With equal counts the tie is broken in smooth weighted order, and
	// the count a request adds shifts the next pick.
	g := methodGroup(conf.BalanceLeastConn, srv("a", 1, 1), srv("b", 1, 1), srv("c", 1, 1))
	var order []string
	for i := 0; i < 3; i++ {
		var tr Tried
		p := g.Pick(t0, &tr, Key{})
		tr.Mark(p)
		p.Active++ // held open
		order = append(order, p.Conf.Name)
	}
	if got := strings.Join(order, " "); got != "a b c" {
		t.Errorf("three held requests went to %q, want one each: a b c", got)
	}
}

func v4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

func parseAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestIPHash checks ip_hash's choices against values worked out by hand
// from nginx's arithmetic (hash starts at 89, hash = (hash*113 + byte) %
// 6271 over the first three octets, or the 16 bytes of IPv6, then the
// hash modulo the total weight falls on a server by weight).
func TestIPHash(t *testing.T) {
	tests := []struct {
		addr     string
		weights  []int
		down     int // index of a down server, -1 for none
		wantName string
	}{
		{"10.0.0.1", []int{1, 1, 1}, -1, "s0"},
		{"10.0.0.99", []int{1, 1, 1}, -1, "s0"}, // same /24
		{"192.168.1.7", []int{1, 1, 1}, -1, "s1"},
		{"127.1.2.3", []int{1, 1, 1}, -1, "s0"},
		{"10.0.0.1", []int{1, 2, 3}, -1, "s2"},
		{"::1", []int{1, 1, 1}, -1, "s2"},
		{"2001:db8::5", []int{1, 1, 1}, -1, "s0"},
		{"::ffff:10.0.0.1", []int{1, 1, 1}, -1, "s1"}, // an IPv6 socket's IPv4 client hashes all 16 bytes
		// The chosen server is down: the address is folded in again.
		{"10.0.0.1", []int{1, 1, 1}, 0, "s1"},
		{"::1", []int{1, 1, 1}, 2, "s0"},
		{"2001:db8::5", []int{1, 1, 1}, 0, "s2"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			var servers []*conf.UpstreamServer
			for i, w := range tc.weights {
				servers = append(servers, &conf.UpstreamServer{Addr: "s" + itoa(i), Weight: w, MaxFails: 1, Down: i == tc.down})
			}
			g := methodGroup(conf.BalanceIPHash, servers...)
			for i := 0; i < 3; i++ {
				if got := try(g, t0, Key{Addr: parseAddr(t, tc.addr)}); got != tc.wantName {
					t.Fatalf("request %d from %s: %s, want %s", i, tc.addr, got, tc.wantName)
				}
			}
		})
	}
}

// TestHashKey checks hash's choices against values worked out from
// nginx's arithmetic with zlib's CRC-32: the sum of (crc32(key) >> 16) &
// 0x7fff, then of the same for "1key", "2key", ... while the server the
// sum falls on cannot be used.
func TestHashKey(t *testing.T) {
	tests := []struct {
		key     string
		weights []int
		down    int
		want    string
	}{
		{"/a", []int{1, 1, 1}, -1, "s1"},
		{"/b", []int{1, 1, 1}, -1, "s2"},
		{"user42", []int{1, 1, 1}, -1, "s0"},
		{strings.Repeat("x", 40), []int{1, 1, 1}, -1, "s1"},
		{"/a", []int{1, 2, 3}, -1, "s2"},
		{"user42", []int{1, 2, 3}, -1, "s2"},
		{"/a", []int{1, 1, 1}, 1, "s0"},
		{"/b", []int{1, 1, 1}, 2, "s1"},
		{"user42", []int{1, 1, 1}, 0, "s2"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			var servers []*conf.UpstreamServer
			for i, w := range tc.weights {
				servers = append(servers, &conf.UpstreamServer{Addr: "s" + itoa(i), Weight: w, MaxFails: 1, Down: i == tc.down})
			}
			g := methodGroup(conf.BalanceHash, servers...)
			if got := try(g, t0, Key{Value: []byte(tc.key)}); got != tc.want {
				t.Fatalf("key %q: %s, want %s", tc.key, got, tc.want)
			}
		})
	}
}

// TestConsistentHash checks "hash consistent" against a ketama ring
// worked out with zlib's CRC-32 for servers as written, and that taking a
// server away moves only the keys it had.
func TestConsistentHash(t *testing.T) {
	names := []string{"10.0.0.1:80", "10.0.0.2:80", "backend.example:8080"}
	tests := []struct {
		key     string
		weights []int
		down    int
		want    int
	}{
		{"/a", []int{1, 1, 1}, -1, 0},
		{"/b", []int{1, 1, 1}, -1, 2},
		{"user42", []int{1, 1, 1}, -1, 0},
		{"k1", []int{1, 1, 1}, -1, 2},
		{"k2", []int{1, 1, 1}, -1, 1},
		{"/a", []int{1, 2, 3}, -1, 2},
		{"user42", []int{1, 2, 3}, -1, 1},
		{"/a", []int{1, 1, 1}, 0, 1},
		{"/b", []int{1, 1, 1}, 2, 0},
		{"k2", []int{1, 1, 1}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			var servers []*conf.UpstreamServer
			for i, w := range tc.weights {
				servers = append(servers, &conf.UpstreamServer{Addr: "10.9.9." + itoa(i) + ":80", Name: names[i], Weight: w, MaxFails: 1, Down: i == tc.down})
			}
			u := upstreamOf(conf.BalanceHash, servers...)
			u.Consistent = true
			g := NewGroup(u, NewShared(u))
			if got := try(g, t0, Key{Value: []byte(tc.key)}); got != names[tc.want] {
				t.Fatalf("key %q: %s, want %s", tc.key, got, names[tc.want])
			}
		})
	}

	// Marking a server down moves the keys it had and no other.
	build := func(down int) *Group {
		var servers []*conf.UpstreamServer
		for i := 0; i < 5; i++ {
			servers = append(servers, &conf.UpstreamServer{Addr: "10.0.1." + itoa(i) + ":80", MaxFails: 1, Down: i == down})
		}
		u := upstreamOf(conf.BalanceHash, servers...)
		u.Consistent = true
		return NewGroup(u, NewShared(u))
	}
	all, less := build(-1), build(3)
	moved := 0
	for i := 0; i < 2000; i++ {
		k := Key{Value: []byte("key" + itoa(i))}
		before, after := try(all, t0, k), try(less, t0, k)
		if before != after {
			if before != "10.0.1.3:80" {
				t.Fatalf("key %s moved from %s to %s though its server stayed", k.Value, before, after)
			}
			moved++
		}
	}
	if moved < 200 || moved > 600 {
		t.Errorf("%d of 2000 keys moved when one of five servers went down, want about 400", moved)
	}
}

func TestSplitServer(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"10.0.0.1:80", "10.0.0.1", "80"},
		{"backend", "backend", ""},
		{"[::1]:8080", "[::1]", "8080"},
		{"unix:/run/app.sock", "/run/app.sock", ""},
		{"UNIX:/run/app.sock", "/run/app.sock", ""},
		{"a:b1", "a:b1", ""},
	}
	for _, tc := range tests {
		if h, p := splitServer(tc.in); h != tc.host || p != tc.port {
			t.Errorf("splitServer(%q) = %q, %q; want %q, %q", tc.in, h, p, tc.host, tc.port)
		}
	}
}

// TestEmptyHashKeyUsesRoundRobin checks nginx's fallback for a key that
// evaluates to nothing.
func TestEmptyHashKeyUsesRoundRobin(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		u := upstreamOf(conf.BalanceHash, srv("a", 1, 1), srv("b", 1, 1))
		u.Consistent = consistent
		g := NewGroup(u, NewShared(u))
		var names []string
		for i := 0; i < 4; i++ {
			names = append(names, try(g, t0, Key{}))
		}
		if got := strings.Join(names, " "); got != "a b a b" {
			t.Errorf("consistent=%v, empty key: %q, want round robin", consistent, got)
		}
	}
}

// TestHashingFallsBackToRoundRobin checks that after 20 unusable draws
// the hashing and random methods leave the choice to round robin, which
// also knows backup servers (those written before the method, which nginx
// accepts).
func TestHashingFallsBackToRoundRobin(t *testing.T) {
	for _, tc := range []struct {
		method     conf.BalanceMethod
		consistent bool
	}{{conf.BalanceIPHash, false}, {conf.BalanceHash, false}, {conf.BalanceHash, true}, {conf.BalanceRandom, false}} {
		t.Run(tc.method.String(), func(t *testing.T) {
			u := upstreamOf(tc.method, &conf.UpstreamServer{Addr: "a", Down: true}, &conf.UpstreamServer{Addr: "b", Down: true},
				&conf.UpstreamServer{Addr: "c", Backup: true})
			u.Consistent = tc.consistent
			g := NewGroup(u, NewShared(u))
			var tr Tried
			p := g.Pick(t0, &tr, Key{Addr: v4(192, 0, 2, 1), Value: []byte("k")})
			if p == nil || p.Conf.Name != "c" {
				t.Fatalf("got %v, want the backup through round robin", p)
			}
			tr.Mark(p)
			if tr.state.tries <= 20 {
				t.Errorf("tries %d after the fallback, want more than 20", tr.state.tries)
			}
		})
	}
}

// TestRepeatedPickWithoutTry checks that a pick that was not followed by
// a try (the request waited for a connection slot) is made again to the
// same server, while a try moves the request's hash on.
func TestRepeatedPickWithoutTry(t *testing.T) {
	g := methodGroup(conf.BalanceIPHash, srv("s0", 1, 1), srv("s1", 1, 1), srv("s2", 1, 1))
	key := Key{Addr: v4(10, 0, 0, 1)}
	var tr Tried
	first := g.Pick(t0, &tr, key)
	g.Release(first)
	again := g.Pick(t0, &tr, key)
	if again != first {
		t.Fatalf("pick again without a try: %v, want %v", again, first)
	}
	tr.Mark(again)
	g.Release(again)
	next := g.Pick(t0, &tr, key)
	if next == nil || next == first || next.Conf.Name != "s1" {
		t.Fatalf("pick after a try of %s: %v, want s1 (the hash folded on from the first)", first.Conf.Name, next)
	}
}

func TestRandomTwoPrefersFewerConnections(t *testing.T) {
	u := upstreamOf(conf.BalanceRandom, srv("a", 1, 1), srv("b", 1, 1))
	u.RandomTwo = true
	g := NewGroup(u, NewShared(u))
	g.Peer(0).Active = 5
	for i := 0; i < 50; i++ {
		var tr Tried
		p := g.Pick(t0, &tr, Key{})
		if p == nil || p.Conf.Name != "b" {
			t.Fatalf("pick %d: %v, want b, which has fewer connections", i, p)
		}
		g.Release(p)
		p.Active++
	}
}

func TestRandomSkipsDownServers(t *testing.T) {
	g := methodGroup(conf.BalanceRandom, srv("a", 1, 1), &conf.UpstreamServer{Addr: "b", Down: true}, srv("c", 1, 1))
	for i := 0; i < 200; i++ {
		if got := try(g, t0, Key{}); got == "b" {
			t.Fatal("random picked a down server")
		}
	}
}

// TestConsistentHashRingShared checks that the workers of one
// configuration share one ring, and that a configuration that keeps the
// shared state over a reload but writes its servers differently gets a
// ring of its own.
func TestConsistentHashRingShared(t *testing.T) {
	u := upstreamOf(conf.BalanceHash, srv("a:80", 1, 1), srv("b:80", 2, 1))
	u.Consistent = true
	shared := NewShared(u)
	ring := func(g *Group) []chashPoint { return g.Balancer.(*consistentHash).points }
	w1, w2 := NewGroup(u, shared), NewGroup(u, shared)
	if len(ring(w1)) == 0 || &ring(w1)[0] != &ring(w2)[0] {
		t.Fatal("two workers of one configuration built two rings")
	}
	if n := len(ring(w1)); n > 3*160 || n < 3*160-5 {
		t.Errorf("%d points, want 480 less the hashes that came up twice", n)
	}
	reloaded := upstreamOf(conf.BalanceHash, srv("a:80", 1, 1), srv("b:80", 1, 1))
	reloaded.Consistent = true
	if n := len(ring(NewGroup(reloaded, shared))); n > 2*160 || n < 2*160-5 {
		t.Errorf("after a reload that changed a weight, %d points, want about 320", n)
	}
}

// TestPickAllocatesNothing checks the balancer's share of a request's
// allocation budget: a pick, the try and the release allocate nothing, for
// every method (each moves its state through a chooser called by a
// function value, where a state on the stack would escape).
func TestPickAllocatesNothing(t *testing.T) {
	key := Key{Addr: v4(10, 0, 0, 1), Value: []byte("/item/1")}
	for _, tc := range []struct {
		name    string
		method  conf.BalanceMethod
		consist bool
	}{
		{"round robin", conf.BalanceRoundRobin, false},
		{"least_conn", conf.BalanceLeastConn, false},
		{"ip_hash", conf.BalanceIPHash, false},
		{"hash", conf.BalanceHash, false},
		{"hash consistent", conf.BalanceHash, true},
		{"random", conf.BalanceRandom, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := upstreamOf(tc.method, srv("10.0.0.1:80", 1, 1), srv("10.0.0.2:80", 2, 1))
			u.Consistent = tc.consist
			g := NewGroup(u, NewShared(u))
			var tr Tried
			if n := testing.AllocsPerRun(100, func() {
				tr = Tried{}
				p := g.Pick(t0, &tr, key)
				tr.Mark(p)
				g.Success(p, t0)
				g.Release(p)
			}); n != 0 {
				t.Errorf("%v allocations per pick, want none", n)
			}
		})
	}
}
