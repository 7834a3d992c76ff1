package doctor

import (
	"fmt"
	"strconv"

	"headroom/internal/capacity"
)

// widestPorts is the ephemeral port range 1024-65535: every port that is
// not privileged.
const widestPorts = 65535 - 1024 + 1

// fixContext is what fixes need besides the model's inputs: where the
// directives are, how to name files, and for whom to write limits.
type fixContext struct {
	ps   places
	nm   namer
	m    capacity.Machine
	main string // the main file, as shown
}

// candidate is a fix with the inputs it leads to.
type candidate struct {
	p   params
	fix Fix
	// by names the fixer that proposed it.
	by string
}

// fixer proposes the fix for one limit that lets the server hold want
// concurrent proxied requests, or none when that limit is not in the way.
type fixer func(p params, cur result, want int, fc fixContext) (candidate, bool)

// namedFixer is a fixer with the limit it raises.
type namedFixer struct {
	limit string
	fix   fixer
}

// fixers are tried in this order; on equal gain the earlier one is
// chosen, so that a line in the configuration comes before a change to
// the machine.
var fixers = []namedFixer{
	{limWC, fixWorkerConnections},
	{limWorkers, fixWorkerProcesses},
	{"open file limit", fixNofile},
	{limFileMax, fixFileMax},
	{limPorts, fixPorts},
	{limConntrack, fixConntrack},
	{limMemoryMax, fixMemory},
}

// maxFixes bounds the chain of fixes.
const maxFixes = 10

// greedyFixes makes the fixes named in first, then chooses more greedily,
// looking one fix ahead: at each step it takes the fix after which, alone
// or followed by the best next one, the server holds the most, computed
// again with the model. Looking ahead matters when two limits bind at
// nearly the same figure: raising either alone gains little, and a fix
// that gains more at once (another worker) would lead away from the pair
// that gains most. On equal prospects the fix that gains more at once
// comes first, then the earlier fixer. It returns the fixes, the outcome
// and the names of the fixers used, in order.
func greedyFixes(p params, want int, fc fixContext, first []string) ([]Fix, result, []string) {
	var fixes []Fix
	var chain []string
	cur := evaluate(p)
	for _, name := range first {
		for _, nf := range fixers {
			if nf.limit != name {
				continue
			}
			if c, ok := nf.fix(p, cur, want, fc); ok {
				r := evaluate(c.p)
				after := capacityOf(c.p, r)
				c.fix.After = &after
				fixes = append(fixes, c.fix)
				p, cur = c.p, r
				chain = append(chain, name)
			}
		}
	}
	for len(fixes) < maxFixes && cur.proxied < want {
		var best *candidate
		var bestR result
		bestScore := cur.proxied
		for _, nf := range fixers {
			c, ok := nf.fix(p, cur, want, fc)
			if !ok {
				continue
			}
			c.by = nf.limit
			r := evaluate(c.p)
			score := r.proxied
			for _, nf2 := range fixers {
				if c2, ok := nf2.fix(c.p, r, want, fc); ok {
					score = max(score, evaluate(c2.p).proxied)
				}
			}
			if score > bestScore || (best != nil && score == bestScore && r.proxied > bestR.proxied) {
				best, bestR, bestScore = &c, r, score
			}
		}
		if best == nil {
			break
		}
		after := capacityOf(best.p, bestR)
		best.fix.After = &after
		fixes = append(fixes, best.fix)
		p, cur = best.p, bestR
		chain = append(chain, best.by)
	}
	return fixes, cur, chain
}

// planFixes plans the fixes and, when more workers are among them, plans
// again with that fix first: the other fixes size worker_connections and
// open file limits per worker, so they must know how many workers there
// will be.
func planFixes(p params, want int, fc fixContext) ([]Fix, result) {
	fixes, cur, chain := greedyFixes(p, want, fc, nil)
	for i, name := range chain {
		if i > 0 && name == limWorkers {
			fixes, cur, _ = greedyFixes(p, want, fc, []string{limWorkers})
			break
		}
	}
	return fixes, cur
}

// perRequest is the number of connections a request holds: two when the
// server proxies.
func (p params) perRequest() int {
	if p.proxies {
		return 2
	}
	return 1
}

// ceilDiv divides rounding up.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// roundUp rounds n up to a multiple of step.
func roundUp(n, step int) int { return ceilDiv(n, step) * step }

// pow2 is the smallest power of two not below n: limits are written that
// way by convention, and it leaves room.
func pow2(n int) int {
	v := 1
	for v < n {
		v <<= 1
	}
	return v
}

// mainContext is where to add a main-context directive.
func (fc fixContext) mainContext() string {
	return fc.main + ", main context"
}

// fixWorkerConnections raises worker_connections to the slots want needs
// per worker. headroom derives the figure when it is unset, so there is
// nothing to raise then.
func fixWorkerConnections(p params, cur result, want int, fc fixContext) (candidate, bool) {
	if p.server == headroom && p.wc == 0 {
		return candidate{}, false
	}
	w := p.workers()
	each := ceilDiv(want, w) * p.perRequest()
	need := each + p.listeners()
	if p.server == nginx {
		need++
	}
	v := roundUp(need, 1024)
	from := p.wc
	if from == 0 {
		from = nginxDefaultConnections
	}
	if v <= from {
		return candidate{}, false
	}
	q := p
	q.wc = v
	ch := Change{Line: fmt.Sprintf("worker_connections %d;", v)}
	switch {
	case fc.ps.workerConnections.ok():
		ch.Where = fc.nm.place(fc.ps.workerConnections)
	case fc.ps.events.ok():
		ch.Where = "events block at " + fc.nm.place(fc.ps.events)
		ch.Note = "add it"
	default:
		ch.Where = fc.main
		ch.Note = "add it in an events block"
	}
	why := fmt.Sprintf("%d slots per worker hold %d requests each", v, (v-p.listeners()-1)/p.perRequest())
	if p.server == headroom {
		why = fmt.Sprintf("%d slots per worker let clients hold %d of them", v, capacity.ClientBudget(v, p.listeners()))
	}
	return candidate{p: q, fix: Fix{Limit: limWC, From: strconv.Itoa(from), To: strconv.Itoa(v), Changes: []Change{ch}, Why: why}}, true
}

// fixWorkerProcesses runs a worker per CPU where fewer are configured: for
// nginx each worker brings its own slots and open file limit.
func fixWorkerProcesses(p params, cur result, want int, fc fixContext) (candidate, bool) {
	if p.workersConf == 0 || p.workersConf >= p.cpus {
		return candidate{}, false
	}
	q := p
	q.workersConf = 0
	ch := Change{Line: "worker_processes auto;"}
	if fc.ps.workerProcesses.ok() {
		ch.Where = fc.nm.place(fc.ps.workerProcesses)
	} else {
		ch.Where, ch.Note = fc.mainContext(), "add it"
	}
	why := fmt.Sprintf("one worker per CPU (%d)", p.cpus)
	return candidate{p: q, fix: Fix{Limit: limWorkers, From: strconv.Itoa(p.workersConf), To: fmt.Sprintf("auto (%d)", p.cpus), Changes: []Change{ch}, Why: why}}, true
}

// withNofile is p with the open file limit raised to v everywhere it is
// set: soft and hard limits, worker_rlimit_nofile when written, and
// fs.nr_open when it is lower. A running server's limits no longer apply:
// the change takes effect at its next start.
func withNofile(p params, v int) params {
	q := p
	q.soft, q.hard = uint64(v), uint64(v)
	if q.wrlimit > 0 {
		q.wrlimit = v
	}
	q.workerNofile = 0
	q.running = false
	if q.nrOpen > 0 && uint64(v) > q.nrOpen {
		q.nrOpen = uint64(v)
	}
	return q
}

// fixNofile raises the open file limit to the smallest power of two with
// which the descriptors allow want, found by computing the model again,
// and says where to set it: the service's unit, limits.conf, or
// worker_rlimit_nofile.
func fixNofile(p params, cur result, want int, fc fixContext) (candidate, bool) {
	const top = 1 << 30
	if evaluate(withNofile(p, top)).fdProxied < want {
		return candidate{}, false
	}
	lo, hi := 1, top
	for lo < hi {
		mid := lo + (hi-lo)/2
		if evaluate(withNofile(p, mid)).fdProxied >= want {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	v := min(pow2(lo), top)
	if v <= cur.nofile {
		return candidate{}, false
	}
	q := withNofile(p, v)
	svc := p.server
	systemd := Change{Where: "/etc/systemd/system/" + svc + ".service.d/override.conf", Line: fmt.Sprintf("[Service]\nLimitNOFILE=%d", v),
		Note: fmt.Sprintf("systemctl edit %s writes this file; then systemctl restart %s", svc, svc)}
	user := fc.m.User
	if user == "" {
		user = "*"
	}
	limitsConf := Change{Where: "/etc/security/limits.conf", Line: fmt.Sprintf("%s soft nofile %d\n%s hard nofile %d", user, v, user, v),
		Note: "for a server started from a login shell; applies from the next login"}
	wr := Change{Line: fmt.Sprintf("worker_rlimit_nofile %d;", v)}
	if fc.ps.workerRlimit.ok() {
		wr.Where = fc.nm.place(fc.ps.workerRlimit)
	} else {
		wr.Where, wr.Note = fc.mainContext(), "add it"
	}
	var chs []Change
	switch {
	case p.wrlimit > 0:
		// The directive overrides the inherited limits, so it must change;
		// above the hard limit only a server started as root may set it.
		chs = append(chs, wr)
		if uint64(v) > p.hard && !p.privileged {
			systemd.Join, limitsConf.Join = "and", "or"
			chs = append(chs, systemd, limitsConf)
		}
	default:
		wr.Join = "or"
		wr.Note = join(wr.Note, "applies when the server starts as root")
		limitsConf.Join = "or"
		chs = append(chs, systemd, limitsConf, wr)
	}
	if p.nrOpen > 0 && uint64(v) > p.nrOpen {
		chs = append(chs, Change{Join: "and", Where: sysctlFile(svc), Line: fmt.Sprintf("fs.nr_open = %d", v),
			Note: "no RLIMIT_NOFILE can exceed it; sysctl --system applies it"})
	}
	why := fmt.Sprintf("%d descriptors", v)
	if p.server == nginx {
		why += " per worker process"
	} else {
		why += fmt.Sprintf(" for the process, %d slots per worker", evaluate(q).slots)
	}
	name, from := cur.nofileName, cur.nofile
	if p.wrlimit > 0 {
		name, from = limWrlimit, p.wrlimit
	}
	return candidate{p: q, fix: Fix{Limit: name, From: strconv.Itoa(from), To: strconv.Itoa(v), Changes: chs, Why: why}}, true
}

// join joins two remarks with a semicolon.
func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// sysctlFile is where a server's kernel settings are written.
func sysctlFile(svc string) string {
	return "/etc/sysctl.d/90-" + svc + ".conf"
}

// sysctlNote is how kernel settings take effect.
const sysctlNote = "sysctl --system applies it now and at every boot"

// fixFileMax raises the machine's file handles above those in use by what
// want needs.
func fixFileMax(p params, cur result, want int, fc fixContext) (candidate, bool) {
	b, ok := cur.bound(limFileMax)
	if !ok || b.proxied >= want {
		return candidate{}, false
	}
	v := pow2(clamp(p.fileNr) + want*p.perRequest())
	q := p
	q.fileMax = uint64(v)
	ch := Change{Where: sysctlFile(p.server), Line: fmt.Sprintf("fs.file-max = %d", v), Note: sysctlNote}
	return candidate{p: q, fix: Fix{Limit: limFileMax, From: rlimText(p.fileMax), To: strconv.Itoa(v), Changes: []Change{ch},
		Why: "file handles for the whole machine"}}, true
}

// fixPorts widens the ephemeral port range to every unprivileged port; it
// cannot go further, so a goal beyond it needs more upstream addresses.
func fixPorts(p params, cur result, want int, fc fixContext) (candidate, bool) {
	b, ok := cur.bound(limPorts)
	if !ok || b.proxied >= want || p.ports >= widestPorts {
		return candidate{}, false
	}
	q := p
	q.ports = widestPorts
	ch := Change{Where: sysctlFile(p.server), Line: "net.ipv4.ip_local_port_range = 1024 65535",
		Note: "keep the ports local services listen on out of it with net.ipv4.ip_local_reserved_ports; " + sysctlNote}
	from := "unknown"
	if fc.m.PortLow.OK && fc.m.PortHigh.OK {
		from = fmt.Sprintf("%d %d", fc.m.PortLow.Value, fc.m.PortHigh.Value)
	}
	return candidate{p: q, fix: Fix{Limit: limPorts, From: from, To: "1024 65535", Changes: []Change{ch},
		Why: fmt.Sprintf("%d ports, so %d connections at once to each upstream address", widestPorts, widestPorts)}}, true
}

// fixConntrack makes room in the connection tracking table for want's
// connections.
func fixConntrack(p params, cur result, want int, fc fixContext) (candidate, bool) {
	b, ok := cur.bound(limConntrack)
	if !ok || b.proxied >= want {
		return candidate{}, false
	}
	v := pow2(want * p.perRequest())
	q := p
	q.conntrack = uint64(v)
	ch := Change{Where: sysctlFile(p.server), Line: fmt.Sprintf("net.netfilter.nf_conntrack_max = %d", v), Note: sysctlNote}
	return candidate{p: q, fix: Fix{Limit: limConntrack, From: rlimText(p.conntrack), To: strconv.Itoa(v), Changes: []Change{ch},
		Why: "one entry per client and per upstream connection"}}, true
}

// fixMemory raises the cgroup's memory limit to what want needs by the
// estimate, in whole GiB, or lifts it when that is the machine's memory.
func fixMemory(p params, cur result, want int, fc fixContext) (candidate, bool) {
	b, ok := cur.bound(limMemoryMax)
	if !ok || b.proxied >= want {
		return candidate{}, false
	}
	mm := memoryModel(p, p.workers())
	const gib = 1 << 30
	need := mm.BaseBytes + int64(want)*mm.RequestBytes
	v := (need + gib - 1) / gib * gib
	q := p
	line := fmt.Sprintf("[Service]\nMemoryMax=%dG", v/gib)
	to := bytesText(v)
	if p.memTotal > 0 && uint64(v) >= p.memTotal {
		q.memLimit = 0
		line, to = "[Service]\nMemoryMax=infinity", "none"
	} else {
		q.memLimit = uint64(v)
	}
	ch := Change{Where: "/etc/systemd/system/" + p.server + ".service.d/override.conf", Line: line,
		Note: fmt.Sprintf("systemctl edit %s writes this file; then systemctl restart %s", p.server, p.server)}
	return candidate{p: q, fix: Fix{Limit: limMemoryMax, From: bytesText(int64(p.memLimit)), To: to, Changes: []Change{ch},
		Why: fmt.Sprintf("%s per proxied request (estimate)", bytesText(mm.RequestBytes))}}, true
}

// ceiling is the most this machine holds once every setting is out of the
// way: the ephemeral ports of the widest range for the upstream group that
// fills first, and the machine's memory.
func ceiling(p params) (int, string) {
	q := p
	q.fileMax, q.conntrack, q.memLimit = 0, 0, 0
	if q.ports > 0 {
		q.ports = widestPorts
	}
	bs := machineBounds(q, p.workers())
	v, name := pick(bs, func(b bound) int { return b.proxied })
	switch name {
	case limPorts:
		return v, "the most the upstream addresses take with the widest ephemeral port range, 1024-65535"
	case limMemTotal:
		return v, "the most this machine's memory holds, by the estimate below"
	}
	return 1 << 16, "65536, since this machine's memory is unknown"
}

// remaining explains the limit that binds once the fixes are made, when
// the server still holds less than wanted.
func remaining(r result, want int) string {
	if r.proxied >= want {
		return ""
	}
	switch r.binding {
	case limPorts:
		return fmt.Sprintf("%s binds at %d: each upstream address takes at most %d connections at once; more addresses in the upstream group (another IP or port of the same backend) raise it", limPorts, r.proxied, widestPorts)
	case limMemTotal:
		return fmt.Sprintf("this machine's memory binds at %d", r.proxied)
	}
	return fmt.Sprintf("%s binds at %d; no line here raises it further", r.binding, r.proxied)
}
