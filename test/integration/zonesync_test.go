package integration

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fleet-wide limit_req tests: several headroom instances share the
// buckets of a "sync" limit_req_zone through a Redis server (zone_sync).
// They start redis-server (skipped when it is not installed) and run
// against headroom only; nginx, when installed, is the reference for what
// one server admits under the same load.
//
// The load tests are deliberately not parallel: they measure counts over
// time under a 1000 requests/s load and run alone, one after the other,
// before the parallel part of the suite.

const (
	// The zone: rate=100r/s, and limit_req burst=20 nodelay.
	fleetRate  = 100
	fleetBurst = 20
	// The offered load: 1000 requests/s, open loop (one request every
	// 1 ms whatever the answers), round robin over the instances, for
	// fleetMain; then fleetProbe of the same load to the first instance
	// only.
	fleetLoadRate = 1000
	fleetMain     = 10 * time.Second
	fleetProbe    = 1 * time.Second
	// Keep-alive connections per instance.
	fleetConns = 8
	// The longest a request may take before it counts as an error.
	fleetRequestTimeout = 5 * time.Second
	// fleetSize is the number of headroom instances.
	fleetSize = 3
	fleetHost = "fleet"
	fleetPath = "/a.txt" // staticRoot's "a file\n"
)

// fleetExpected is the arithmetic of the limit for a load far above the
// rate during d: the first request, the burst, then the rate.
func fleetExpected(d time.Duration) float64 {
	return 1 + fleetBurst + fleetRate*d.Seconds()
}

// fleetHTTP is the http{} content of every instance. zoneSync is the
// zone_sync directive (without ';'); empty, the zone is an ordinary one
// (nginx's configuration).
func fleetHTTP(root, zoneSync string) string {
	syncLine, syncParam := "", ""
	if zoneSync != "" {
		syncLine, syncParam = zoneSync+";", " sync"
	}
	// In nginx's order of phases return runs before limit_req, so the
	// limited location serves a static file.
	return fmt.Sprintf(`
    %s
    limit_req_zone $server_name zone=one:1m rate=%dr/s%s;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name %s;
        root %s;
        location / { limit_req zone=one burst=%d nodelay; }
    }`, syncLine, fleetRate, syncParam, fleetHost, root, fleetBurst)
}

// zoneSyncTargets returns the headroom target (the test is skipped when
// headroom is not among the targets) and nginx's, or nil when nginx is not
// there.
func zoneSyncTargets(t *testing.T) (hr, ng *target) {
	t.Helper()
	for _, tg := range targets {
		switch {
		case tg.isHeadroom():
			hr = tg
		case tg.isNginx():
			ng = tg
		}
	}
	if hr == nil {
		t.Skipf("headroom is not among the targets (%s): zone_sync is headroom's own, test skipped", envTargets)
	}
	hr.require(t)
	if ng != nil && ng.unavailable != "" {
		t.Logf("%s", ng.unavailable)
		ng = nil
	}
	return hr, ng
}

// startFleet starts n instances of tg with the same http{} content, each
// on its own port, and returns their addresses.
func startFleet(t *testing.T, tg *target, n int, httpConf string) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = startProxy(t, tg, httpConf).addr
	}
	return addrs
}

// waitFleetConnected waits (up to 5 s) until Redis has at least n clients
// besides the probing connection, i.e. every instance has connected, and
// logs what it saw. It does not fail: the assertions on the counts do.
func waitFleetConnected(t *testing.T, r *redisServer, n int) {
	t.Helper()
	var last string
	deadline := time.Now().Add(5 * time.Second)
	for {
		last = r.info("clients", "connected_clients")
		var c int
		fmt.Sscan(last, &c)
		if c-1 >= n {
			t.Logf("redis: %d client connections besides this one before the load", c-1)
			return
		}
		if time.Now().After(deadline) {
			t.Logf("redis: connected_clients=%q after 5s, want at least %d instances connected; starting the load anyway", last, n)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fleetAnswer is the outcome of one request of the load.
type fleetAnswer struct {
	probe bool // sent in the probe phase (first instance only)
	inst  int
	// From the start of the load: when the request was due, written and
	// answered.
	sched, sent, done time.Duration
	status            int    // 0 when there was no complete answer
	err               string // what went wrong when status is 0
}

// runFleetLoad offers the load to addrs, starting at start: one request
// every 1/fleetLoadRate s for fleetMain, round robin, then for fleetProbe
// to addrs[0] only. It is open loop: a request is due at its time whatever
// happened to the previous ones; it waits in a queue when all of its
// instance's fleetConns connections are busy (the wait shows as sent -
// sched). Requests are raw HTTP/1.1 on keep-alive connections; a
// connection the server closes (Connection: close) is replaced, any other
// failure is an error of that request.
func runFleetLoad(addrs []string, start time.Time) []fleetAnswer {
	period := time.Second / fleetLoadRate
	nMain := int(fleetMain / period)
	nAll := nMain + int(fleetProbe/period)
	queues := make([]chan fleetAnswer, len(addrs))
	for i := range queues {
		queues[i] = make(chan fleetAnswer, nAll)
	}
	req := []byte("GET " + fleetPath + " HTTP/1.1\r\nHost: " + fleetHost + "\r\n\r\n")

	var wg sync.WaitGroup
	results := make([][]fleetAnswer, len(addrs)*fleetConns)
	for i, addr := range addrs {
		for k := 0; k < fleetConns; k++ {
			slot := i*fleetConns + k
			wg.Add(1)
			go func() {
				defer wg.Done()
				var c net.Conn
				var br *bufio.Reader
				dial := func() error {
					nc, err := net.DialTimeout("tcp", addr, fleetRequestTimeout)
					if err != nil {
						return err
					}
					c, br = nc, bufio.NewReaderSize(nc, 16<<10)
					return nil
				}
				dial() // before the start; retried at the first request
				defer func() {
					if c != nil {
						c.Close()
					}
				}()
				var out []fleetAnswer
				for a := range queues[i] {
					a.sent = time.Since(start)
					status, closeConn, err := func() (int, bool, error) {
						if c == nil {
							if err := dial(); err != nil {
								return 0, false, fmt.Errorf("connect: %w", err)
							}
						}
						c.SetDeadline(time.Now().Add(fleetRequestTimeout))
						if _, err := c.Write(req); err != nil {
							return 0, true, fmt.Errorf("write: %w", err)
						}
						resp, err := http.ReadResponse(br, nil)
						if err != nil {
							return 0, true, fmt.Errorf("read: %w", err)
						}
						_, err = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if err != nil {
							return 0, true, fmt.Errorf("body of a %d: %w", resp.StatusCode, err)
						}
						return resp.StatusCode, resp.Close, nil
					}()
					a.done = time.Since(start)
					a.status = status
					if err != nil {
						a.err = err.Error()
					}
					if closeConn && c != nil {
						c.Close()
						c = nil
					}
					out = append(out, a)
				}
				results[slot] = out
			}()
		}
	}

	time.Sleep(time.Until(start))
	for n := 0; n < nAll; n++ {
		due := time.Duration(n) * period
		if d := time.Until(start.Add(due)); d > 0 {
			time.Sleep(d)
		}
		a := fleetAnswer{sched: due}
		if n >= nMain {
			a.probe = true
		} else {
			a.inst = n % len(addrs)
		}
		queues[a.inst] <- a // never blocks: room for every request
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	var all []fleetAnswer
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].sched < all[j].sched })
	return all
}

// fleetCount sums outcomes.
type fleetCount struct {
	total, ok, limited, errs int
	others                   map[int]int // status: count, other than 200 and 503
	errSamples               []string
}

func countAnswers(as []fleetAnswer, keep func(a *fleetAnswer) bool) fleetCount {
	c := fleetCount{others: map[int]int{}}
	for i := range as {
		a := &as[i]
		if !keep(a) {
			continue
		}
		c.total++
		switch a.status {
		case 200:
			c.ok++
		case 503:
			c.limited++
		case 0:
			c.errs++
			if len(c.errSamples) < 5 {
				c.errSamples = append(c.errSamples, fmt.Sprintf("at %v to instance %d: %s", a.sent.Round(time.Millisecond), a.inst, a.err))
			}
		default:
			c.others[a.status]++
		}
	}
	return c
}

func (c fleetCount) String() string {
	s := fmt.Sprintf("%d requests: %d × 200, %d × 503, %d other statuses %v, %d errors", c.total, c.ok, c.limited, c.otherCount(), c.others, c.errs)
	if len(c.errSamples) > 0 {
		s += " (" + strings.Join(c.errSamples, "; ") + ")"
	}
	return s
}

func (c fleetCount) otherCount() int {
	n := 0
	for _, v := range c.others {
		n += v
	}
	return n
}

// mainPhase, probePhase and sentIn select answers.
func mainPhase(a *fleetAnswer) bool  { return !a.probe }
func probePhase(a *fleetAnswer) bool { return a.probe }
func anyPhase(a *fleetAnswer) bool   { return true }
func sentIn(from, to time.Duration) func(a *fleetAnswer) bool {
	return func(a *fleetAnswer) bool { return !a.probe && a.sent >= from && a.sent < to }
}

// sendSpan is the time between the first and the last request sent of
// those keep selects. The limit admits by the time requests arrive, so
// what it should admit is reckoned from when the load was sent: a test
// process that stalls sends late and in a burst, and a burst is refused
// by any correct limit.
func sendSpan(as []fleetAnswer, keep func(a *fleetAnswer) bool) time.Duration {
	first, last, seen := time.Duration(0), time.Duration(0), false
	for i := range as {
		a := &as[i]
		if !keep(a) {
			continue
		}
		if !seen || a.sent < first {
			first = a.sent
		}
		if !seen || a.sent > last {
			last = a.sent
		}
		seen = true
	}
	return last - first
}

// checkProbe asserts that the probe phase, all load to one instance, got
// the zone's whole rate over the time its requests were sent (± 15%),
// not a third of it: the instances share one bucket, rather than each
// enforcing rate/3 (which gives the same total under an even load).
func checkProbe(t *testing.T, as []fleetAnswer, when string) {
	t.Helper()
	probe := countAnswers(as, probePhase)
	span := sendSpan(as, probePhase)
	want := fleetRate * span.Seconds()
	if span < fleetProbe/2 {
		t.Logf("WARNING: the probe's requests were sent within %v instead of %v (the test process stalled)", span, fleetProbe)
	}
	if !within(probe.ok, want, 0.15) {
		t.Errorf("%sall load to one instance, sent over %v: %d admitted, want the zone's whole rate over that time, %.0f ± 15%% (one bucket for the fleet, not rate/%d each)",
			when, span.Round(time.Millisecond), probe.ok, want, fleetSize)
	}
}

// okPerSecond is the number of 200s per second of sending, main phase
// then probe, for the log.
func okPerSecond(as []fleetAnswer) string {
	secs := int((fleetMain + fleetProbe) / time.Second)
	counts := make([]int, secs+1)
	for _, a := range as {
		if a.status == 200 {
			counts[min(int(a.sent/time.Second), secs)]++
		}
	}
	parts := make([]string, len(counts))
	for i, n := range counts {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, " ")
}

// quantile returns the q-quantile of the durations f(a) over the answered
// requests keep selects, and how many there were.
func quantile(as []fleetAnswer, keep func(a *fleetAnswer) bool, f func(a *fleetAnswer) time.Duration, q float64) (time.Duration, int) {
	var ds []time.Duration
	for i := range as {
		if a := &as[i]; a.status != 0 && keep(a) {
			ds = append(ds, f(a))
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1)], len(ds)
}

func latency(a *fleetAnswer) time.Duration   { return a.done - a.sent }
func queueWait(a *fleetAnswer) time.Duration { return a.sent - a.sched }

// within reports whether got is within frac (e.g. 0.05) of want.
func within(got int, want, frac float64) bool {
	return math.Abs(float64(got)-want) <= frac*want
}

// logFleetRun logs the figures of one load run.
func logFleetRun(t *testing.T, name string, as []fleetAnswer) {
	t.Helper()
	t.Logf("%s: main %v", name, countAnswers(as, mainPhase))
	t.Logf("%s: probe (all load to instance 0) %v", name, countAnswers(as, probePhase))
	t.Logf("%s: 200s per second of the run (last: probe): %s", name, okPerSecond(as))
	p99, n := quantile(as, anyPhase, latency, 0.99)
	wait, _ := quantile(as, anyPhase, queueWait, 0.99)
	maxWait, _ := quantile(as, anyPhase, queueWait, 1)
	t.Logf("%s: answer latency p99 %v over %d answers; load generator queueing p99 %v, max %v",
		name, p99.Round(10*time.Microsecond), n, wait.Round(10*time.Microsecond), maxWait.Round(10*time.Microsecond))
	if maxWait > 250*time.Millisecond {
		t.Logf("%s: WARNING: requests waited up to %v to be sent: the machine (or the servers) stalled, the figures per second are shifted",
			name, maxWait.Round(time.Millisecond))
	}
}

// TestZoneSyncLimitReqFleet checks that three headroom instances sharing a
// sync zone through Redis admit, together, what one server admits alone:
// 1000 requests/s round robin over the three for 10 s, rate=100r/s
// burst=20 nodelay, and the number of 200s within 5% of one nginx's under
// the same load (or of the arithmetic 1 + 20 + 100×10 without nginx), with
// no outcome other than 200 and 503. Then 1 s of the same load to one
// instance only must get the whole zone's rate (100 ± 15%), not a third of
// it: the instances share one bucket, rather than each enforcing rate/3
// (which gives the same total under an even load).
func TestZoneSyncLimitReqFleet(t *testing.T) {
	r := startRedis(t)
	hr, ng := zoneSyncTargets(t)
	root, _ := staticRoot(t)
	fleet := startFleet(t, hr, fleetSize, fleetHTTP(root, "zone_sync "+r.url()+" timeout=20ms"))
	waitFleetConnected(t, r, fleetSize)
	var alone, three []string
	if ng != nil {
		alone = startFleet(t, ng, 1, fleetHTTP(root, ""))
		three = startFleet(t, ng, fleetSize, fleetHTTP(root, ""))
	} else {
		t.Logf("nginx not installed: comparing with the arithmetic 1 + %d + %d×%v = %.0f instead of one nginx",
			fleetBurst, fleetRate, fleetMain.Seconds(), fleetExpected(fleetMain))
	}

	// The three runs at once, under the same conditions.
	start := time.Now().Add(200 * time.Millisecond)
	var fleetAns, aloneAns, threeAns []fleetAnswer
	var wg sync.WaitGroup
	run := func(addrs []string, out *[]fleetAnswer) {
		if addrs == nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			*out = runFleetLoad(addrs, start)
		}()
	}
	run(fleet, &fleetAns)
	run(alone, &aloneAns)
	run(three, &threeAns)
	wg.Wait()

	logFleetRun(t, "headroom fleet of 3 with zone_sync", fleetAns)
	want, ref := fleetExpected(fleetMain), fmt.Sprintf("the arithmetic 1 + %d + %d×%v", fleetBurst, fleetRate, fleetMain.Seconds())
	if ng != nil {
		logFleetRun(t, "one nginx alone", aloneAns)
		logFleetRun(t, "three nginx side by side", threeAns)
		want, ref = float64(countAnswers(aloneAns, mainPhase).ok), "one nginx alone"
		t.Logf("arithmetic 1 + %d + %d×%v = %.0f", fleetBurst, fleetRate, fleetMain.Seconds(), fleetExpected(fleetMain))
	}
	if keys, err := r.do("DBSIZE"); err == nil {
		t.Logf("redis after the load: %s keys", keys)
	}

	all := countAnswers(fleetAns, anyPhase)
	if all.errs > 0 || all.otherCount() > 0 {
		t.Errorf("fleet: outcomes other than 200 and 503: %v", all)
	}
	mainCount := countAnswers(fleetAns, mainPhase)
	if !within(mainCount.ok, want, 0.05) {
		t.Errorf("fleet admitted %d requests in %v, want %s's %.0f ± 5%%", mainCount.ok, fleetMain, ref, want)
	}
	checkProbe(t, fleetAns, "")
}

// zoneSyncOutage runs a fleet of three under the load and takes Redis away
// from 5 s to 7 s of the 10 s: down at 5 s, up at 7 s. zoneSync is the
// zone_sync directive with %s for the server's URL.
func zoneSyncOutage(t *testing.T, zoneSync, what string, down, up func(r *redisServer)) {
	r := startRedis(t)
	hr, _ := zoneSyncTargets(t)
	root, _ := staticRoot(t)
	fleet := startFleet(t, hr, fleetSize, fleetHTTP(root, fmt.Sprintf(zoneSync, r.url())))
	waitFleetConnected(t, r, fleetSize)
	const downAt, upAt = 5 * time.Second, 7 * time.Second

	start := time.Now().Add(200 * time.Millisecond)
	var wentDown, cameUp time.Duration
	events := make(chan struct{})
	go func() {
		defer close(events)
		time.Sleep(time.Until(start.Add(downAt)))
		down(r)
		wentDown = time.Since(start)
		time.Sleep(time.Until(start.Add(upAt)))
		up(r)
		cameUp = time.Since(start)
	}()
	ans := runFleetLoad(fleet, start)
	<-events
	t.Logf("redis %s at %v, back at %v", what, wentDown.Round(time.Millisecond), cameUp.Round(time.Millisecond))

	logFleetRun(t, "headroom fleet of 3", ans)
	before := sentIn(0, downAt)
	during := sentIn(downAt, upAt)
	after := sentIn(upAt, fleetMain)
	for _, ph := range []struct {
		name string
		keep func(a *fleetAnswer) bool
	}{{"before the outage (0-5s)", before}, {"during the outage (5-7s)", during}, {"after the outage (7-10s)", after}} {
		p50, n := quantile(ans, ph.keep, latency, 0.5)
		p99, _ := quantile(ans, ph.keep, latency, 0.99)
		pmax, _ := quantile(ans, ph.keep, latency, 1)
		t.Logf("latency %s: p50 %v, p99 %v, max %v over %d answers; %v", ph.name,
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), pmax.Round(10*time.Microsecond), n, countAnswers(ans, ph.keep))
	}
	if keys, err := r.do("DBSIZE"); err == nil {
		t.Logf("redis after the load: %s keys", keys)
	}

	all := countAnswers(ans, anyPhase)
	if all.errs > 0 || all.otherCount() > 0 {
		t.Errorf("outcomes other than 200 and 503 (statuses or connection errors): %v", all)
	}
	mainCount := countAnswers(ans, mainPhase)
	if want := fleetExpected(sendSpan(ans, mainPhase)); !within(mainCount.ok, want, 0.15) {
		t.Errorf("the fleet admitted %d requests in %v with Redis away for 2 s, want the limit's %.0f ± 15%%", mainCount.ok, fleetMain, want)
	}
	lastWindow := sentIn(fleetMain-2*time.Second, fleetMain)
	last := countAnswers(ans, lastWindow)
	if want := fleetRate * sendSpan(ans, lastWindow).Seconds(); !within(last.ok, want, 0.15) {
		t.Errorf("last 2 s (8-10s): %d admitted, want the exact limit's %.0f ± 15%%", last.ok, want)
	}
	checkProbe(t, ans, "after the outage, ")
	// A generous sanity bound, not a performance figure: the deadline is
	// 20 ms, so an answer taking a second means the deadline was not
	// applied.
	if p99, n := quantile(ans, during, latency, 0.99); n > 0 && p99 > time.Second {
		t.Errorf("during the outage the p99 answer latency was %v (timeout=20ms); requests wait for Redis beyond the deadline", p99)
	}
}

// TestZoneSyncRedisFailure kills Redis (SIGKILL) 5 s into the load and
// starts an empty one on the same port at 7 s. With the default fallback
// (share) the fleet keeps enforcing the rate throughout: every request is
// answered 200 or 503, the whole run admits the limit's 1 + 20 + 100×10
// ± 15%, and by 8 s the limits are exact again: 200 ± 15% admitted from 8
// to 10 s, and one instance alone gets the zone's whole rate afterwards.
// Latencies before and during the outage are logged.
func TestZoneSyncRedisFailure(t *testing.T) {
	// No fallback parameter: share is the default.
	zoneSyncOutage(t, "zone_sync %s timeout=20ms", "killed (SIGKILL)",
		(*redisServer).kill9, (*redisServer).restart)
}

// TestZoneSyncRedisStopped is TestZoneSyncRedisFailure with Redis frozen
// (SIGSTOP) from 5 s to 7 s: connections are accepted and requests never
// answered, which only the timeout can tell; SIGCONT at 7 s, with the
// buckets still in Redis.
func TestZoneSyncRedisStopped(t *testing.T) {
	zoneSyncOutage(t, "zone_sync %s timeout=20ms fallback=share", "stopped (SIGSTOP)",
		(*redisServer).stop, (*redisServer).cont)
}

// TestZoneSyncConfigErrors checks the configuration test (-t) of zone_sync:
// "sync" without zone_sync is an error at the limit_req_zone's line, a
// URL other than redis:// is an error, and a Redis server that does not
// answer is no error, since -t checks the syntax without connecting.
func TestZoneSyncConfigErrors(t *testing.T) {
	t.Parallel()
	hr, _ := zoneSyncTargets(t)
	prefix := makePrefix(t)
	head := "daemon off;\npid " + prefix + "/logs/p.pid;\nerror_log " + prefix + "/logs/error.log info;\nevents { }\nhttp {\n"
	// Line 6 is the first line of the http block.
	const server = "    server {\n        listen 127.0.0.1:9;\n        location / { limit_req zone=one burst=20 nodelay; }\n    }\n}\n"
	write := func(name, text string) string {
		path := filepath.Join(prefix, "conf", name)
		if err := os.WriteFile(path, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// emerg returns the [emerg] lines of stderr.
	emerg := func(stderr string) string {
		var lines []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.Contains(l, "[emerg]") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}

	t.Run("sync without zone_sync", func(t *testing.T) {
		conf := write("nosync.conf", head+
			"    limit_req_zone $server_name zone=one:1m rate=100r/s sync;\n"+server)
		_, stderr, code := runCLI(t, hr, proxyArgs(hr, prefix, conf, "-t")...)
		if code != 1 {
			t.Errorf("exit code %d, want 1\n%s", code, stderr)
		}
		msg := emerg(stderr)
		if want := fmt.Sprintf(" in %s:6", conf); !strings.Contains(msg, want) {
			t.Errorf("no [emerg] at the limit_req_zone line (%q) in:\n%s", want, stderr)
		}
		// The directive at fault and the one missing.
		for _, name := range []string{"limit_req_zone", "zone_sync"} {
			if !strings.Contains(msg, name) {
				t.Errorf("the error does not name %s:\n%s", name, stderr)
			}
		}
		if want := "configuration file " + conf + " test failed\n"; !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	})

	t.Run("not a redis URL", func(t *testing.T) {
		conf := write("http.conf", head+
			"    zone_sync http://x;\n"+
			"    limit_req_zone $server_name zone=one:1m rate=100r/s sync;\n"+server)
		_, stderr, code := runCLI(t, hr, proxyArgs(hr, prefix, conf, "-t")...)
		if code != 1 {
			t.Errorf("exit code %d, want 1\n%s", code, stderr)
		}
		msg := emerg(stderr)
		if !strings.Contains(msg, `invalid URL "http://x"`) || !strings.Contains(msg, fmt.Sprintf(" in %s:6", conf)) {
			t.Errorf("want an [emerg] invalid URL \"http://x\" error in %s:6, got:\n%s", conf, stderr)
		}
		if want := "configuration file " + conf + " test failed\n"; !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	})

	for _, tc := range []struct{ name, directive string }{
		// Nothing listens on port 1: -t does not connect.
		{"nothing listening", "zone_sync redis://127.0.0.1:1;"},
		{"timeout and fallback=share", "zone_sync redis://127.0.0.1:1 timeout=20ms fallback=share;"},
		{"fallback=local", "zone_sync redis://127.0.0.1:1 fallback=local;"},
		{"fallback=deny", "zone_sync redis://127.0.0.1:1 timeout=1s fallback=deny;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := write(strings.ReplaceAll(tc.name, " ", "_")+".conf", head+
				"    "+tc.directive+"\n"+
				"    limit_req_zone $server_name zone=one:1m rate=100r/s sync;\n"+server)
			_, stderr, code := runCLI(t, hr, proxyArgs(hr, prefix, conf, "-t")...)
			if code != 0 {
				t.Errorf("%s: exit code %d, want 0\n%s", tc.directive, code, stderr)
			}
			for _, want := range []string{
				"the configuration file " + conf + " syntax is ok\n",
				"configuration file " + conf + " test is successful\n",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// heldUpstream is an upstream that holds every request until release is
// closed or its connection is closed, counting the requests it holds now
// and at most.
type heldUpstream struct {
	*upstream
	release        chan struct{}
	mu             sync.Mutex
	inFlight, peak int
	seen           int
	releaseOnce    sync.Once
}

func newHeldUpstream(t *testing.T) *heldUpstream {
	h := &heldUpstream{release: make(chan struct{})}
	h.upstream = newUpstream(t, "held", func(c *upConn, r *upRequest) {
		h.mu.Lock()
		h.inFlight++
		h.seen++
		h.peak = max(h.peak, h.inFlight)
		release := h.release
		h.mu.Unlock()
		// A proxy that goes away closes the connection: the request
		// is no longer held.
		gone := make(chan struct{})
		go func() {
			var b [1]byte
			c.Conn.Read(b[:])
			close(gone)
		}()
		select {
		case <-release:
		case <-c.stopping:
		case <-gone:
		}
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
		c.respond(200, "ok")
	})
	return h
}

func (h *heldUpstream) counts() (inFlight, peak, seen int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inFlight, h.peak, h.seen
}

// letGo answers every request held and those to come.
func (h *heldUpstream) letGo() { h.releaseOnce.Do(func() { close(h.release) }) }

// waitFor polls cond every 10 ms for up to d and reports whether it held.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// TestZoneSyncLimitConnFleet checks limit_conn shared by three instances
// through Redis: with "limit_conn c 10" and 30 slow requests spread over
// the instances, exactly 10 reach the upstream and 20 are refused; once
// they end, the count is back to none; and the requests of an instance
// killed while it holds 5 stop counting once its lease runs out (within
// 3 s), so that other instances may use them.
func TestZoneSyncLimitConnFleet(t *testing.T) {
	r := startRedis(t)
	hr, _ := zoneSyncTargets(t)
	up := newHeldUpstream(t)
	conf := fmt.Sprintf(`
    zone_sync %s timeout=20ms;
    limit_conn_zone $server_name zone=c:1m sync;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name %s;
        location / { limit_conn c 10; proxy_pass http://%s; }
    }`, r.url(), fleetHost, up.addr)
	var fleet []*proxy
	for i := 0; i < fleetSize; i++ {
		fleet = append(fleet, startProxy(t, hr, conf))
	}
	waitFleetConnected(t, r, fleetSize)

	type result struct{ status int }
	send := func(p *proxy, out chan<- result) {
		go func() {
			c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
			if err != nil {
				out <- result{}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", fleetHost)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				out <- result{}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out <- result{resp.StatusCode}
		}()
	}

	// 30 at once, 10 to each instance.
	answers := make(chan result, 100)
	for i := 0; i < 30; i++ {
		send(fleet[i%fleetSize], answers)
	}
	refused := 0
	for refused < 20 {
		select {
		case a := <-answers:
			if a.status != 503 {
				t.Fatalf("while 10 are in flight an answer %d came, want 503 (or none)", a.status)
			}
			refused++
		case <-time.After(10 * time.Second):
			in, peak, _ := up.counts()
			t.Fatalf("%d refused after 10 s; upstream holds %d (peak %d)", refused, in, peak)
		}
	}
	// Whatever was let through has had time to reach the upstream.
	waitFor(2*time.Second, func() bool { in, _, _ := up.counts(); return in >= 10 })
	time.Sleep(200 * time.Millisecond)
	if in, peak, _ := up.counts(); in != 10 || peak != 10 {
		t.Errorf("30 requests with limit_conn 10 across 3 instances: upstream holds %d (peak %d), want exactly 10", in, peak)
	}
	up.letGo()
	for i := 0; i < 10; i++ {
		if a := <-answers; a.status != 200 {
			t.Errorf("a request let through was answered %d", a.status)
		}
	}

	// The requests ended and released their counts in Redis.
	key := "headroom:limit_conn:1:c:" + fleetHost
	if !waitFor(2*time.Second, func() bool { n, err := r.do("HLEN", key); return err == nil && n == "0" }) {
		n, _ := r.do("HGETALL", key)
		t.Errorf("the requests ended, but Redis still counts %s for the key", n)
	}

	// Instance 0 holds 5, instance 1 holds 5; instance 0 is killed.
	up.mu.Lock()
	up.release = make(chan struct{})
	up.releaseOnce = sync.Once{}
	up.peak = 0
	up.mu.Unlock()
	held := make(chan result, 100)
	for i := 0; i < 5; i++ {
		send(fleet[0], held)
	}
	if !waitFor(5*time.Second, func() bool { in, _, _ := up.counts(); return in == 5 }) {
		in, _, _ := up.counts()
		t.Fatalf("instance 0's 5 requests: the upstream holds %d", in)
	}
	for i := 0; i < 5; i++ {
		send(fleet[1], held)
	}
	if !waitFor(5*time.Second, func() bool { in, _, _ := up.counts(); return in == 10 }) {
		in, _, _ := up.counts()
		t.Fatalf("10 requests of instances 0 and 1: the upstream holds %d", in)
	}
	// The limit is reached: one more is refused.
	one := make(chan result, 1)
	send(fleet[2], one)
	if a := <-one; a.status != 503 {
		t.Errorf("an 11th request was answered %d, want 503", a.status)
	}
	fleet[0].stopSignal(syscall.SIGKILL)
	killed := time.Now()
	// Once instance 0's lease runs out its 5 count no more: instance 2
	// gets them. One request at a time until one is let through (it
	// reaches the upstream), then the other four at once.
	var freed time.Duration
	for freed == 0 && time.Since(killed) < 10*time.Second {
		a := make(chan result, 1)
		_, _, seen := up.counts()
		send(fleet[2], a)
		select {
		case res := <-a:
			if res.status != 503 {
				t.Fatalf("instance 2 answered %d, want 503 while the limit holds", res.status)
			}
			time.Sleep(50 * time.Millisecond)
		case <-time.After(2 * time.Second):
			t.Fatalf("instance 2 neither refused nor passed a request in 2 s")
		case <-func() chan struct{} {
			ch := make(chan struct{})
			go func() {
				if waitFor(2*time.Second, func() bool { _, _, n := up.counts(); return n > seen }) {
					close(ch)
				}
			}()
			return ch
		}():
			freed = time.Since(killed)
		}
	}
	if freed == 0 {
		t.Fatalf("10 s after instance 0 was killed holding 5, its requests still count")
	}
	t.Logf("instance 0 killed holding 5: its requests stopped counting after %v", freed.Round(10*time.Millisecond))
	if freed > 4*time.Second {
		t.Errorf("instance 0's requests were free after %v, want within the 3 s lease (and a second's slack)", freed)
	}
	for i := 0; i < 4; i++ {
		send(fleet[2], held)
	}
	if !waitFor(5*time.Second, func() bool { in, _, _ := up.counts(); return in == 10 }) {
		in, _, _ := up.counts()
		t.Errorf("instance 2 should hold instance 0's 5 now: the upstream holds %d of 10", in)
	}
	time.Sleep(200 * time.Millisecond)
	if in, _, _ := up.counts(); in != 10 {
		t.Errorf("the upstream holds %d, want the limit's 10", in)
	}
	up.letGo()
}

// TestZoneSyncMaxConnsFleet checks max_conns shared by three instances
// through Redis (zone ... sync): 30 slow requests spread over the
// instances, with a queue, are all answered, and the upstream never has
// more than the server's max_conns=5 of them at once, where three
// instances on their own would let 15 through.
func TestZoneSyncMaxConnsFleet(t *testing.T) {
	r := startRedis(t)
	hr, _ := zoneSyncTargets(t)
	var mu sync.Mutex
	inFlight, peak := 0, 0
	up := newUpstream(t, "slow", func(c *upConn, req *upRequest) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		c.sleep(200 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		c.respond(200, "ok")
	})
	conf := fmt.Sprintf(`
    zone_sync %s timeout=20ms;
    upstream app {
        zone app 64k sync;
        server %s max_conns=5;
        queue 100 timeout=30s;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://app; }
    }`, r.url(), up.addr)
	var fleet []*proxy
	for i := 0; i < fleetSize; i++ {
		fleet = append(fleet, startProxy(t, hr, conf))
	}
	waitFleetConnected(t, r, fleetSize)
	// Each instance leases places when it connects; give them a tick.
	time.Sleep(1100 * time.Millisecond)

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	codes := make([]int, 30)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := client.Get(fleet[i%fleetSize].url("/"))
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	took := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("30 requests held 200 ms each through 3 instances with max_conns=5 shared: done in %v, upstream peak %d", took.Round(10*time.Millisecond), peak)
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: status %d, want 200 (queued until a place frees)", i, c)
		}
	}
	if peak > 5 {
		t.Errorf("the upstream had %d requests at once, more than max_conns=5 for the fleet", peak)
	}
	if keys, err := r.do("HGETALL", "headroom:max_conns:3:app:"+up.addr); err == nil {
		t.Logf("places leased after the load: %s", keys)
	}
}

// TestZoneSyncReload checks that a reload keeps what the fleet knows: the
// buckets stay in Redis (a key refused before the reload is refused after
// it), and the instance keeps its name, so it holds one lease in the
// fleet's set rather than counting twice until the old one runs out.
func TestZoneSyncReload(t *testing.T) {
	r := startRedis(t)
	hr, _ := zoneSyncTargets(t)
	root, _ := staticRoot(t)
	conf := func(marker string) string {
		return fmt.Sprintf(`
    zone_sync %s timeout=20ms;
    limit_req_zone $server_name zone=one:1m rate=1r/m sync;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name %s;
        root %s;
        location / { limit_req zone=one nodelay; add_header X-Conf %s always; }
    }`, r.url(), fleetHost, root, marker)
	}
	p := startProxy(t, hr, conf("1"))
	waitFleetConnected(t, r, 1)
	get := func() (int, string) {
		resp := fleetGet(t, p)
		return resp.StatusCode, resp.Header.Get("X-Conf")
	}
	if a, _ := get(); a != 200 {
		t.Fatalf("first request: %d, want 200", a)
	}
	if b, _ := get(); b != 503 {
		t.Fatalf("second request at 1r/m: %d, want 503", b)
	}
	text := p.expand(renderConfig(p.prefix, proxyConfig{http: conf("2")}))
	if err := os.WriteFile(p.conf, []byte(text), 0o666); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	if !waitFor(5*time.Second, func() bool { _, c := get(); return c == "2" }) {
		t.Fatal("the new configuration does not answer 5 s after SIGHUP")
	}
	if st, _ := get(); st != 503 {
		t.Errorf("after the reload: %d, want 503 (the bucket is in Redis, not in the process)", st)
	}
	time.Sleep(1500 * time.Millisecond)
	if n, err := r.do("ZCARD", "headroom:instances"); err != nil || n != "1" {
		t.Errorf("instances in the fleet's set after a reload: %s (%v), want 1", n, err)
	}
}

// TestZoneSyncMetrics checks what the metrics say of the store: the
// connection up and in its slot, the live instances, the round trip, and
// who decided each check — the store while it answers, the fallback once
// it is gone.
func TestZoneSyncMetrics(t *testing.T) {
	r := startRedis(t)
	hr, _ := zoneSyncTargets(t)
	root, _ := staticRoot(t)
	p := startProxy(t, hr, fmt.Sprintf(`
    zone_sync %s timeout=20ms;
    limit_req_zone $server_name zone=one:1m rate=100r/s sync;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name %s;
        root %s;
        location / { limit_req zone=one burst=100 nodelay; }
        location = /metrics { metrics; }
    }`, r.url(), fleetHost, root))
	waitFleetConnected(t, r, 1)
	get := func() { fleetGet(t, p) }
	const store = `headroom_zone_sync_checks_total{zone="one",kind="limit_req",decided_by="store"}`
	const fallback = `headroom_zone_sync_checks_total{zone="one",kind="limit_req",decided_by="fallback"}`
	for i := 0; i < 5; i++ {
		get()
	}
	var m map[string]float64
	waitFor(2*time.Second, func() bool { m = scrape(t, p, "/metrics"); return m[store] >= 5 })
	for name, want := range map[string]float64{
		"headroom_zone_sync_up":                                 1,
		"headroom_zone_sync_instances":                          1,
		`headroom_worker_slots_in_use{worker="0",kind="store"}`: 1,
		store:    5,
		fallback: 0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if rtt := m["headroom_zone_sync_round_trip_seconds"]; rtt <= 0 || rtt > 0.02 {
		t.Errorf("headroom_zone_sync_round_trip_seconds = %v, want a loopback round trip", rtt)
	}
	r.kill9()
	for i := 0; i < 3; i++ {
		get()
	}
	waitFor(2*time.Second, func() bool { m = scrape(t, p, "/metrics"); return m[fallback] >= 3 })
	if m[fallback] < 3 || m["headroom_zone_sync_up"] != 0 || m[`headroom_worker_slots_in_use{worker="0",kind="store"}`] != 0 {
		t.Errorf("with Redis gone: fallback %v (want 3 or more), up %v, store slot %v (want 0)",
			m[fallback], m["headroom_zone_sync_up"], m[`headroom_worker_slots_in_use{worker="0",kind="store"}`])
	}
}

// TestZoneSyncFallbacks checks what a synced zone enforces once Redis is
// gone, for the fallbacks the share test does not run: "deny" refuses
// every request the zone limits, "local" enforces the whole limit on the
// instance (at 1r/m with no burst: the first request passes, the second
// is refused).
func TestZoneSyncFallbacks(t *testing.T) {
	hr, _ := zoneSyncTargets(t)
	root, _ := staticRoot(t)
	for _, tc := range []struct {
		fallback string
		want     []int
	}{
		{"deny", []int{503, 503}},
		{"local", []int{200, 503}},
	} {
		t.Run(tc.fallback, func(t *testing.T) {
			r := startRedis(t)
			p := startProxy(t, hr, fmt.Sprintf(`
    zone_sync %s timeout=20ms fallback=%s;
    limit_req_zone $server_name zone=one:1m rate=1r/m sync;
    server {
        listen 127.0.0.1:{{PORT}};
        server_name %s;
        root %s;
        location / { limit_req zone=one nodelay; }
    }`, r.url(), tc.fallback, fleetHost, root))
			waitFleetConnected(t, r, 1)
			r.kill9()
			for i, want := range tc.want {
				if resp := fleetGet(t, p); resp.StatusCode != want {
					t.Errorf("request %d with Redis gone: %d, want %d", i+1, resp.StatusCode, want)
				}
			}
			if log := p.readLog("error.log"); !strings.Contains(log, `limit_req zone "one"`) {
				t.Errorf("the error log does not say what the zone enforces:\n%s", log)
			}
		})
	}
}

// fleetGet asks one instance for the fleet's file and returns its answer,
// the body read and closed.
func fleetGet(t *testing.T, p *proxy) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url(fleetPath), nil)
	req.Host = fleetHost
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
