package doctor

import (
	"fmt"

	"headroom/internal/capacity"
)

// Names of the limits that bound capacity, as they appear in Limit.Name.
const (
	limWC           = "worker_connections"
	limWrlimit      = "worker_rlimit_nofile"
	limSoft         = "RLIMIT_NOFILE soft"
	limHard         = "RLIMIT_NOFILE hard"
	limRunningSoft  = "RLIMIT_NOFILE soft, running"
	limRunningHard  = "RLIMIT_NOFILE hard, running"
	limWorkerSoft   = "RLIMIT_NOFILE soft, running worker"
	limFileMax      = "fs.file-max"
	limNrOpen       = "fs.nr_open"
	limPorts        = "net.ipv4.ip_local_port_range"
	limConntrack    = "nf_conntrack_max"
	limMemoryMax    = "memory.max"
	limMemTotal     = "MemTotal"
	limWorkers      = "worker_processes"
	limSomaxconn    = "net.core.somaxconn"
	limSynBacklog   = "net.ipv4.tcp_max_syn_backlog"
	limTwReuse      = "net.ipv4.tcp_tw_reuse"
	limListenPrefix = "listen "
)

// nginxFixedFds are the descriptors each nginx worker holds outside its
// connection slots besides its log files: standard input, output and
// error, the epoll descriptor and the eventfd that Linux builds with file
// AIO use. A worker also holds one channel socket per other worker; its
// own channel to the master takes a slot. (Counted in /proc/PID/fd of
// Debian's nginx 1.22 worker.)
const nginxFixedFds = 5

// bound is what one limit alone allows; -1 where it does not bound.
type bound struct {
	name          string
	proxied, idle int
}

// result is the model's outcome for one set of inputs.
type result struct {
	server  string
	workers int
	// slots is worker_connections in effect per worker.
	slots int
	// tempFiles is how many temporary files a headroom worker may hold
	// open (capacity.Plan.TempFiles).
	tempFiles int
	// nofile is the open file limit in effect (per process for headroom,
	// per worker process for nginx) and nofileName the limit it comes
	// from.
	nofile     int
	nofileName string
	// fdProxied is what the open file limit alone allows.
	fdProxied int
	// perWorker and perWorkerIdle are what each worker's slots hold.
	perWorker, perWorkerIdle int
	proxied, idle            int
	bounds                   []bound
	binding, bindingIdle     string
	startup                  []string
	proxies                  bool
}

// bound returns the entry for a limit, if it bounds anything.
func (r result) bound(name string) (bound, bool) {
	for _, b := range r.bounds {
		if b.name == name {
			return b, true
		}
	}
	return bound{}, false
}

// evaluate runs the capacity model of p's server.
func evaluate(p params) result {
	var r result
	if p.server == nginx {
		r = evalNginx(p)
	} else {
		r = evalHeadroom(p)
	}
	r.server = p.server
	r.proxies = p.proxies
	r.bounds = append(r.bounds, machineBounds(p, r.workers)...)
	r.proxied, r.binding = pick(r.bounds, func(b bound) int { return b.proxied })
	r.idle, r.bindingIdle = pick(r.bounds, func(b bound) int { return b.idle })
	return r
}

// pick finds the smallest bound; the first one wins a tie, so limits of
// the configuration, listed first, are named before the machine's.
func pick(bs []bound, f func(bound) int) (int, string) {
	best, name := -1, ""
	for _, b := range bs {
		if v := f(b); v >= 0 && (best < 0 || v < best) {
			best, name = v, b.name
		}
	}
	return max(best, 0), name
}

// clamp turns a limit into an int the model can add to.
func clamp(v uint64) int {
	return int(min(v, 1<<30))
}

// evalNginx models nginx: worker processes, each with its own
// RLIMIT_NOFILE and worker_connections slots shared by its listening
// sockets, its channel to the master, clients and upstream connections. A
// proxied request takes two slots and two descriptors.
func evalNginx(p params) result {
	w := p.workers()
	r := result{workers: w}
	wc := p.wc
	if wc == 0 {
		wc = nginxDefaultConnections
	}
	r.slots = wc
	nofile, name, msgs := nginxNofile(p)
	r.nofile, r.nofileName = clamp(nofile), name
	r.startup = msgs
	if limit, exceeded := nginxRlimitCheck(p, wc); exceeded {
		r.startup = append(r.startup, fmt.Sprintf("%d worker_connections exceed open file resource limit: %d", wc, limit))
	}
	l := p.listeners()
	slotConns := max(wc-l-1, 0)
	// open_file_cache's descriptors are files, outside worker_connections
	// but within each worker's open file limit.
	fixed := nginxFixedFds + p.nginxLogFiles + (w - 1) + p.cachedFiles
	fdConns := max(r.nofile-fixed-l-1, 0)
	per := func(conns int) int {
		if p.proxies {
			return conns / 2
		}
		return conns
	}
	r.perWorker = per(min(slotConns, fdConns))
	r.perWorkerIdle = min(slotConns, fdConns)
	r.fdProxied = w * per(fdConns)
	r.bounds = []bound{
		{limWC, w * per(slotConns), w * slotConns},
		{name, r.fdProxied, w * fdConns},
	}
	return r
}

// nginxNofile is the open file limit of an nginx worker: the one it runs
// with, or worker_rlimit_nofile, which a worker sets for itself when its
// master may (as root, or within the hard limit), or else the soft limit
// it inherits.
func nginxNofile(p params) (uint64, string, []string) {
	if p.workerNofile > 0 {
		return p.workerNofile, limWorkerSoft, nil
	}
	soft := limSoft
	if p.running {
		soft = limRunningSoft
	}
	if p.wrlimit > 0 {
		n := uint64(p.wrlimit)
		if (n <= p.hard || p.privileged) && (p.nrOpen == 0 || n <= p.nrOpen) {
			return n, limWrlimit, nil
		}
		return p.soft, soft, []string{fmt.Sprintf("setrlimit(RLIMIT_NOFILE, %d) failed (1: Operation not permitted)", p.wrlimit)}
	}
	return p.soft, soft, nil
}

// nginxRlimitCheck is nginx's check at start: worker_connections above
// the soft limit, unless worker_rlimit_nofile allows them.
func nginxRlimitCheck(p params, wc int) (int, bool) {
	if uint64(wc) <= p.soft || (p.wrlimit > 0 && wc <= p.wrlimit) {
		return 0, false
	}
	if p.wrlimit > 0 {
		return p.wrlimit, true
	}
	return clamp(p.soft), true
}

// evalHeadroom models headroom with the runtime's own functions: one
// process whose worker threads share RLIMIT_NOFILE (capacity.Compute),
// each letting clients hold capacity.ClientBudget of its slots.
func evalHeadroom(p params) result {
	w := p.workers()
	r := result{workers: w}
	l := p.listeners()
	in := capacity.Input{NofileSoft: p.soft, NofileHard: p.hard, WorkerRlimitNofile: p.wrlimit,
		Workers: w, WorkerConnections: p.wc, Listeners: l, LogFiles: p.headroomLogFiles, WorkerLogFiles: p.headroomWorkerLogFiles,
		WorkerCachedFiles: p.cachedFiles}
	plan := capacity.Compute(in)
	r.nofileName = limHard
	if p.running {
		r.nofileName = limRunningHard
	}
	if p.wrlimit > 0 {
		r.nofileName = limWrlimit
	}
	// capacity.Apply raises the soft limit to the plan's figure; above the
	// hard limit only a privileged process may, and never above
	// fs.nr_open. When it cannot, the runtime keeps what it got.
	want := uint64(plan.Nofile)
	if (want > p.hard && !p.privileged) || (p.nrOpen > 0 && want > p.nrOpen) {
		got := min(want, p.hard)
		if p.nrOpen > 0 && got > p.nrOpen {
			got = p.soft
		}
		r.startup = append(r.startup, fmt.Sprintf("setrlimit(RLIMIT_NOFILE, %d) failed (operation not permitted), using %d", want, got))
		in.NofileSoft, in.WorkerRlimitNofile = got, clamp(got)
		plan = capacity.Compute(in)
		r.nofileName = limHard
		if p.running {
			r.nofileName = limRunningHard
		}
	}
	r.startup = append(r.startup, plan.Warnings...)
	if plan.Derived {
		r.startup = append(r.startup, fmt.Sprintf("worker_connections %d derived from the open file limit %d for %d workers", plan.WorkerConnections, plan.Nofile, w))
	}
	r.nofile = plan.Nofile
	r.slots = plan.WorkerConnections
	r.tempFiles = plan.TempFiles
	// The resolver's sockets and the zone_sync store's connection hold
	// their slots for the worker's life, as the listeners do, before the
	// rest is halved (proxy.newWorker).
	held := l + p.resolverSockets + p.storeSockets
	r.perWorker = capacity.ClientBudget(plan.WorkerConnections, held)
	r.perWorkerIdle = r.perWorker
	r.fdProxied = w * capacity.ClientBudget(plan.Allowed, held)
	if p.wc > 0 {
		b := w * capacity.ClientBudget(p.wc, held)
		r.bounds = append(r.bounds, bound{limWC, b, b})
	}
	r.bounds = append(r.bounds, bound{r.nofileName, r.fdProxied, r.fdProxied})
	return r
}

// machineBounds are the limits of the machine, the same for both servers:
// file handles, ephemeral ports, connection tracking and memory.
func machineBounds(p params, workers int) []bound {
	var bs []bound
	per := func(conns int) int {
		if p.proxies {
			return conns / 2
		}
		return conns
	}
	// Kernels since 5.x default fs.file-max to LONG_MAX: no limit.
	if p.fileMax > 0 && p.fileMax < 1<<62 {
		free := clamp(p.fileMax - min(p.fileNr, p.fileMax))
		bs = append(bs, bound{limFileMax, per(free), free})
	}
	if p.ports > 0 && len(p.groups) > 0 {
		least := -1
		for _, g := range p.groups {
			if c := g.portCap(p.ports); least < 0 || c < least {
				least = c
			}
		}
		bs = append(bs, bound{limPorts, least, -1})
	}
	if p.conntrack > 0 {
		c := clamp(p.conntrack)
		bs = append(bs, bound{limConntrack, per(c), c})
	}
	mem, name := p.memTotal, limMemTotal
	if p.memLimit > 0 {
		mem, name = p.memLimit, limMemoryMax
	}
	if mem > 0 {
		mm := memoryModel(p, workers)
		free := int64(min(mem, 1<<62)) - mm.BaseBytes
		free = max(free, 0)
		reqBytes := mm.RequestBytes
		if !p.proxies {
			reqBytes = mm.RequestBytes / 2
		}
		bs = append(bs, bound{name, int(min(free/reqBytes, 1<<30)), int(min(free/mm.IdleBytes, 1<<30))})
	}
	return bs
}
