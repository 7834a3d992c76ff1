// Package proxy is the life of a request in headroom: accept, read and
// check the head, choose the server block and location, answer it or pick
// an upstream server, pass the request on, relay the response, log it.
// All of it runs on the engine's event loops: one loop per worker, each
// owning its connections, with no goroutine per connection and no lock on
// the request path.
package proxy

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
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
	// ErrorLog receives the server's messages.
	ErrorLog *logs.ErrorLog
	// Version is headroom's version, shown by the status views.
	Version string
}

// Server runs a configuration on a set of workers.
type Server struct {
	cfg       *conf.Config
	opts      Options
	log       *logs.ErrorLog
	listeners []*listener
	workers   []*worker
	access    *logs.AccessFiles

	// connSeq numbers client connections across workers ($connection).
	connSeq atomic.Uint64

	// connZones are the limit_conn_zone tables, shared by all workers.
	connZones map[*conf.LimitConnZone]*connZone
	// reqZones are the limit_req_zone tables, shared by all workers.
	reqZones map[*conf.LimitReqZone]*reqZone

	sharedMu sync.Mutex
	// sharedState holds each upstream's state common to all workers.
	sharedState map[*conf.Upstream]*upstream.Shared

	// stats are the workers' figures, one padded block per worker.
	stats []observe.Worker
	// upStats are the upstream servers' figures per worker, made for
	// every upstream at start so that readers need no lock.
	upStats map[*conf.Upstream][][]observe.Server
	started time.Time

	wg sync.WaitGroup
}

// listener is one listening address and the server blocks on it.
type listener struct {
	addr    string
	backlog int
	// fds holds one socket per worker with reuseport, or one shared one.
	fds      []int
	reuse    bool
	vhosts   *vhosts
	addrPort netip.AddrPort
	// limits bound request heads by the default server's
	// large_client_header_buffers, as nginx does before it knows the
	// server a request is for.
	limits http1.Limits
}

// New opens the listening sockets and prepares the workers; Run starts
// them. Sockets are opened here so that a failure to bind is reported
// before anything runs, as nginx does.
func New(cfg *conf.Config, opts Options) (*Server, error) {
	if cfg.HTTP == nil {
		return nil, fmt.Errorf("no \"http\" section in configuration")
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.ErrorLog, connZones: map[*conf.LimitConnZone]*connZone{}}
	for _, z := range cfg.HTTP.LimitConnZones {
		s.connZones[z] = newConnZone(z)
	}
	s.reqZones = map[*conf.LimitReqZone]*reqZone{}
	for _, z := range cfg.HTTP.LimitReqZones {
		s.reqZones[z] = newReqZone(z)
	}
	if err := s.openListeners(); err != nil {
		s.Close()
		return nil, err
	}
	files, err := logs.OpenAccessFiles(accessLogPaths(cfg))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.access = files
	s.started = time.Now()
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
			s.Close()
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	return s, nil
}

func accessLogPaths(cfg *conf.Config) []string {
	var paths []string
	seen := map[string]bool{}
	add := func(lc *conf.LocConf) {
		for _, a := range lc.AccessLogs {
			if !seen[a.Path] {
				seen[a.Path] = true
				paths = append(paths, a.Path)
			}
		}
	}
	var walk func([]*conf.Location)
	walk = func(ls []*conf.Location) {
		for _, l := range ls {
			add(l.Loc)
			walk(l.Locations)
		}
	}
	for _, srv := range cfg.HTTP.Servers {
		add(srv.Loc)
		walk(srv.Locations)
	}
	return paths
}

func (s *Server) openListeners() error {
	byAddr := map[string]*listener{}
	servers := map[string][]*conf.Server{}
	defaults := map[string]*conf.Server{}
	for _, srv := range s.cfg.HTTP.Servers {
		for _, l := range srv.Listens {
			ln := byAddr[l.Addr]
			if ln == nil {
				ap, err := netip.ParseAddrPort(l.Addr)
				if err != nil {
					return fmt.Errorf("invalid listen address \"%s\" in %s:%d", l.Addr, l.File, l.Line)
				}
				ln = &listener{addr: l.Addr, addrPort: ap, backlog: l.Backlog}
				byAddr[l.Addr] = ln
				s.listeners = append(s.listeners, ln)
			}
			if l.ReusePort {
				ln.reuse = true
			}
			if l.Backlog > 0 {
				ln.backlog = l.Backlog
			}
			if l.DefaultServer || len(servers[l.Addr]) == 0 {
				defaults[l.Addr] = srv
			}
			servers[l.Addr] = append(servers[l.Addr], srv)
		}
	}
	for _, ln := range s.listeners {
		ln.vhosts = newVhosts(servers[ln.addr], defaults[ln.addr])
		lc := ln.vhosts.def.Loc
		ln.limits = http1.Limits{
			MaxRequestLine: lc.LargeClientHeaderBuffersSize,
			MaxHeaderLine:  lc.LargeClientHeaderBuffersSize,
			MaxHeaderBytes: lc.LargeClientHeaderBuffersNum * lc.LargeClientHeaderBuffersSize,
			MaxHeaders:     http1.DefaultMaxHeaders,
		}
		n := 1
		if ln.reuse {
			n = s.opts.Workers
		}
		for i := 0; i < n; i++ {
			fd, err := listenSocket(ln.addrPort, ln.backlog, ln.reuse)
			if err != nil {
				return fmt.Errorf("bind() to %s failed (%s)", ln.addr, logs.SysError(err))
			}
			ln.fds = append(ln.fds, fd)
		}
	}
	return nil
}

func listenSocket(ap netip.AddrPort, backlog int, reusePort bool) (int, error) {
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if err := unix.Bind(fd, sockaddr(ap)); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if backlog <= 0 {
		backlog = capacity.DefaultBacklog()
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
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
	for _, w := range s.workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.loop.Run()
		}()
	}
}

// Stop ends every worker's loop, waits for them, flushes the access logs
// and closes all sockets.
func (s *Server) Stop() {
	for _, w := range s.workers {
		w.loop.Stop()
	}
	s.wg.Wait()
	for _, w := range s.workers {
		w.flushLogs()
	}
	s.Close()
}

// Close releases sockets and files without waiting for workers.
func (s *Server) Close() {
	for _, w := range s.workers {
		w.loop.Close()
	}
	for _, ln := range s.listeners {
		for _, fd := range ln.fds {
			unix.Close(fd)
		}
		ln.fds = nil
	}
	if s.access != nil {
		s.access.Close()
	}
}

// ReopenLogs reopens the access log files (SIGUSR1).
func (s *Server) ReopenLogs() error {
	return s.access.Reopen()
}

var pidString = strconv.Itoa(os.Getpid())
