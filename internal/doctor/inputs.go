package doctor

import (
	"net"
	"sort"
	"strings"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// Server names.
const (
	nginx    = "nginx"
	headroom = "headroom"
)

// nginxDefaultConnections is nginx's worker_connections when events{}
// has none.
const nginxDefaultConnections = 512

// nginxDefaultBacklog is the listen backlog nginx uses on Linux when
// listen has no backlog= (NGX_LISTEN_BACKLOG).
const nginxDefaultBacklog = 511

// params are the inputs of the capacity model: the configuration's figures
// and the machine's limits. Fixes change a copy and compute again.
type params struct {
	server string
	cpus   int
	// workersConf is worker_processes (0 for auto).
	workersConf int
	// wc and wrlimit are worker_connections and worker_rlimit_nofile as
	// configured (0 when unset).
	wc, wrlimit int
	listens     []listenInfo
	// nginxLogFiles are the distinct log files nginx keeps open in each
	// worker; headroomLogFiles the count the runtime reserves for.
	nginxLogFiles, headroomLogFiles int
	// headroomWorkerLogFiles are the descriptors each worker may hold
	// for access logs with variables in their paths.
	headroomWorkerLogFiles int
	// cachedFiles are the descriptors open_file_cache may keep open in
	// each worker, nginx's worker processes and headroom's alike
	// (conf.Config.WorkerCachedFiles).
	cachedFiles int
	// resolverSockets are the UDP sockets each headroom worker opens
	// for the resolvers' name servers (conf.Config.ResolverSockets).
	resolverSockets int
	// storeSockets is each headroom worker's connection to the
	// zone_sync store (conf.Config.StoreSockets).
	storeSockets int

	// soft and hard are the RLIMIT_NOFILE the server starts with (or runs
	// with, when running is set).
	soft, hard uint64
	running    bool
	// workerNofile is a running nginx worker's soft limit (0 if unknown);
	// it already reflects worker_rlimit_nofile.
	workerNofile uint64
	privileged   bool
	nrOpen       uint64

	fileMax, fileNr uint64
	// somaxconn caps listen backlogs (0 when unknown); defaultBacklog is
	// headroom's backlog without backlog= (capacity.DefaultBacklog).
	somaxconn, defaultBacklog int
	ports                     int
	conntrack                 uint64
	// memLimit is the cgroup's limit (0 for none) and memTotal the
	// machine's memory.
	memLimit, memTotal uint64

	groups []group
	// proxies is false when no location proxies.
	proxies bool
	// levels are the locations that proxy, in the configuration's order,
	// with their buffer and temporary file settings.
	levels []level
	// tlsListens is how many of the listening addresses speak TLS;
	// upstreamTLS is set when a location proxies to https, so that an
	// upstream connection is a TLS one too.
	tlsListens  int
	upstreamTLS bool
}

// listenInfo is one listening address.
type listenInfo struct {
	addr    string
	backlog int
	where   place
}

// group is one upstream group that a proxy_pass sends requests to.
type group struct {
	name      string
	implicit  bool
	where     place
	keepalive int
	// weights sums the weights of the primary servers per address.
	weights map[string]int
	addrs   []string
}

func (p params) workers() int {
	if p.workersConf > 0 {
		return p.workersConf
	}
	return max(p.cpus, 1)
}

func (p params) listeners() int { return len(p.listens) }

// gather reads the model's inputs from the configuration and the machine.
func gather(cfg *conf.Config, m capacity.Machine) params {
	p := params{
		cpus:        m.CPUs,
		workersConf: cfg.WorkerProcesses,
		wc:          cfg.Events.WorkerConnections,
		wrlimit:     cfg.WorkerRlimitNofile,
		soft:        m.NofileSoft.Value,
		hard:        m.NofileHard.Value,
		privileged:  m.Privileged,
		// The runtime reserves for the error logs, the access log and one
		// more (cmd/headroom, serve).
		headroomLogFiles:       cfg.ReservedLogFiles(),
		headroomWorkerLogFiles: cfg.WorkerLogFiles(),
		cachedFiles:            cfg.WorkerCachedFiles(),
		resolverSockets:        cfg.ResolverSockets(),
		storeSockets:           cfg.StoreSockets(),
	}
	if m.NrOpen.OK {
		p.nrOpen = m.NrOpen.Value
	}
	if m.FileMax.OK {
		p.fileMax = m.FileMax.Value
		if m.FileNr.OK {
			p.fileNr = m.FileNr.Value
		}
	}
	p.ports = m.Ports()
	p.defaultBacklog = m.DefaultBacklog()
	if m.Somaxconn.OK {
		p.somaxconn = clamp(m.Somaxconn.Value)
	}
	if m.ConntrackMax.OK {
		p.conntrack = m.ConntrackMax.Value
	}
	if m.MemoryMax.OK && m.MemoryMax.Value != capacity.Unlimited {
		p.memLimit = m.MemoryMax.Value
	}
	if m.MemTotal.OK {
		p.memTotal = m.MemTotal.Value
	}

	logs := map[string]bool{}
	for _, e := range cfg.ErrorLogs {
		if e.Path != "stderr" {
			logs[e.Path] = true
		}
	}
	for _, l := range cfg.Listeners() {
		p.listens = append(p.listens, listenInfo{addr: l.Addr, backlog: l.Backlog, where: place{l.File, l.Line}})
	}
	p.tlsListens = len(tlsAddrs(cfg))
	nm := newNamer(cfg)
	if cfg.HTTP != nil {
		for _, s := range cfg.HTTP.Servers {
			addAccessLogs(logs, s.Loc)
			ups := map[*conf.Upstream]bool{}
			collect(s.Locations, func(l *conf.Location) {
				addAccessLogs(logs, l.Loc)
				if l.Loc != nil && l.Loc.ProxyPass != nil {
					p.levels = append(p.levels, levelOf(l, nm))
					p.upstreamTLS = p.upstreamTLS || l.Loc.ProxyPass.Scheme == "https"
				}
				if pp := l.Loc.ProxyPass; pp != nil && pp.Upstream != nil && !ups[pp.Upstream] {
					ups[pp.Upstream] = true
					p.proxies = true
					p.groups = addGroup(p.groups, pp.Upstream)
				}
			})
		}
	}
	p.nginxLogFiles = len(logs)
	return p
}

// levelOf reads a proxying location's buffer and temporary file
// settings.
func levelOf(l *conf.Location, nm namer) level {
	lc := l.Loc
	return level{
		name:        "location " + locationName(l),
		at:          nm.at(l.File, l.Line),
		bodyBuffer:  lc.ClientBodyBufferSize,
		bodyInFile:  lc.ClientBodyInFileOnly != conf.BodyFileOff,
		bodyToFile:  lc.ProxyRequestBuffering || lc.ProxyHTTPVersion != "1.1" || lc.ClientBodyInFileOnly != conf.BodyFileOff,
		maxBody:     lc.ClientMaxBodySize,
		headBuffer:  lc.ProxyBufferSize,
		spooled:     lc.ProxyBuffering || lc.ProxyIgnoreHeaders&conf.IgnoreXAccelBuffering == 0,
		buffersNum:  lc.ProxyBuffersNum,
		buffersSize: lc.ProxyBuffersSize,
		maxTempFile: lc.ProxyMaxTempFileSize,
		bodyTemp:    lc.ClientBodyTempPath.Path,
		proxyTemp:   lc.ProxyTempPath.Path,
	}
}

// locationName writes a location as in the configuration: "/api/",
// "= /", "~ \.php$".
func locationName(l *conf.Location) string {
	switch l.Match {
	case conf.MatchExact:
		return "= " + l.Path
	case conf.MatchPrefixNoRegex:
		return "^~ " + l.Path
	case conf.MatchRegex:
		return "~ " + l.Path
	case conf.MatchRegexCaseless:
		return "~* " + l.Path
	}
	return l.Path
}

func addAccessLogs(logs map[string]bool, lc *conf.LocConf) {
	if lc == nil {
		return
	}
	for _, a := range lc.AccessLogs {
		logs[a.Path] = true
	}
}

func collect(locs []*conf.Location, f func(*conf.Location)) {
	for _, l := range locs {
		f(l)
		collect(l.Locations, f)
	}
}

// addGroup adds an upstream group once. The servers that take requests
// are the primary ones that are not down, or the backup ones when there
// are none.
func addGroup(gs []group, u *conf.Upstream) []group {
	for _, g := range gs {
		if g.name == u.Name && g.where == (place{u.File, u.Line}) {
			return gs
		}
	}
	g := group{name: u.Name, implicit: u.Implicit, where: place{u.File, u.Line}, keepalive: u.Keepalive, weights: map[string]int{}}
	for _, backup := range []bool{false, true} {
		for _, s := range u.Servers {
			if s.Backup == backup && !s.Down {
				if g.weights[s.Addr] == 0 {
					g.addrs = append(g.addrs, s.Addr)
				}
				g.weights[s.Addr] += max(s.Weight, 1)
			}
		}
		if len(g.addrs) > 0 {
			break
		}
	}
	return append(gs, g)
}

// portCap is how many requests a group holds at once when each of its
// addresses can take at most ports connections: round-robin by weight
// fills the heaviest address first.
// A unix domain socket takes no port: a group of them only is not bound
// by ports at all.
func (g group) portCap(ports int) int {
	total, heaviest := 0, 0
	for addr, w := range g.weights {
		total += w
		if !strings.HasPrefix(addr, "unix:") {
			heaviest = max(heaviest, w)
		}
	}
	if total == 0 {
		return 0
	}
	if heaviest == 0 {
		return 1 << 30
	}
	return int(int64(ports) * int64(total) / int64(heaviest))
}

// loopback reports whether every address of the group is a loopback one.
func (g group) loopback() bool {
	for _, a := range g.addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return false
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// selfProxied lists the group addresses that are listeners of this
// configuration, so that a request sent there holds a second client
// connection.
func selfProxied(p params) []string {
	var out []string
	for _, g := range p.groups {
		for _, a := range g.addrs {
			for _, l := range p.listens {
				if sameListener(a, l.addr) {
					out = append(out, a)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func sameListener(upstream, listen string) bool {
	uh, up, err1 := net.SplitHostPort(upstream)
	lh, lp, err2 := net.SplitHostPort(listen)
	if err1 != nil || err2 != nil || up != lp {
		return false
	}
	if uh == lh {
		return true
	}
	ip := net.ParseIP(uh)
	return (lh == "0.0.0.0" || lh == "::") && ip != nil && ip.IsLoopback()
}

// backlog is the listen backlog the server asks for on l, and effective
// what the kernel grants: at most net.core.somaxconn.
func (p params) backlog(l listenInfo) (asked, effective int) {
	asked = l.backlog
	if asked == 0 {
		asked = p.defaultBacklog
		if p.server == nginx {
			asked = nginxDefaultBacklog
		}
	}
	effective = asked
	if p.somaxconn > 0 {
		effective = min(asked, p.somaxconn)
	}
	return asked, effective
}

// backlogTotal is how many clients can wait in all listen backlogs.
func (p params) backlogTotal() int {
	n := 0
	for _, l := range p.listens {
		_, e := p.backlog(l)
		n += e
	}
	return n
}
