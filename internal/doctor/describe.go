package doctor

import "fmt"

// capacityOf turns a model result into the report's figures and says what
// the server does past them.
func capacityOf(p params, r result) Capacity {
	c := Capacity{
		Server:         r.server,
		Workers:        r.workers,
		SlotsPerWorker: r.slots,
		Proxied:        r.proxied,
		Idle:           r.idle,
		Binding:        r.binding,
		BindingIdle:    r.bindingIdle,
		Proxies:        r.proxies,
	}
	c.ProxiedPerWorker = min(r.perWorker, r.proxied/max(r.workers, 1))
	c.IdlePerWorker = min(r.perWorkerIdle, r.idle/max(r.workers, 1))
	c.Beyond = beyond(p, r, r.binding, false)
	c.BeyondIdle = beyond(p, r, r.bindingIdle, true)
	return c
}

// isNofile reports whether a limit name is one of the open file limits.
func isNofile(name string) bool {
	switch name {
	case limWrlimit, limSoft, limHard, limRunningSoft, limRunningHard, limWorkerSoft:
		return true
	}
	return false
}

// beyond says, in the server's own log words where it has them, what
// happens to the connection or request past a binding limit.
func beyond(p params, r result, binding string, idle bool) string {
	switch {
	case binding == limWC && r.server == nginx && idle:
		return fmt.Sprintf("nginx logs \"[warn] %d worker_connections are not enough, reusing connections\" and closes idle keep-alive connections to make room", r.slots)
	case binding == limWC && r.server == nginx:
		return fmt.Sprintf("nginx logs \"[alert] %d worker_connections are not enough\", closes new connections without an answer, and answers 500 when no slot is left for the upstream connection", r.slots)
	case isNofile(binding) && r.server == nginx && idle:
		return "nginx logs \"[crit] accept4() failed (24: Too many open files)\" and stops accepting for 500 ms at a time; new clients wait in the listen backlog or fail"
	case isNofile(binding) && r.server == nginx:
		return "nginx logs \"[crit] accept4() failed (24: Too many open files)\" and \"[alert] socket() failed (24: Too many open files) while connecting to upstream\", and answers 500"
	case (binding == limWC || isNofile(binding)) && idle:
		return fmt.Sprintf("new clients wait in the listen backlog (%d in all), holding no slot, until a keep-alive client leaves", p.backlogTotal())
	case binding == limWC || isNofile(binding):
		return fmt.Sprintf("further clients wait in the listen backlog (%d in all), holding no slot; a request that finds no upstream slot waits up to proxy_connect_timeout, then gets 503 with Retry-After", p.backlogTotal())
	case binding == limFileMax:
		return "accept4() and socket() fail with \"(23: Too many open files in system)\", for every process on the machine"
	case binding == limPorts:
		return "connect() fails with \"(99: Cannot assign requested address) while connecting to upstream\" and the request gets 502"
	case binding == limConntrack:
		return "the kernel logs \"nf_conntrack: table full, dropping packet\" and new connections time out"
	case binding == limMemoryMax:
		return "the cgroup runs out of memory and the kernel's OOM killer ends the server or one of its workers"
	case binding == limMemTotal:
		return "the machine runs out of memory and the kernel's OOM killer ends a process"
	}
	return ""
}

// otherLine says in one line what the other server does with the same
// configuration on the same machine.
func otherLine(c Capacity, unsupported int) string {
	what := "concurrent proxied requests"
	if !c.Proxies {
		what = "concurrent requests"
	}
	s := fmt.Sprintf("%d %s (%s binds)", c.Proxied, what, c.Binding)
	if c.Beyond != "" {
		s += "; past that, " + c.Beyond
	}
	if c.Server == headroom && unsupported > 0 {
		s += fmt.Sprintf("; it would not start until the %d %s listed below %s removed", unsupported, plural(unsupported, "directive", "directives"), plural(unsupported, "is", "are"))
	}
	return s
}
