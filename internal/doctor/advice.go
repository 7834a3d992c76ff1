package doctor

import (
	"fmt"
	"strconv"
)

// advise lists changes that leave capacity where it is but remove a
// problem under load: workers fighting over cores, backlogs the kernel
// cuts, SYNs dropped, ports held in TIME_WAIT.
func advise(p params, r result, fc fixContext) []Fix {
	var out []Fix
	m := fc.m
	if p.cpus > 0 && r.workers > p.cpus {
		ch := Change{Line: "worker_processes auto;"}
		if fc.ps.workerProcesses.ok() {
			ch.Where = fc.nm.place(fc.ps.workerProcesses)
		} else {
			ch.Where, ch.Note = fc.mainContext(), "add it"
		}
		out = append(out, Fix{Limit: limWorkers, From: strconv.Itoa(r.workers), To: fmt.Sprintf("auto (%d)", p.cpus), Changes: []Change{ch},
			Why: fmt.Sprintf("%d workers on %d CPUs take turns on the cores", r.workers, p.cpus)})
	}
	most, cut := 0, false
	for _, l := range p.listens {
		asked, eff := p.backlog(l)
		most = max(most, asked)
		cut = cut || eff < asked
	}
	if cut {
		v := pow2(most)
		out = append(out, Fix{Limit: limSomaxconn, From: limitText(m.Somaxconn), To: strconv.Itoa(v),
			Changes: []Change{{Where: sysctlFile(p.server), Line: fmt.Sprintf("net.core.somaxconn = %d", v), Note: sysctlNote + "; restart the server to listen with it"}},
			Why:     fmt.Sprintf("listen backlogs up to %d are cut to %d", most, p.somaxconn)})
	}
	if m.Syncookies.OK && m.Syncookies.Value == 0 && m.SynBacklog.OK {
		waiting := 0
		for _, l := range p.listens {
			_, eff := p.backlog(l)
			waiting = max(waiting, eff)
		}
		if m.SynBacklog.Value < uint64(waiting) {
			v := pow2(waiting)
			out = append(out, Fix{Limit: limSynBacklog, From: limitText(m.SynBacklog), To: strconv.Itoa(v),
				Changes: []Change{{Where: sysctlFile(p.server), Line: fmt.Sprintf("net.ipv4.tcp_max_syn_backlog = %d", v), Note: sysctlNote},
					{Join: "or", Where: sysctlFile(p.server), Line: "net.ipv4.tcp_syncookies = 1", Note: sysctlNote}},
				Why: "with SYN cookies off, SYNs past it are dropped and clients retry after 1 s or more"})
		}
	}
	if m.TwReuse.OK && m.TwReuse.Value != 1 && p.ports > 0 {
		for _, g := range p.groups {
			if g.keepalive > 0 || (m.TwReuse.Value == 2 && g.loopback()) {
				continue
			}
			ka := Change{Line: "keepalive 32;", Note: "with proxy_http_version 1.1; and proxy_set_header Connection \"\"; where it proxies"}
			if g.implicit {
				ka.Where = fmt.Sprintf("an upstream block for %s, used by proxy_pass at %s", g.name, fc.nm.place(g.where))
			} else {
				ka.Where = fmt.Sprintf("upstream %s at %s", g.name, fc.nm.place(g.where))
			}
			out = append(out, Fix{Limit: limTwReuse, From: limitText(m.TwReuse), To: "upstream keepalive",
				Changes: []Change{ka, {Join: "or", Where: sysctlFile(p.server), Line: "net.ipv4.tcp_tw_reuse = 1", Note: sysctlNote}},
				Why:     fmt.Sprintf("each request to upstream %s opens a connection whose port stays %d s in TIME_WAIT: at most %s to one address", g.name, timeWaitSeconds, newConnRate(p.ports))})
		}
	}
	return out
}
