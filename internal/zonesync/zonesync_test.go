package zonesync

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"headroom/internal/resp"
)

// store is a redis-server of the test's own on a loopback port, spoken
// to over one connection with the resp codec.
type store struct {
	conn net.Conn
	rd   *bufio.Reader
	buf  []byte
}

func startStore(t *testing.T) *store {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("skipped: redis-server is not installed (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, _ = os.Create(filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
		conn, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { conn.Close() })
	return &store{conn: conn, rd: bufio.NewReader(conn)}
}

// do sends one command and returns its reply.
func (s *store) do(t *testing.T, args ...string) resp.Value {
	t.Helper()
	if _, err := s.conn.Write(resp.AppendCommand(nil, args...)); err != nil {
		t.Fatal(err)
	}
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		v, n, err := resp.Parse(s.buf, resp.Limits{})
		if err == nil {
			s.buf = s.buf[n:]
			return v
		}
		if err != resp.ErrNeedMore {
			t.Fatal(err)
		}
		chunk := make([]byte, 4096)
		m, err := s.rd.Read(chunk)
		if err != nil {
			t.Fatal(err)
		}
		s.buf = append(s.buf, chunk[:m]...)
	}
}

func (s *store) limitReq(t *testing.T, key string, rate, burst int64) (bool, int64) {
	t.Helper()
	ok, excess, _ := s.limitReqWait(t, key, rate, burst)
	return ok, excess
}

// limitReqWait also returns the reply's wait, in microseconds.
func (s *store) limitReqWait(t *testing.T, key string, rate, burst int64) (bool, int64, int64) {
	t.Helper()
	v := s.do(t, "EVALSHA", LimitReqSHA, "1", key, strconv.FormatInt(rate, 10), strconv.FormatInt(burst, 10))
	if err := v.Err(); err != nil {
		t.Fatalf("EVALSHA: %v", err)
	}
	if v.Kind != resp.KindArray || len(v.Array) != 3 {
		t.Fatalf("reply %+v", v)
	}
	ok, _ := v.Array[0].AsInt()
	excess, _ := v.Array[1].AsInt()
	wait, _ := v.Array[2].AsInt()
	return ok == 1, excess, wait
}

// TestLimitReqScript checks the bucket in the store against nginx's
// arithmetic: a new key passes with no excess, each request adds 1000
// (less what drained), a request beyond the burst is refused without
// changing the bucket, the bucket drains at the rate, and it expires
// once drained.
func TestLimitReqScript(t *testing.T) {
	s := startStore(t)
	for _, sc := range []string{LimitReqScript, HeartbeatScript} {
		if v := s.do(t, "SCRIPT", "LOAD", sc); v.Err() != nil || string(v.Str) != digest(sc) {
			t.Fatalf("SCRIPT LOAD: %+v", v)
		}
	}
	// 1r/m drains 16.67 thousandths a second: a burst of requests
	// sent back to back sees no drain worth a thousandth per few ms.
	const rate, burst = 1000 / 60, 5000
	key := string(AppendBucketKey(nil, "one", "\x7f\x00\x00\x01"))
	for i := 0; i <= 5; i++ {
		ok, excess := s.limitReq(t, key, rate, burst)
		want := int64(i) * 1000
		if !ok || excess > want || excess < want-20 {
			t.Fatalf("request %d: ok %v excess %d, want ok with about %d", i+1, ok, excess, want)
		}
	}
	for i := 0; i < 3; i++ {
		ok, excess := s.limitReq(t, key, rate, burst)
		if ok || excess <= burst || excess > 6000 {
			t.Fatalf("request beyond the burst: ok %v excess %d, want refused with about 6000", ok, excess)
		}
	}
	// The bucket lives as long as its excess takes to drain, plus a
	// second.
	if v, want := s.do(t, "PTTL", key), int64(5000*1000/rate+1000); v.Int < want-1000 || v.Int > want {
		t.Errorf("PTTL %d ms, want about %d", v.Int, want)
	}

	// At 1000r/s (1,000,000 thousandths a second) a bucket drains a
	// request a millisecond: after 50 ms a full burst of 5 is empty
	// again, and the excess never goes below none.
	fast := string(AppendBucketKey(nil, "fast", "k"))
	for i := 0; i < 6; i++ {
		s.limitReq(t, fast, 1_000_000, 5000)
	}
	time.Sleep(50 * time.Millisecond)
	if ok, excess := s.limitReq(t, fast, 1_000_000, 5000); !ok || excess != 0 {
		t.Errorf("after draining: ok %v excess %d, want ok with 0", ok, excess)
	}

	// A drained bucket expires, and a missing one answers as a new key.
	slow := string(AppendBucketKey(nil, "x", "k"))
	s.limitReq(t, slow, 1_000_000, 0)
	time.Sleep(1100 * time.Millisecond)
	if v := s.do(t, "EXISTS", slow); v.Int != 0 {
		t.Errorf("a drained bucket still exists")
	}
}

// TestHeartbeatScript checks the fleet's lease: each instance counts once
// however often it beats, and an instance that stops beating is dropped
// once its lease is over.
func TestHeartbeatScript(t *testing.T) {
	s := startStore(t)
	beat := func(id string, lease int) int64 {
		v := s.do(t, "EVAL", HeartbeatScript, "1", FleetKey, id, strconv.Itoa(lease))
		if err := v.Err(); err != nil {
			t.Fatal(err)
		}
		return v.Int
	}
	for i, id := range []string{"a", "b", "a", "c", "b"} {
		want := []int64{1, 2, 2, 3, 3}[i]
		if n := beat(id, 3000); n != want {
			t.Fatalf("beat %d (%s): %d live, want %d", i, id, n, want)
		}
	}
	time.Sleep(150 * time.Millisecond)
	if n := beat("a", 100); n != 1 {
		t.Errorf("after the others' lease: %d live, want 1", n)
	}
}

func TestBucketKeysDoNotCollide(t *testing.T) {
	seen := map[string]string{}
	for _, p := range [][2]string{{"a", "b:c"}, {"a:b", "c"}, {"ab", "c"}, {"a", "bc"}, {"", "a:b"}} {
		k := string(AppendBucketKey(nil, p[0], p[1]))
		if other, dup := seen[k]; dup {
			t.Errorf("zone %q key %q and %s share the store key %q", p[0], p[1], other, k)
		}
		seen[k] = fmt.Sprintf("%q", p)
	}
}

// TestLimitReqScriptWait checks the wait the script returns: with room
// for another request none; at the burst about the time the bucket takes
// to drain one request; and no request passes before the wait is over,
// while one does once it is.
func TestLimitReqScriptWait(t *testing.T) {
	s := startStore(t)
	if v := s.do(t, "SCRIPT", "LOAD", LimitReqScript); v.Err() != nil {
		t.Fatal(v.Err())
	}
	// 10r/s (10,000 thousandths a second): a request drains in 100 ms.
	const rate, burst = 10_000, 1000
	key := string(AppendBucketKey(nil, "w", "k"))
	if ok, _, wait := s.limitReqWait(t, key, rate, burst); !ok || wait != 0 {
		t.Fatalf("first request: ok %v wait %d µs, want ok with room for one more (0)", ok, wait)
	}
	ok, _, wait := s.limitReqWait(t, key, rate, burst)
	if !ok || wait < 90_000 || wait > 100_000 {
		t.Fatalf("second request (the burst's): ok %v wait %d µs, want ok and about 100 ms", ok, wait)
	}
	sent := time.Now()
	ok, _, refusedWait := s.limitReqWait(t, key, rate, burst)
	answered := time.Now()
	if ok || refusedWait > wait || refusedWait < wait-20_000 {
		t.Fatalf("third request: ok %v wait %d µs, want refused with a little less than %d", ok, refusedWait, wait)
	}
	w := time.Duration(refusedWait) * time.Microsecond
	// A request that reached the store before the wait was over is
	// refused: the store ran it at most the time from sending the
	// refused check to this one's answer after the refusal.
	time.Sleep(w - 15*time.Millisecond)
	ok, _, _ = s.limitReqWait(t, key, rate, burst)
	if upTo := time.Since(sent); ok && upTo < w {
		t.Errorf("a request at most %v after a refusal with a wait of %v passed", upTo, w)
	}
	// One sent once the wait is over (the store ran the refusal before
	// it answered) passes.
	time.Sleep(time.Until(answered.Add(w + time.Millisecond)))
	if ok, _, _ := s.limitReqWait(t, key, rate, burst); !ok {
		t.Errorf("a request %v after a refusal with a wait of %v was refused", time.Since(answered), w)
	}
}

// TestLimitConnScripts checks the fleet's connection counts: acquires
// count up to the limit across instances, a release gives one back and
// removes a count that reaches none, and the counts of an instance whose
// lease ran out are dropped at the next acquire.
func TestLimitConnScripts(t *testing.T) {
	s := startStore(t)
	for _, sc := range Scripts {
		if v := s.do(t, "SCRIPT", "LOAD", sc); v.Err() != nil {
			t.Fatalf("SCRIPT LOAD: %v", v.Err())
		}
	}
	key := string(AppendConnKey(nil, "c", "k"))
	beat := func(id string) { s.do(t, "EVALSHA", HeartbeatSHA, "1", FleetKey, id, "3000") }
	acquire := func(id string, limit int) (bool, int64) {
		v := s.do(t, "EVALSHA", LimitConnAcquireSHA, "2", key, FleetKey, id, strconv.Itoa(limit), "3000", "10000")
		if v.Err() != nil || len(v.Array) != 2 {
			t.Fatalf("acquire: %+v", v)
		}
		ok, _ := v.Array[0].AsInt()
		n, _ := v.Array[1].AsInt()
		return ok == 1, n
	}
	beat("a")
	beat("b")
	for i, want := range []bool{true, true, true, false} {
		id := []string{"a", "b", "a", "b"}[i]
		if ok, n := acquire(id, 3); ok != want {
			t.Fatalf("acquire %d by %s: ok %v (total %d), want %v", i+1, id, ok, n, want)
		}
	}
	if v := s.do(t, "EVALSHA", LimitConnReleaseSHA, "1", key, "b"); v.Int != 0 {
		t.Errorf("release by b left %d", v.Int)
	}
	if v := s.do(t, "HEXISTS", key, "b"); v.Int != 0 {
		t.Errorf("a count of none stays in the hash")
	}
	if ok, n := acquire("b", 3); !ok || n != 3 {
		t.Errorf("after a release: ok %v total %d, want ok with 3", ok, n)
	}
	// "a" dies (its lease is backdated), holding 2: its counts go.
	s.do(t, "ZADD", FleetKey, "1", "a")
	if ok, n := acquire("b", 3); !ok || n != 2 {
		t.Errorf("after a's lease ran out: ok %v total %d, want ok with 2 (b's own)", ok, n)
	}
	if v := s.do(t, "HEXISTS", key, "a"); v.Int != 0 {
		t.Errorf("a dead instance's count stays in the hash")
	}
}

// TestMaxConnsLeaseScript checks the places leased to one upstream server:
// an instance gets what it wants of what the live others leave, never
// more than max_conns in all, and a dead instance's places go back.
func TestMaxConnsLeaseScript(t *testing.T) {
	s := startStore(t)
	if v := s.do(t, "SCRIPT", "LOAD", MaxConnsLeaseScript); v.Err() != nil {
		t.Fatal(v.Err())
	}
	key := string(AppendServerKey(nil, "app", "127.0.0.1:9000"))
	for _, id := range []string{"a", "b"} {
		s.do(t, "EVAL", HeartbeatScript, "1", FleetKey, id, "3000")
	}
	lease := func(id string, want int) (granted, others int64) {
		v := s.do(t, "EVALSHA", MaxConnsLeaseSHA, "2", key, FleetKey, id, "5", strconv.Itoa(want), "3000", "10000")
		if v.Err() != nil || len(v.Array) != 2 {
			t.Fatalf("lease: %+v", v)
		}
		return v.Array[0].Int, v.Array[1].Int
	}
	for _, tc := range []struct {
		id            string
		want          int
		granted, rest int64
	}{
		{"a", 3, 3, 0},
		{"b", 4, 2, 3}, // only 2 are left
		{"a", 1, 1, 2}, // a gives two back
		{"b", 4, 4, 1},
		{"a", 5, 1, 4},
	} {
		if g, o := lease(tc.id, tc.want); g != tc.granted || o != tc.rest {
			t.Fatalf("%s wants %d: granted %d with others %d, want %d with %d", tc.id, tc.want, g, o, tc.granted, tc.rest)
		}
	}
	// b dies: its 4 places go back to a.
	s.do(t, "ZADD", FleetKey, "1", "b")
	if g, o := lease("a", 5); g != 5 || o != 0 {
		t.Errorf("after b's lease ran out a got %d (others %d), want 5 (0)", g, o)
	}
}
