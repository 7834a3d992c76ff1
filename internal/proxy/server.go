// Package proxy is the life of a request in headroom: accept, read and
// check the head, choose the server block and location, answer it or pick
// an upstream server, pass the request on, relay the response, log it.
// All of it runs on the engine's event loops: one loop per worker, each
// owning its connections, with no goroutine per connection and no lock on
// the request path.
package proxy

import (
	"crypto/tls"
	"fmt"
	"headroom/internal/cache"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/observe"
	"headroom/internal/upstream"
)

// Options configure a Server beyond what the configuration file says.
type Options struct {
	// Workers is the number of event loops; the caller resolves "auto".
	Workers int
	// Slots is worker_connections after the capacity model has checked it.
	Slots int
	// AllowedSlots is the largest worker_connections the open file limit
	// allows, quoted in capacity messages.
	AllowedSlots int
	// Nofile is the open file limit the plan was made for, quoted in
	// capacity messages.
	Nofile int
	// TempFiles is how many temporary files each worker may hold open at
	// once (capacity.Plan.TempFiles); 0 sets no bound of headroom's own.
	TempFiles int
	// ErrorLog receives the server's messages.
	ErrorLog *logs.ErrorLog
	// Version is headroom's version, shown by the status views.
	Version string
	// Inherit is the server being replaced by a reload: its listening
	// sockets for the same addresses are taken over as they are, so that
	// no connection waiting in their accept queues is lost.
	Inherit *Server
}

// Server runs a configuration on a set of workers.
type Server struct {
	cfg  *conf.Config
	opts Options
	// tokens is the Server field with the version (server_tokens on).
	tokens string
	log    *logs.ErrorLog
	// listeners are the addresses with a socket of their own; addrs
	// are every address listened on, those served through a wildcard
	// address's socket included (listener.via).
	listeners []*listener
	addrs     []*listener
	workers   []*worker
	access    *logs.AccessFiles
	// syslogs are the sockets of access_log's syslog destinations,
	// one per server address, shared by the workers.
	syslogs map[logs.SyslogKey]*logs.SyslogConn
	// levelLogs are the error logs set at the http, server or location
	// level, one per list of destinations (keyed by its first entry,
	// which levels that inherit the list share).
	levelLogs map[*conf.ErrorLog]*logs.ErrorLog
	levelList map[*conf.ErrorLog][]conf.ErrorLog

	// connSeq numbers client connections across workers ($connection).
	connSeq atomic.Uint64
	// tempSeq numbers temporary files across workers.
	tempSeq atomic.Int64

	// connZones are the limit_conn_zone tables, shared by all workers.
	connZones map[*conf.LimitConnZone]*connZone
	// reqZones are the limit_req_zone tables, shared by all workers.
	reqZones map[*conf.LimitReqZone]*reqZone
	// caches are the proxy_cache_path caches, shared by all workers and
	// kept across a reload that keeps their directory and zone.
	caches map[*conf.CachePath]*cache.Cache
	// cacheCounts count each cache's requests by $upstream_cache_status.
	cacheCounts map[*cache.Cache]*[len(cacheStatusNames)]atomic.Uint64
	// fleetSize is how many instances share the zone_sync store, as
	// its last heartbeat counted them (1 until one did); storeUp counts
	// the workers whose store connection answers, and storeRTT is the
	// smoothed round trip of a check in nanoseconds.
	fleetSize atomic.Int64
	storeUp   atomic.Int32
	storeRTT  atomic.Int64

	sharedMu sync.Mutex
	// sharedState holds each upstream's state common to all workers.
	sharedState map[*conf.Upstream]*upstream.Shared

	// stats are the workers' figures, one padded block per worker.
	stats []observe.Worker
	// upStats are the upstream servers' figures per worker, made for
	// every upstream at start so that readers need no lock.
	upStats map[*conf.Upstream][][]observe.Server

	// prev is the server this one replaced while it still drains; base
	// holds the figures of those that have ended (see observe.go).
	prevMu sync.Mutex
	prev   *Server
	base   carried

	closeOnce sync.Once
	closed    atomic.Bool
	// lnMu guards the listeners' sockets against closing while a
	// snapshot reads their queues.
	lnMu     sync.Mutex
	finishMu sync.Mutex

	wg sync.WaitGroup

	// stapler fetches the OCSP responses of certificates stapled
	// without ssl_stapling_file (stapling.go); its goroutine runs from
	// Run until the server drains or closes.
	stapler *stapler
}

// listener is one listening address and the server blocks on it.
type listener struct {
	addr    string
	backlog int
	// sndbuf and rcvbuf are listen's sndbuf= and rcvbuf=, 0 when unset.
	sndbuf, rcvbuf int
	// bind, deferred, dualStack, the keep-alive settings and fastOpen
	// are listen's socket options (conf.Listen says what each does).
	bind                bool
	deferred            bool
	dualStack           bool
	keepAlive           int
	keepIdle, keepIntvl time.Duration
	keepCnt             int
	fastOpen            int
	fastOpenSet         bool
	// served are the addresses whose connections come through this
	// wildcard address's socket, found by their local address; via is,
	// for such an address, the wildcard listener whose socket it uses.
	served []*listener
	via    *listener
	// fds holds one socket per worker with reuseport, or one shared one.
	fds      []int
	reuse    bool
	vhosts   *vhosts
	addrPort netip.AddrPort
	// unixPath is the socket's path for "listen unix:path" (addrPort is
	// then the zero value).
	unixPath string
	// proxyProtocol is set when connections start with a PROXY
	// protocol header (listen ... proxy_protocol).
	proxyProtocol bool
	// ssl is set for an address that listens with ssl; tls is then its
	// TLS configuration (tlsconfig.go).
	ssl bool
	tls *tls.Config
	// http2 is set for an address that listens with http2: over TLS
	// ALPN may choose it, in cleartext a client that starts with the
	// HTTP/2 preface gets it (h2conn.go).
	http2 bool
	// limits bound request heads by the default server's
	// large_client_header_buffers, as nginx does before it knows the
	// server a request is for.
	limits http1.Limits
	// h2limits bound the heads of HTTP/2 streams (see New).
	h2limits http1.Limits
	// inherited marks, per socket, those taken over from the server this
	// one replaces; keep lists the sockets a successor took over. This
	// server closes neither kind if it fails to start, and never closes
	// the second.
	inherited []bool
	keep      []int
}

// New opens the listening sockets and prepares the workers; Run starts
// them. Sockets are opened here so that a failure to bind is reported
// before anything runs, as nginx does.
func New(cfg *conf.Config, opts Options) (*Server, error) {
	if cfg.HTTP == nil {
		return nil, fmt.Errorf("no \"http\" section in configuration")
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.ErrorLog, connZones: map[*conf.LimitConnZone]*connZone{}}
	s.tokens = productName
	if opts.Version != "" {
		s.tokens = productName + "/" + opts.Version
	}
	for _, z := range cfg.HTTP.LimitConnZones {
		s.connZones[z] = opts.Inherit.sameConnZone(z)
		if s.connZones[z] == nil {
			s.connZones[z] = newConnZone(z)
		}
	}
	s.reqZones = map[*conf.LimitReqZone]*reqZone{}
	s.fleetSize.Store(1)
	if opts.Inherit != nil {
		// The fleet has not changed with the configuration.
		s.fleetSize.Store(max(opts.Inherit.fleetSize.Load(), 1))
	}
	s.caches = map[*conf.CachePath]*cache.Cache{}
	s.cacheCounts = map[*cache.Cache]*[len(cacheStatusNames)]atomic.Uint64{}
	for _, p := range cfg.HTTP.CachePaths {
		c := opts.Inherit.sameCache(p)
		if c == nil {
			c = cache.New(p)
		} else {
			c.Adopt(p)
		}
		s.caches[p] = c
		s.cacheCounts[c] = new([len(cacheStatusNames)]atomic.Uint64)
	}
	for _, z := range cfg.HTTP.LimitReqZones {
		s.reqZones[z] = opts.Inherit.sameReqZone(z)
		if s.reqZones[z] == nil {
			s.reqZones[z] = newReqZone(z)
		}
	}
	s.sharedState = map[*conf.Upstream]*upstream.Shared{}
	for _, u := range cfg.HTTP.Upstreams {
		if sh := opts.Inherit.sameShared(u); sh != nil {
			s.sharedState[u] = sh
		}
	}
	if err := s.openListeners(); err != nil {
		s.dropInherited()
		s.Close()
		return nil, err
	}
	if err := makeTempDirs(tempPaths(cfg)); err != nil {
		s.dropInherited()
		s.Close()
		return nil, err
	}
	s.tempSeq.Store(tempSeqStart())
	files, err := logs.OpenAccessFiles(accessLogPaths(cfg))
	if err != nil {
		s.dropInherited()
		s.Close()
		return nil, err
	}
	s.access = files
	s.syslogs = accessSyslogs(cfg)
	if err := s.openLevelLogs(); err != nil {
		s.dropInherited()
		s.Close()
		return nil, err
	}
	s.stats = make([]observe.Worker, opts.Workers)
	s.upStats = map[*conf.Upstream][][]observe.Server{}
	for _, u := range cfg.HTTP.Upstreams {
		per := make([][]observe.Server, opts.Workers)
		for i := range per {
			per[i] = make([]observe.Server, len(u.Servers))
		}
		s.upStats[u] = per
	}
	for i := 0; i < opts.Workers; i++ {
		w, err := newWorker(s, i)
		if err != nil {
			s.dropInherited()
			s.Close()
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	s.handOver()
	if opts.Inherit != nil {
		s.prev = opts.Inherit
	}
	return s, nil
}

func accessLogPaths(cfg *conf.Config) []string {
	var paths []string
	seen := map[string]bool{}
	eachLocConf(cfg, func(lc *conf.LocConf) {
		for _, a := range lc.AccessLogs {
			if !seen[a.Path] && a.PathTemplate == nil && a.Syslog == nil {
				seen[a.Path] = true
				paths = append(paths, a.Path)
			}
		}
	})
	return paths
}

// accessSyslogs makes the (not yet opened) sockets of the access logs
// that go to syslog.
func accessSyslogs(cfg *conf.Config) map[logs.SyslogKey]*logs.SyslogConn {
	conns := map[logs.SyslogKey]*logs.SyslogConn{}
	eachLocConf(cfg, func(lc *conf.LocConf) {
		for _, a := range lc.AccessLogs {
			if a.Syslog != nil && conns[a.Syslog.Key()] == nil {
				conns[a.Syslog.Key()] = logs.NewSyslogConn(a.Syslog)
			}
		}
	})
	return conns
}

// tempPaths lists the temporary file directories of the levels that
// proxy, where request bodies and responses may be buffered.
func tempPaths(cfg *conf.Config) []string {
	var paths []string
	seen := map[string]bool{}
	eachLocConf(cfg, func(lc *conf.LocConf) {
		if lc.ProxyPass == nil {
			return
		}
		for _, p := range []string{lc.ClientBodyTempPath.Path, lc.ProxyTempPath.Path} {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	})
	return paths
}

// eachLocConf calls fn for the settings of every level (see
// conf.Config.EachLocConf).
func eachLocConf(cfg *conf.Config, fn func(*conf.LocConf)) { cfg.EachLocConf(fn) }

func (s *Server) openListeners() error {
	byAddr := map[string]*listener{}
	servers := map[string][]*conf.Server{}
	defaults := map[string]*conf.Server{}
	for _, srv := range s.cfg.HTTP.Servers {
		for _, l := range srv.Listens {
			ln := byAddr[l.Addr]
			if ln == nil {
				ln = &listener{addr: l.Addr, backlog: l.Backlog}
				if path, ok := strings.CutPrefix(l.Addr, "unix:"); ok {
					ln.unixPath = path
				} else {
					ap, err := netip.ParseAddrPort(l.Addr)
					if err != nil {
						return fmt.Errorf("invalid listen address \"%s\" in %s:%d", l.Addr, l.File, l.Line)
					}
					ln.addrPort = ap
				}
				byAddr[l.Addr] = ln
				s.addrs = append(s.addrs, ln)
			}
			if l.ProxyProtocol {
				ln.proxyProtocol = true
			}
			if l.SSL {
				ln.ssl = true
			}
			if l.HTTP2 {
				ln.http2 = true
			}
			if l.Bind {
				// Socket options come on one listen of the address
				// (the configuration refuses them twice), and each
				// implies bind.
				ln.bind, ln.reuse, ln.backlog = true, l.ReusePort, l.Backlog
				ln.sndbuf, ln.rcvbuf = l.SndBuf, l.RcvBuf
				ln.deferred, ln.dualStack = l.Deferred, l.DualStack
				ln.keepAlive, ln.keepIdle, ln.keepIntvl, ln.keepCnt = l.KeepAlive, l.KeepIdle, l.KeepIntvl, l.KeepCnt
				ln.fastOpen, ln.fastOpenSet = l.FastOpen, l.FastOpenSet
			}
			if l.DefaultServer || len(servers[l.Addr]) == 0 {
				defaults[l.Addr] = srv
			}
			servers[l.Addr] = append(servers[l.Addr], srv)
		}
	}
	s.listeners = shareWildcards(s.addrs)
	for _, ln := range s.addrs {
		ln.vhosts = newVhosts(servers[ln.addr], defaults[ln.addr])
		lc := ln.vhosts.def.Loc
		ln.limits = http1.Limits{
			MaxRequestLine: lc.LargeClientHeaderBuffersSize,
			MaxHeaderLine:  lc.LargeClientHeaderBuffersSize,
			MaxHeaderBytes: lc.LargeClientHeaderBuffersNum * lc.LargeClientHeaderBuffersSize,
			MaxHeaders:     http1.DefaultMaxHeaders,
			// ignore_invalid_headers and underscores_in_headers of
			// the address's default server, as nginx reads them
			// before the Host field chooses a server.
			KeepInvalidNames: !lc.IgnoreInvalidHeaders,
			Underscores:      lc.UnderscoresInHeaders,
		}
		// An HTTP/2 stream's head was judged field by field against
		// the same buffers as it was decoded (h2conn.go); written as
		// HTTP/1.1 it gains a request line and line endings, which the
		// limits leave room for, and its values may hold any byte
		// HTTP/2 allows.
		ln.h2limits = ln.limits
		ln.h2limits.MaxRequestLine = lc.LargeClientHeaderBuffersSize + 64
		ln.h2limits.MaxHeaderLine = 2*lc.LargeClientHeaderBuffersSize + 4
		ln.h2limits.MaxHeaderBytes = 2*ln.limits.MaxHeaderBytes + 4096
		ln.h2limits.AnyValueBytes = true
		if ln.via != nil {
			continue
		}
		n := 1
		if ln.reuse {
			n = s.opts.Workers
		}
		old := s.opts.Inherit.listenerFor(ln)
		for i := 0; i < n; i++ {
			if old != nil && i < len(old.fds) {
				fd := old.fds[i]
				// listen() again only changes the accept queue's size.
				backlog := ln.backlog
				if backlog <= 0 {
					backlog = capacity.DefaultBacklog()
				}
				unix.Listen(fd, backlog)
				if ln.unixPath == "" {
					// An inherited socket may come from a binary that
					// did not set it (see listenSocket).
					unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
				}
				ln.fds = append(ln.fds, fd)
				ln.inherited = append(ln.inherited, true)
				continue
			}
			fd, err := listenSocket(ln)
			if err != nil {
				return fmt.Errorf("bind() to %s failed (%s)", ln.addr, logs.SysError(err))
			}
			ln.fds = append(ln.fds, fd)
			ln.inherited = append(ln.inherited, false)
		}
	}
	s.tlsConfigs()
	return nil
}

// sameConnZone returns the predecessor's limit_conn zone of the same
// name, key and size, which a reload keeps as nginx keeps a shared memory
// zone, so that requests in progress across the reload count together.
func (s *Server) sameConnZone(z *conf.LimitConnZone) *connZone {
	if s == nil {
		return nil
	}
	for oz, cz := range s.connZones {
		if oz.Name == z.Name && oz.Size == z.Size && oz.Key.Source == z.Key.Source {
			return cz
		}
	}
	return nil
}

// sameCache returns the predecessor's cache of the same directory and
// zone, so that a reload keeps what the zone knows.
func (s *Server) sameCache(p *conf.CachePath) *cache.Cache {
	if s == nil {
		return nil
	}
	for _, c := range s.caches {
		if c.Same(p) {
			return c
		}
	}
	return nil
}

// sameReqZone is sameConnZone for limit_req zones; the rate must match
// too, since the zone's state is measured in it.
func (s *Server) sameReqZone(z *conf.LimitReqZone) *reqZone {
	if s == nil {
		return nil
	}
	for oz, rz := range s.reqZones {
		if oz.Name == z.Name && oz.Size == z.Size && oz.Key.Source == z.Key.Source && oz.RatePerMinute == z.RatePerMinute {
			return rz
		}
	}
	return nil
}

// sameShared returns the predecessor's shared state of an upstream with
// the same name, servers (address, max_conns) and queue, so that across a
// reload max_conns counts the old workers' connections with the new ones'
// and waiting requests keep their order.
func (s *Server) sameShared(u *conf.Upstream) *upstream.Shared {
	if s == nil {
		return nil
	}
	s.sharedMu.Lock()
	defer s.sharedMu.Unlock()
	for ou, sh := range s.sharedState {
		if ou.Name != u.Name || ou.Queue != u.Queue || ou.QueueTimeout != u.QueueTimeout || len(ou.Servers) != len(u.Servers) {
			continue
		}
		same := true
		for i, sv := range u.Servers {
			if o := ou.Servers[i]; o.Addr != sv.Addr || o.MaxConns != sv.MaxConns {
				same = false
				break
			}
		}
		if same {
			return sh
		}
	}
	return nil
}

// shareWildcards decides which addresses get a socket of their own
// (conf.SharedWildcard) and links the others to the wildcard listener
// whose socket serves them. It returns the listeners that own a socket,
// in the configuration's order.
func shareWildcards(addrs []*listener) []*listener {
	byAddr := make(map[string]*listener, len(addrs))
	for _, ln := range addrs {
		byAddr[ln.addr] = ln
	}
	var own []*listener
	for _, ln := range addrs {
		if w := conf.SharedWildcard(ln.addr, ln.bind, byAddr); w != "" {
			wc := byAddr[w]
			ln.via = wc
			wc.served = append(wc.served, ln)
			continue
		}
		own = append(own, ln)
	}
	return own
}

// forLocal returns the address a connection accepted on ln's socket is
// for: ln itself unless ln is a wildcard serving other addresses, which
// the connection's local address then chooses among.
func (ln *listener) forLocal(fd int) (*listener, netip.AddrPort) {
	if len(ln.served) == 0 {
		return ln, netip.AddrPort{}
	}
	local := localAddr(fd)
	return ln.servedFor(local.Addr()), local
}

// servedFor returns the listener of a wildcard's socket for a local
// address: the one listening on exactly that address, else the wildcard.
func (ln *listener) servedFor(a netip.Addr) *listener {
	a = a.Unmap()
	for _, s := range ln.served {
		if s.addrPort.Addr() == a {
			return s
		}
	}
	return ln
}

// localAddr returns a socket's local address, or the zero value if the
// system cannot tell it.
func localAddr(fd int) netip.AddrPort {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// listenerFor returns the listener of s (the server being replaced) that
// a new listener can take over: same address, same reuseport setting.
func (s *Server) listenerFor(ln *listener) *listener {
	if s == nil {
		return nil
	}
	for _, old := range s.listeners {
		if old.addr == ln.addr && old.reuse == ln.reuse {
			return old
		}
	}
	return nil
}

// handOver marks the sockets that s, the successor, took over from its
// predecessor, so that the predecessor leaves them open when it ends.
// Sockets of the predecessor beyond those taken over (a reuseport
// listener with fewer workers now) close with it.
func (s *Server) handOver() {
	for _, ln := range s.listeners {
		if old := s.opts.Inherit.listenerFor(ln); old != nil {
			for i, inh := range ln.inherited {
				if inh && i < len(old.fds) {
					old.keep = append(old.keep, old.fds[i])
				}
			}
		}
	}
}

// dropInherited forgets the sockets taken over from the predecessor, which
// stays their owner when this server fails to start.
func (s *Server) dropInherited() {
	for _, ln := range s.listeners {
		var own []int
		for i, fd := range ln.fds {
			if i >= len(ln.inherited) || !ln.inherited[i] {
				own = append(own, fd)
			}
		}
		ln.fds, ln.inherited = own, nil
	}
}

// listenSocket opens one listening socket with the listener's options.
func listenSocket(ln *listener) (int, error) {
	if ln.unixPath != "" {
		return listenUnix(ln)
	}
	fd, err := newListenSocket(ln)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, sockaddr(ln.addrPort)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	backlog := ln.backlog
	if backlog <= 0 {
		backlog = capacity.DefaultBacklog()
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// newListenSocket makes a TCP socket for a listener with its options,
// ready to bind.
func newListenSocket(ln *listener) (int, error) {
	family := unix.AF_INET
	if ln.addrPort.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if family == unix.AF_INET6 {
		// nginx's ipv6only=on by default: "listen [::]:80" beside
		// "listen 80" must not cover IPv4 as well, or the second bind
		// fails.
		v6only := 1
		if ln.dualStack {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	setListenOptions(fd, ln)
	if ln.reuse {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// setListenOptions sets a TCP listening socket's options, which the
// connections it accepts inherit (Linux copies them to each), so that no
// connection needs a setsockopt of its own. As in nginx, an option the
// system refuses is not fatal: the socket works without it.
func setListenOptions(fd int, ln *listener) {
	// TCP_NODELAY for every connection; a location with "tcp_nodelay
	// off" takes it away again (useConfig).
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if ln.sndbuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, ln.sndbuf)
	}
	if ln.rcvbuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, ln.rcvbuf)
	}
	if ln.deferred {
		// nginx's one second: a connection that sends nothing is
		// handed over after the kernel's next SYN-ACK retransmission
		// all the same.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
	}
	if ln.fastOpenSet {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN, ln.fastOpen)
	}
	switch {
	case ln.keepAlive < 0:
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
	case ln.keepAlive > 0:
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
		if ln.keepIdle > 0 {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(ln.keepIdle/time.Second))
		}
		if ln.keepIntvl > 0 {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(ln.keepIntvl/time.Second))
		}
		if ln.keepCnt > 0 {
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ln.keepCnt)
		}
	}
}

// listenUnix opens a listener's unix socket. As in nginx, a file left at
// the path makes the bind fail, and the socket is made readable and
// writable by everyone (access is the file's directory's business).
func listenUnix(ln *listener) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if ln.sndbuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, ln.sndbuf)
	}
	if ln.rcvbuf > 0 {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, ln.rcvbuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: ln.unixPath}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	unix.Chmod(ln.unixPath, 0o666)
	backlog := ln.backlog
	if backlog <= 0 {
		backlog = capacity.DefaultBacklog()
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		os.Remove(ln.unixPath)
		return -1, err
	}
	return fd, nil
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

// shared returns the state of an upstream that all workers see.
func (s *Server) shared(u *conf.Upstream) *upstream.Shared {
	s.sharedMu.Lock()
	defer s.sharedMu.Unlock()
	if s.sharedState == nil {
		s.sharedState = map[*conf.Upstream]*upstream.Shared{}
	}
	sh := s.sharedState[u]
	if sh == nil {
		sh = upstream.NewShared(u)
		s.sharedState[u] = sh
	}
	return sh
}

// serverStats returns worker id's figures for an upstream's servers.
func (s *Server) serverStats(u *conf.Upstream, id int) []observe.Server {
	if per, ok := s.upStats[u]; ok {
		return per[id]
	}
	// Every group is known at start; a group made later is still
	// counted, just not shown.
	return make([]observe.Server, len(u.Servers))
}

// Run starts every worker's loop and returns at once.
func (s *Server) Run() {
	s.stapler.run()
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.loop.Run()
		}()
	}
}

// Stop ends every worker's loop at once, waits for them, flushes the
// access logs and closes all sockets.
func (s *Server) Stop() {
	if s.closed.Load() {
		return
	}
	for _, w := range s.workers {
		w.loop.Stop()
	}
	s.wg.Wait()
	s.finish()
}

// finish flushes the access logs and closes the server once its workers
// have ended; a fast stop during a graceful one may call it twice.
func (s *Server) finish() {
	s.finishMu.Lock()
	defer s.finishMu.Unlock()
	for _, w := range s.workers {
		w.flushLogs()
		for _, c := range w.fileCaches {
			c.closeAll()
		}
	}
	s.Close()
}

// Close releases sockets and files without waiting for workers. Only the
// first call does anything, so that a fast stop during a graceful one is
// safe.
func (s *Server) Close() {
	s.closeOnce.Do(s.close)
}

func (s *Server) close() {
	s.closed.Store(true)
	s.stapler.close()
	for _, w := range s.workers {
		w.loop.Close()
	}
	s.closeListeners()
	if s.access != nil {
		s.access.Close()
	}
	for _, c := range s.syslogs {
		c.Close()
	}
	for _, el := range s.levelLogs {
		el.Open(nil)
	}
}

// closeListeners closes the listening sockets, except those a successor
// took over. Clients still in their accept queues are refused there,
// rather than kept waiting for a server that will not accept them.
func (s *Server) closeListeners() {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	for _, ln := range s.listeners {
		kept := false
		for _, fd := range ln.fds {
			if slices.Contains(ln.keep, fd) {
				kept = true
			} else {
				unix.Close(fd)
			}
		}
		// As nginx, a unix socket's file goes with the last server that
		// listens on it; one a successor took over stays.
		if ln.unixPath != "" && !kept && len(ln.fds) > 0 {
			os.Remove(ln.unixPath)
		}
		ln.fds = nil
	}
}

// ReopenLogs reopens the access log files and the error logs of the
// http, server and location levels (SIGUSR1).
func (s *Server) ReopenLogs() error {
	if err := s.access.Reopen(); err != nil {
		return err
	}
	for first, el := range s.levelLogs {
		if err := el.Open(levelTargets(s.levelList[first])); err != nil {
			return err
		}
	}
	return nil
}

// openLevelLogs opens the error logs that error_log sets below the main
// level, once per distinct list.
func (s *Server) openLevelLogs() error {
	s.levelLogs = map[*conf.ErrorLog]*logs.ErrorLog{}
	s.levelList = map[*conf.ErrorLog][]conf.ErrorLog{}
	var err error
	eachLocConf(s.cfg, func(lc *conf.LocConf) {
		if len(lc.ErrorLogs) == 0 || err != nil {
			return
		}
		first := &lc.ErrorLogs[0]
		if s.levelLogs[first] != nil {
			return
		}
		el := logs.NewErrorLog()
		if err = el.Open(levelTargets(lc.ErrorLogs)); err != nil {
			return
		}
		s.levelLogs[first], s.levelList[first] = el, lc.ErrorLogs
	})
	return err
}

// levelTargets turns error_log entries into the log's destinations.
func levelTargets(list []conf.ErrorLog) []logs.Target {
	var out []logs.Target
	for _, e := range list {
		out = append(out, logs.Target{Path: e.Path, Level: logs.ParseLevel(e.Level), Syslog: e.Syslog})
	}
	return out
}

// errorLogFor is the error log for messages about a request in lc.
func (s *Server) errorLogFor(lc *conf.LocConf) *logs.ErrorLog {
	if lc != nil && len(lc.ErrorLogs) > 0 {
		if el := s.levelLogs[&lc.ErrorLogs[0]]; el != nil {
			return el
		}
	}
	return s.log
}

var pidString = strconv.Itoa(os.Getpid())
