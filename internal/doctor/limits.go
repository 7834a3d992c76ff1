package doctor

import (
	"fmt"
	"strconv"

	"headroom/internal/capacity"
)

// tableInput is what the limits table is made from.
type tableInput struct {
	p       params
	m       capacity.Machine
	r       result
	run     *capacity.Process
	pidFile string
	ps      places
	nm      namer
}

// limits lists every limit that takes part, in a fixed order: the
// configuration's, the open file limits, then the kernel's. The bounds of
// the model result fill the figures and mark the binding limit.
func limits(t tableInput) []Limit {
	var ls []Limit
	for _, l := range append(append(configLimits(t), nofileLimits(t)...), kernelLimits(t)...) {
		if b, ok := t.r.bound(l.Name); ok {
			l.Proxied = figure(b.proxied)
			l.Idle = figure(b.idle)
			l.Binds = l.Name == t.r.binding
		}
		ls = append(ls, l)
	}
	return ls
}

// source names where a directive is written, or def when it is not.
func (t tableInput) source(pl place, def string) string {
	if pl.ok() {
		return t.nm.place(pl)
	}
	return def
}

// configLimits are the directives: worker_connections, worker_processes
// and worker_rlimit_nofile.
func configLimits(t tableInput) []Limit {
	p, r := t.p, t.r
	l := p.listeners()
	conf := t.source
	var ls []Limit
	add := func(l Limit) { ls = append(ls, l) }

	// worker_connections
	wc := Limit{Name: limWC, Source: conf(t.ps.workerConnections, "")}
	switch {
	case p.server == nginx:
		wc.Value = strconv.Itoa(r.slots)
		if p.wc == 0 {
			wc.Source = "nginx's default"
		}
		wc.Note = fmt.Sprintf("(%d - %d listening %s - 1 channel to the master) / 2 per worker: a proxied request takes 2 slots", r.slots, l, plural(l, "socket", "sockets"))
		if !p.proxies {
			wc.Note = fmt.Sprintf("%d - %d listening %s - 1 channel to the master per worker", r.slots, l, plural(l, "socket", "sockets"))
		}
	case p.wc == 0:
		wc.Value = "unset"
		wc.Source = "derived"
		wc.Note = fmt.Sprintf("derived from the open file limit: %d slots per worker, (%d - %d listening) / 2 for clients", r.slots, r.slots, l)
	default:
		wc.Value = strconv.Itoa(p.wc)
		wc.Note = fmt.Sprintf("clients may hold (%d - %d listening) / 2 slots per worker, the rest are for their upstream connections", p.wc, l)
		if r.slots < p.wc {
			wc.Note = fmt.Sprintf("lowered to %d: workers x worker_connections must fit one RLIMIT_NOFILE", r.slots)
		}
	}
	add(wc)

	// worker_processes
	wp := Limit{Name: limWorkers, Value: strconv.Itoa(p.workersConf), Source: conf(t.ps.workerProcesses, "default")}
	if p.workersConf == 0 {
		wp.Value = fmt.Sprintf("auto (%d)", r.workers)
	}
	switch {
	case r.workers > p.cpus && p.cpus > 0:
		wp.Note = fmt.Sprintf("%d CPUs: more workers than CPUs take turns on the cores", p.cpus)
	case r.workers < p.cpus && p.server == nginx:
		wp.Note = fmt.Sprintf("%d CPUs: each nginx worker has its own slots and open file limit, so more workers hold more", p.cpus)
	case p.server == nginx:
		wp.Note = fmt.Sprintf("%d CPUs; each worker has its own slots and open file limit", p.cpus)
	default:
		wp.Note = fmt.Sprintf("%d CPUs; the workers are threads sharing one open file limit", p.cpus)
	}
	add(wp)

	// worker_rlimit_nofile
	wr := Limit{Name: limWrlimit, Value: "unset", Source: conf(t.ps.workerRlimit, "-")}
	if p.wrlimit > 0 {
		wr.Value = strconv.Itoa(p.wrlimit)
		if r.nofileName != limWrlimit && r.nofileName != limWorkerSoft {
			wr.Note = "not applied: above the hard limit, and the server is not privileged to raise it"
		} else if p.server == nginx {
			wr.Note = "each worker sets it for itself at start"
		} else {
			wr.Note = "the process sets it at start, for all its workers"
		}
	} else if p.server == nginx {
		wr.Note = "unset: workers inherit the soft limit"
	}
	add(wr)
	return ls
}

// nofileLimits are the open file limits: of a server started from here,
// and of the running one when there is one.
func nofileLimits(t tableInput) []Limit {
	p, m := t.p, t.m
	var ls []Limit
	add := func(l Limit) { ls = append(ls, l) }
	soft := Limit{Name: limSoft, Value: limitText(m.NofileSoft), Source: m.NofileSoft.Source}
	hard := Limit{Name: limHard, Value: limitText(m.NofileHard), Source: m.NofileHard.Source}
	if p.server == nginx {
		soft.Note = "what nginx workers get unless worker_rlimit_nofile is set"
	} else {
		soft.Note = "headroom raises it to the hard limit at start"
	}
	hard.Note = "the most an unprivileged process may raise its soft limit to"
	if t.run != nil {
		soft.Note, hard.Note = "a server started from here; the running one's is below", ""
	}
	add(soft)
	add(hard)
	if t.run != nil {
		src := fmt.Sprintf("/proc/%d/limits", t.run.PID)
		who := fmt.Sprintf("pid %d, %s, from %s", t.run.PID, t.run.Name, t.pidFile)
		add(Limit{Name: limRunningSoft, Value: rlimText(t.run.Soft), Source: src, Note: who})
		add(Limit{Name: limRunningHard, Value: rlimText(t.run.Hard), Source: src, Note: who})
		if t.run.Worker != nil {
			add(Limit{Name: limWorkerSoft, Value: rlimText(t.run.Worker.Soft), Source: fmt.Sprintf("/proc/%d/limits", t.run.Worker.PID),
				Note: fmt.Sprintf("pid %d, %s: its first worker, after worker_rlimit_nofile", t.run.Worker.PID, t.run.Worker.Name)})
		}
	}
	return ls
}

// kernelLimits are the machine's: file handles, backlogs, ports,
// connection tracking and memory.
func kernelLimits(t tableInput) []Limit {
	p, m, r := t.p, t.m, t.r
	var ls []Limit
	add := func(l Limit) { ls = append(ls, l) }
	fm := Limit{Name: limFileMax, Value: limitText(m.FileMax), Source: m.FileMax.Source}
	switch {
	case m.FileMax.OK && m.FileMax.Value >= 1<<62:
		fm.Note = "no limit on file handles for the whole machine"
	case m.FileNr.OK:
		fm.Note = fmt.Sprintf("file handles for the whole machine; %d in use now (fs.file-nr)", m.FileNr.Value)
	}
	add(fm)
	add(Limit{Name: limNrOpen, Value: limitText(m.NrOpen), Source: m.NrOpen.Source,
		Note: "no RLIMIT_NOFILE can be raised above it"})
	add(Limit{Name: limSomaxconn, Value: limitText(m.Somaxconn), Source: m.Somaxconn.Source,
		Note: "the kernel cuts every listen backlog to it"})
	for _, li := range p.listens {
		asked, eff := p.backlog(li)
		lm := Limit{Name: limListenPrefix + li.addr + " backlog", Value: strconv.Itoa(asked), Source: t.nm.place(li.where)}
		switch {
		case li.backlog > 0:
			lm.Value = fmt.Sprintf("backlog=%d", li.backlog)
		case p.server == nginx:
			lm.Value += " (nginx's default)"
		default:
			lm.Value += " (net.core.somaxconn)"
		}
		if eff < asked {
			lm.Note = fmt.Sprintf("cut to %d by net.core.somaxconn: clients past it get their SYN dropped and retry after 1 s or more", eff)
		} else {
			lm.Note = fmt.Sprintf("%d clients can wait to be accepted", eff)
		}
		add(lm)
	}
	sb := Limit{Name: limSynBacklog, Value: limitText(m.SynBacklog), Source: m.SynBacklog.Source}
	if m.Syncookies.OK && m.Syncookies.Value != 0 {
		sb.Note = fmt.Sprintf("half-open connections; with net.ipv4.tcp_syncookies %d, SYN cookies take over past it", m.Syncookies.Value)
	} else {
		sb.Note = "half-open connections per listener; SYNs past it are dropped (net.ipv4.tcp_syncookies is 0)"
	}
	add(sb)

	pr := Limit{Name: limPorts, Value: "unknown", Source: m.PortLow.Source}
	if m.PortLow.OK && m.PortHigh.OK {
		pr.Value = fmt.Sprintf("%d %d", m.PortLow.Value, m.PortHigh.Value)
		pr.Note = fmt.Sprintf("%d ports: the most connections open at once to one upstream address", p.ports)
		for _, g := range p.groups {
			pr.Note += fmt.Sprintf("; upstream %s: %d %s, %d", g.name, len(g.addrs), plural(len(g.addrs), "address", "addresses"), g.portCap(p.ports))
		}
	}
	add(pr)
	tw := Limit{Name: limTwReuse, Value: limitText(m.TwReuse), Source: m.TwReuse.Source}
	if m.TwReuse.OK {
		rate := newConnRate(p.ports)
		switch m.TwReuse.Value {
		case 0:
			tw.Note = fmt.Sprintf("off: a closed upstream connection holds its port %d s (TIME_WAIT), so without upstream keepalive at most %s to one address", timeWaitSeconds, rate)
		case 2:
			tw.Note = fmt.Sprintf("loopback only: to other addresses, without upstream keepalive, at most %s to one address", rate)
		default:
			tw.Note = "ports in TIME_WAIT are reused for new upstream connections"
		}
	}
	add(tw)
	ct := Limit{Name: limConntrack, Value: limitText(m.ConntrackMax), Source: m.ConntrackMax.Source}
	if m.ConntrackMax.OK {
		ct.Note = "every connection, client and upstream, takes an entry while it is open and in TIME_WAIT"
	} else {
		ct.Note = "no connection tracking"
	}
	add(ct)
	mm := memoryModel(p, r.workers)
	idle := "idle connection"
	if mm.TLS {
		idle = "idle TLS connection"
	}
	est := fmt.Sprintf("estimate: %s per proxied request, %s per %s, %s for the server", bytesText(mm.RequestBytes), bytesText(mm.IdleBytes), idle, bytesText(mm.BaseBytes))
	mx := Limit{Name: limMemoryMax, Value: limitText(m.MemoryMax), Source: m.MemoryMax.Source}
	if t.run != nil && t.run.MemoryMax.OK {
		mx.Value, mx.Source = limitText(t.run.MemoryMax), t.run.MemoryMax.Source
	}
	if p.memLimit > 0 {
		mx.Value = bytesText(int64(p.memLimit))
		mx.Note = est
	} else {
		mx.Note = "no cgroup memory limit"
	}
	add(mx)
	mt := Limit{Name: limMemTotal, Value: "unknown", Source: m.MemTotal.Source}
	if m.MemTotal.OK {
		mt.Value = bytesText(int64(m.MemTotal.Value))
		if p.memLimit == 0 {
			mt.Note = est
		}
	}
	add(mt)
	return ls
}

// newConnRate is how fast new connections to one address can be opened
// when each closed one holds its port for timeWaitSeconds.
func newConnRate(ports int) string {
	if ports < 10*timeWaitSeconds {
		return fmt.Sprintf("%d new connections a minute", ports)
	}
	return fmt.Sprintf("%d new connections a second", ports/timeWaitSeconds)
}

// timeWaitSeconds is how long Linux keeps a closed connection in
// TIME_WAIT (TCP_TIMEWAIT_LEN).
const timeWaitSeconds = 60

func figure(v int) *int {
	if v < 0 {
		return nil
	}
	return &v
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// limitText shows a reading: its figure, "unlimited", or why it is
// missing.
func limitText(r capacity.Reading) string {
	if !r.OK {
		return r.Err
	}
	return rlimText(r.Value)
}

func rlimText(v uint64) string {
	if v == capacity.Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// rlimJSON is a limit for JSON: -1 for unlimited.
func rlimJSON(v uint64) int64 {
	if v >= 1<<63 {
		return -1
	}
	return int64(v)
}

// bytesText shows a size in the largest binary unit that keeps it at one
// or more, with one decimal.
func bytesText(b int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
