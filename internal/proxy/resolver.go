package proxy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/dns"
	"headroom/internal/engine"
	"headroom/internal/logs"
	"headroom/internal/observe"
	"headroom/internal/upstream"
)

// This file is nginx's resolver for proxy_pass with variables, run on the
// worker's event loop: queries go out on a non-blocking UDP socket the
// loop polls (one per address family of the servers, opened when the
// worker starts, in a slot of kind KindResolver that the client budget
// sets aside like a listener's), answers come back as read events, and
// a request that needs a name waits in phaseResolve on its own timer
// (resolver_timeout). Nothing here blocks: a lost answer is sent again
// to the next server every resendEvery, and a request stops waiting
// when its time is up or its client leaves.

// resendEvery is how long a query waits for an answer before it is sent
// to the next server (nginx's resend_timeout).
const resendEvery = 5 * time.Second

// maxCNAMEs is how many CNAME records one resolution follows (nginx's
// NGX_RESOLVER_MAX_RECURSION); beyond, the name is "not found".
const maxCNAMEs = 50

// maxCachedNames bounds each resolver's cache in a worker.
const maxCachedNames = 4096

// dnsClient is a worker's resolver state: its sockets, the queries in
// flight by ID, and one cache per resolver directive.
type dnsClient struct {
	w *worker
	// socks are the UDP sockets for IPv4 and IPv6 servers (nil when no
	// resolver of the configuration has a server of that family).
	socks [2]*engine.Conn
	// pending maps a query ID to the name it asks for.
	pending map[uint16]*dnsNode
	// inflight are the names being asked for, oldest first: they are
	// sent again in this order, since they wait the same time.
	inflight []*dnsNode
	caches   map[*conf.Resolver]*dnsCache
	buf      []byte
}

// dnsCache is one resolver directive's names in a worker.
type dnsCache struct {
	cfg   *conf.Resolver
	names map[string]*dnsNode
	// next is the server the next query goes to (round robin).
	next int
}

// dnsNode is a name: its answer while valid, and while it is asked for,
// the queries and the requests that wait for them.
type dnsNode struct {
	cache *dnsCache
	name  string
	// addrs (A then AAAA) or cname is the answer, until valid.
	addrs []netip.Addr
	cname string
	valid time.Time
	// The query in flight: an ID per type asked for (0: not asked or
	// answered), the addresses and codes answered so far, the least TTL,
	// the server asked last and when to ask again.
	querying      bool
	idA, idAAAA   uint16
	gotA, gotAAAA []netip.Addr
	code          int
	ttl           uint32
	qcname        string
	server        int
	resendAt      time.Time
	waiting       []*clientConn
	answeredTypes int
	askedTypes    int
}

// openResolver opens the worker's resolver sockets for the families
// of the configuration's name servers and registers them with the loop.
// It reports how many slots they take.
func (w *worker) openResolver() (int, error) {
	var fam [2]bool
	w.srv.cfg.EachLocConf(func(lc *conf.LocConf) {
		if lc.Resolver == nil {
			return
		}
		for _, a := range lc.Resolver.Addrs {
			fam[familyIndex(a.Addr())] = true
		}
	})
	if !fam[0] && !fam[1] {
		return 0, nil
	}
	d := &dnsClient{w: w, pending: map[uint16]*dnsNode{}, caches: map[*conf.Resolver]*dnsCache{}, buf: make([]byte, 4096)}
	n := 0
	for i, need := range fam {
		if !need {
			continue
		}
		domain := unix.AF_INET
		if i == 1 {
			domain = unix.AF_INET6
		}
		fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return n, err
		}
		c, err := w.loop.Add(fd, engine.KindResolver, d)
		if err != nil {
			unix.Close(fd)
			return n, err
		}
		c.OnRead = onResolverRead
		c.OnTimer = onResolverTimer
		d.socks[i] = c
		n++
	}
	w.dns = d
	return n, nil
}

func familyIndex(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 0
	}
	return 1
}

// resolve looks name up for the request: from the cache, by joining a
// query in flight, or by asking. The request then waits in phaseResolve
// until resolvedName or resolveFailed is called for it.
func (cc *clientConn) resolve(res *conf.Resolver, name string) {
	r := cc.r
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	d := cc.w.dns
	for {
		cache := d.cache(res)
		n := cache.names[name]
		now := cc.w.loop.Now()
		if n != nil && !n.querying && now.Before(n.valid) {
			if len(n.addrs) > 0 {
				cc.resolvedName(n.addrs)
				return
			}
			if r.dnsCNAMEs >= maxCNAMEs {
				cc.resolveFailed(dns.RCodeNXDomain)
				return
			}
			r.dnsCNAMEs++
			name = n.cname
			continue
		}
		if n == nil {
			cache.trim(now)
			n = &dnsNode{cache: cache, name: name}
			cache.names[name] = n
		}
		if !n.querying && !d.ask(n) {
			delete(cache.names, name)
			cc.resolveFailed(dns.RCodeServFail)
			return
		}
		if r.phase != phaseResolve {
			// resolver_timeout runs on for the names a CNAME leads to.
			cc.setPhase(phaseResolve)
			cc.c.SetTimer(r.lc.ResolverTimeout)
		}
		n.waiting = append(n.waiting, cc)
		r.dnsNode = n
		return
	}
}

func (d *dnsClient) cache(res *conf.Resolver) *dnsCache {
	c := d.caches[res]
	if c == nil {
		c = &dnsCache{cfg: res, names: map[string]*dnsNode{}}
		d.caches[res] = c
	}
	return c
}

// trim keeps the cache within maxCachedNames: expired answers go first,
// then every answer not being asked for.
func (c *dnsCache) trim(now time.Time) {
	if len(c.names) < maxCachedNames {
		return
	}
	for k, n := range c.names {
		if !n.querying && !now.Before(n.valid) {
			delete(c.names, k)
		}
	}
	if len(c.names) >= maxCachedNames {
		for k, n := range c.names {
			if !n.querying {
				delete(c.names, k)
			}
		}
	}
}

// ask starts a query for the node: A and, with ipv6=on, AAAA, both to the
// next server in turn. It reports false when the name cannot be asked.
func (d *dnsClient) ask(n *dnsNode) bool {
	cfg := n.cache.cfg
	n.querying = true
	n.gotA, n.gotAAAA, n.code, n.ttl, n.qcname = nil, nil, 0, ^uint32(0), ""
	n.answeredTypes, n.askedTypes = 0, 0
	n.idA, n.idAAAA = 0, 0
	if cfg.IPv4 {
		n.idA = d.newID(n)
		n.askedTypes++
	}
	if cfg.IPv6 {
		n.idAAAA = d.newID(n)
		n.askedTypes++
	}
	n.server = n.cache.next % len(cfg.Addrs)
	n.cache.next++
	if !d.send(n) {
		d.forget(n)
		n.querying = false
		return false
	}
	n.resendAt = d.w.loop.Now().Add(resendEvery)
	d.inflight = append(d.inflight, n)
	d.armTimer()
	return true
}

// newID picks an unused random query ID for the node.
func (d *dnsClient) newID(n *dnsNode) uint16 {
	for {
		id := uint16(d.w.rand.Uint64())
		if _, used := d.pending[id]; !used && id != 0 {
			d.pending[id] = n
			return id
		}
	}
}

// send writes the node's unanswered queries to its current server.
func (d *dnsClient) send(n *dnsNode) bool {
	srv := n.cache.cfg.Addrs[n.server]
	sock := d.socks[familyIndex(srv.Addr())]
	if sock == nil {
		return false
	}
	var sa unix.Sockaddr
	if srv.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(srv.Port()), Addr: srv.Addr().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(srv.Port()), Addr: srv.Addr().As16()}
	}
	ok := true
	for _, q := range [2]struct {
		id    uint16
		qtype uint16
	}{{n.idA, dns.TypeA}, {n.idAAAA, dns.TypeAAAA}} {
		if q.id == 0 {
			continue
		}
		b, err := dns.AppendQuery(d.buf[:0], q.id, n.name, q.qtype)
		if err != nil {
			return false
		}
		if err := unix.Sendto(sock.Fd, b, 0, sa); err != nil {
			d.w.srv.log.Logf(logs.Error, d.w.id, "send() failed (%s), resolver: %s", logs.SysError(err), srv)
			ok = false
		}
	}
	return ok
}

// forget drops the node's query IDs.
func (d *dnsClient) forget(n *dnsNode) {
	if n.idA != 0 {
		delete(d.pending, n.idA)
		n.idA = 0
	}
	if n.idAAAA != 0 {
		delete(d.pending, n.idAAAA)
		n.idAAAA = 0
	}
}

// armTimer sets the first socket's timer to the earliest resend.
func (d *dnsClient) armTimer() {
	c := d.socks[0]
	if c == nil {
		c = d.socks[1]
	}
	if len(d.inflight) == 0 {
		c.StopTimer()
		return
	}
	c.SetTimer(max(d.inflight[0].resendAt.Sub(d.w.loop.Now()), 0))
}

// onResolverTimer sends the queries that went unanswered to the next
// server, or drops those no request waits for any more, as nginx's
// resend handler does.
func onResolverTimer(c *engine.Conn) {
	d := c.Data.(*dnsClient)
	now := d.w.loop.Now()
	for len(d.inflight) > 0 && !d.inflight[0].resendAt.After(now) {
		n := d.inflight[0]
		d.inflight = d.inflight[1:]
		if len(n.waiting) == 0 {
			d.endQuery(n)
			if n.valid.IsZero() || !now.Before(n.valid) {
				delete(n.cache.names, n.name)
			}
			continue
		}
		n.server = n.cache.next % len(n.cache.cfg.Addrs)
		n.cache.next++
		d.send(n)
		n.resendAt = now.Add(resendEvery)
		d.inflight = append(d.inflight, n)
	}
	d.armTimer()
}

// endQuery ends the node's query: its IDs are forgotten and it leaves
// the resend queue.
func (d *dnsClient) endQuery(n *dnsNode) {
	d.forget(n)
	n.querying = false
	for i, m := range d.inflight {
		if m == n {
			d.inflight = append(d.inflight[:i], d.inflight[i+1:]...)
			break
		}
	}
}

// onResolverRead reads every answer waiting on the socket.
func onResolverRead(c *engine.Conn) {
	d := c.Data.(*dnsClient)
	for {
		nr, from, err := unix.Recvfrom(c.Fd, d.buf, 0)
		if err != nil {
			if err != unix.EAGAIN && err != unix.EINTR {
				// An ICMP error (a server that is not listening) is
				// reported on an unconnected socket too; the query is
				// sent again to the next server.
				continue
			}
			c.ReadReady = false
			return
		}
		d.answer(d.buf[:nr], sockaddrString(from), false)
	}
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return ""
}

// answer handles one response as nginx's ngx_resolver_process_response
// and ngx_resolver_process_a do: a malformed one, one for no query of
// ours or a "format error" is logged and left for the query to be sent
// again; one truncated is asked again over TCP (resolvertcp.go); an
// error code or no address
// fails the requests waiting (errors are not cached); addresses or a
// CNAME are cached for their least TTL (or valid=) once every type asked
// for is answered.
func (d *dnsClient) answer(msg []byte, from string, overTCP bool) {
	logf := func(format string, args ...any) {
		d.w.srv.log.Logf(logs.Error, d.w.id, format+", resolver: "+from, args...)
	}
	h, err := dns.ParseHeader(msg)
	if err != nil {
		logf("%s", err.Error())
		return
	}
	n := d.pending[h.ID]
	if h.RCode == dns.RCodeFormErr || h.RCode > dns.RCodeRefused {
		if n != nil && h.RCode == dns.RCodeFormErr {
			logf("DNS error (%d: %s), query id:%d, name:\"%s\"", h.RCode, dns.RCodeText(h.RCode), h.ID, n.name)
		} else {
			logf("DNS error (%d: %s), query id:%d", h.RCode, dns.RCodeText(h.RCode), h.ID)
		}
		return
	}
	a, err := dns.Parse(msg)
	if err != nil {
		logf("%s", err.Error())
		return
	}
	if n == nil || a.QName != n.name || (a.QType == dns.TypeA) != (h.ID == n.idA) {
		logf("unexpected response for %s", a.QName)
		return
	}
	if a.Truncated {
		// As nginx, the same server is asked again over TCP; an answer
		// truncated there too waits for the resend.
		if srv, err := netip.ParseAddrPort(from); err == nil && !overTCP {
			d.askTCP(n, h.ID, a.QType, srv)
		}
		return
	}
	delete(d.pending, h.ID)
	if a.QType == dns.TypeA {
		n.idA = 0
	} else {
		n.idAAAA = 0
	}
	n.answeredTypes++
	code := a.RCode
	if code == 0 && n.code != 0 {
		code = n.code
	}
	if code == 0 {
		if a.Records > 0 {
			n.ttl = min(n.ttl, a.TTL)
		}
		if a.QType == dns.TypeA {
			n.gotA = a.Addrs
		} else {
			n.gotAAAA = a.Addrs
		}
		if a.CNAME != "" {
			n.qcname = a.CNAME
		}
	} else {
		n.code = code
	}
	if n.answeredTypes < n.askedTypes {
		return
	}
	d.endQuery(n)
	now := d.w.loop.Now()
	addrs := append(append([]netip.Addr(nil), n.gotA...), n.gotAAAA...)
	valid := n.cache.cfg.Valid
	if valid == 0 {
		valid = time.Duration(n.ttl) * time.Second
	}
	switch {
	case len(addrs) > 0:
		n.addrs, n.cname, n.valid = addrs, "", now.Add(valid)
	case code == 0 && n.qcname != "":
		n.addrs, n.cname, n.valid = nil, n.qcname, now.Add(valid)
	default:
		if code == 0 {
			code = dns.RCodeNXDomain
		}
		delete(n.cache.names, n.name)
		n.valid = time.Time{}
		waiting := n.waiting
		n.waiting = nil
		for _, cc := range waiting {
			cc.r.dnsNode = nil
			cc.resolveFailed(code)
		}
		return
	}
	waiting := n.waiting
	n.waiting = nil
	for _, cc := range waiting {
		r := cc.r
		r.dnsNode = nil
		if n.cname == "" {
			cc.resolvedName(n.addrs)
			continue
		}
		if r.dnsCNAMEs >= maxCNAMEs {
			cc.resolveFailed(dns.RCodeNXDomain)
			continue
		}
		r.dnsCNAMEs++
		cc.resolve(n.cache.cfg, n.cname)
	}
}

// leaveResolve takes a request out of the name it waits for: its time
// is up, or its client left.
func (cc *clientConn) leaveResolve() {
	r := cc.r
	n := r.dnsNode
	if n == nil {
		return
	}
	r.dnsNode = nil
	for i, w := range n.waiting {
		if w == cc {
			n.waiting = append(n.waiting[:i], n.waiting[i+1:]...)
			break
		}
	}
}

// resolveTimedOut answers a request whose name was not resolved within
// resolver_timeout, as nginx does.
func (cc *clientConn) resolveTimedOut() {
	cc.leaveResolve()
	cc.resolveFailed(dns.CodeTimedOut)
}

// resolveFailed answers 502 with nginx's line for a name that could not
// be resolved.
func (cc *clientConn) resolveFailed(code int) {
	r := cc.r
	cc.logError(r.dynPP.ResolveHost + " could not be resolved (" + strconv.Itoa(code) + ": " + dns.RCodeText(code) + ")")
	cc.setPhase(phaseProxy)
	cc.c.StopTimer()
	cc.respondError(502)
}

// resolvedName proxies the request to the addresses its name resolved
// to, all of them the servers of one group, as nginx makes a round-robin
// group of a resolved name's addresses.
func (cc *clientConn) resolvedName(addrs []netip.Addr) {
	r := cc.r
	d := &r.dynPP
	servers := make([]string, len(addrs))
	for i, a := range addrs {
		servers[i] = netip.AddrPortFrom(a, uint16(d.Port)).String()
	}
	// A group of the request's own, as nginx's: a server that failed
	// for an earlier request is tried again (passive health applies
	// within the request only).
	d.Upstream = conf.ResolvedUpstream(d.ResolveHost, servers)
	r.dnsGroup = &upGroup{Group: upstream.NewGroup(d.Upstream, upstream.NewShared(d.Upstream)), stats: make([]observe.Server, len(servers))}
	r.ppDynamic = true
	resolving := r.phase == phaseResolve
	cc.setPhase(phaseProxy)
	cc.c.StopTimer()
	if resolving {
		cc.proxyTo()
	}
}
