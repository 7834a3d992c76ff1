package errorlog

import (
	"fmt"
	"strconv"

	"headroom/internal/capacity"
)

// The explanations below are written for someone who has the log in
// front of them and an incident on their hands: the cause says what the
// server was doing when it wrote the line and what happened to the
// request, with the figures from the log; the fix names the directive or
// kernel setting to change. nginx's behaviour is taken from its source
// (ngx_get_connection, ngx_drain_connections, ngx_event_accept,
// ngx_event_connect_peer, the round-robin balancer and the limit modules);
// headroom's from internal/proxy.

// title is the group's one-line description.
func title(g *Group) string {
	n := g.WorkerConnections
	switch g.Kind {
	case KindWorkerConnections:
		return withFigure(n, "worker_connections are not enough")
	case KindReusingConnections:
		return withFigure(n, "worker_connections are not enough, reusing connections")
	case KindAcceptFiles:
		return "accept() failed: too many open files"
	case KindSocketFiles:
		return "socket() for upstream failed: too many open files"
	case KindOtherFiles:
		return "too many open files"
	case KindSystemFiles:
		return "too many open files in system"
	case KindNoLiveUpstreams:
		return "no live upstreams"
	case KindUpstreamDisabled:
		return "upstream server temporarily disabled"
	case KindConnectTimeout:
		return "upstream timed out while connecting"
	case KindHeaderTimeout:
		return "upstream timed out before the response header"
	case KindSendTimeout:
		return "upstream timed out taking the request"
	case KindReadTimeout:
		return "upstream timed out in the response body"
	case KindEphemeralPorts:
		return "no local port left to connect upstream"
	case KindConnectRefused:
		return "upstream refused the connection"
	case KindUpstreamBacklog:
		return "upstream listen queue full"
	case KindLimitConn:
		return "limit_conn refused requests"
	case KindLimitConnDryRun:
		return "limit_conn would refuse requests (dry run)"
	case KindLimitReq:
		return "limit_req refused requests" + excessNote(g)
	case KindLimitReqDelay:
		return "limit_req delayed requests" + excessNote(g)
	case KindLimitReqDryRun:
		return "limit_req would refuse or delay (dry run)" + excessNote(g)
	case KindLimitZoneFull:
		return "limit zone full: no room for new keys"
	case KindExceedFileLimit:
		t := withFigure(n, "worker_connections exceed the open file limit")
		if g.FileLimit > 0 {
			t += " " + strconv.Itoa(g.FileLimit)
		}
		return t
	case KindSetrlimit:
		if g.FileLimit > 0 {
			return "open file limit not raised to " + strconv.Itoa(g.FileLimit)
		}
		return "open file limit not raised"
	case KindAcceptPaused:
		return "worker out of slots, accept paused"
	case KindSlotQueued:
		return "worker out of slots, requests queued"
	case KindSlotTimeout:
		return "worker out of slots, requests answered 503"
	case KindMaxConnsQueued:
		return "every server at max_conns, requests queued"
	case KindMaxConnsQueueFull:
		return "max_conns queue full, requests answered 503"
	case KindMaxConnsNoQueue:
		return "every server at max_conns and no queue, 503"
	case KindMaxConnsTimeout:
		return "max_conns queue wait over, requests answered 503"
	case KindDerived:
		return withFigure(n, "worker_connections derived from the open file limit")
	case KindStarted:
		return "headroom started"
	case KindReloaded:
		return "configuration reloaded"
	case KindSlowHeadsClosed:
		return "worker closed idle and slow-head clients for waiting ones"
	case KindSlowBodiesClosed:
		return "worker closed slow request bodies for waiting clients"
	case KindSlowReadersClosed:
		return "worker closed slow readers for waiting clients"
	case KindSlowBodyClient:
		return "client closed: request body too slow while others waited"
	case KindSlowReaderClient:
		return "client closed: response read too slowly while others waited"
	case KindBodyToFile:
		return "request bodies buffered to temporary files"
	case KindResponseToFile:
		return "responses buffered to temporary files"
	case KindBodyTempFailed:
		return "request body temporary file failed: " + errnoShort(g.Errno)
	case KindResponseTempFailed:
		return "response temporary file failed: " + errnoShort(g.Errno)
	case KindClientHeaderTimeout:
		return "client timed out sending its request head"
	case KindClientSendTimeout:
		return "client timed out reading its response"
	case KindClientHeaderTooLarge:
		return "request head too large for large_client_header_buffers"
	}
	return string(g.Kind)
}

// errnoShort names a temporary file failure for a title.
func errnoShort(errno int) string {
	switch errno {
	case 0:
		return "short write"
	case 1:
		return "operation not permitted"
	case 2:
		return "directory missing"
	case 5:
		return "I/O error"
	case 13:
		return "permission denied"
	case 28:
		return "no space left"
	case 30:
		return "read-only file system"
	case 122:
		return "disk quota exceeded"
	}
	return "error " + strconv.Itoa(errno)
}

func withFigure(n int, s string) string {
	if n > 0 {
		return strconv.Itoa(n) + " " + s
	}
	return s
}

func excessNote(g *Group) string {
	if g.MaxExcess > 0 {
		return " (excess up to " + excessText(g.MaxExcess) + ")"
	}
	return ""
}

// excessText writes an excess as nginx does, "1.500".
func excessText(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }

// backend names the group's backend for a sentence.
func backend(g *Group) string {
	if g.Upstream != "" {
		return "The backend " + g.Upstream
	}
	return "The backend"
}

func zoneName(g *Group) string {
	if g.Zone != "" {
		return "zone \"" + g.Zone + "\""
	}
	return "the zone"
}

// clientsNote says how many clients a limit caught.
func clientsNote(g *Group) string {
	switch {
	case g.Clients == 1:
		return " One client address hit it."
	case g.Clients > 1:
		return fmt.Sprintf(" %d client addresses hit it.", g.Clients)
	}
	return ""
}

// Fixes and remarks shared by several kinds.
const (
	onceASecond = " Each worker writes this line at most once a second, so the count is seconds spent in " +
		"this state, not requests."
	fixFileLimit = "Raise the open file limit: worker_rlimit_nofile (at least twice worker_connections), " +
		"or LimitNOFILE= in the systemd unit (ulimit -n when started by hand); " +
		"/proc/PID/limits shows the figure a running worker has. " +
		"If worker_connections is above the limit, the start-up lines say so " +
		"(\"worker_connections exceed open file resource limit\")."
	fixLimitConn = "If these are legitimate clients (many behind one address, or long requests), " +
		"raise the number in limit_conn or key the zone on something finer; " +
		"if they are not, the limit works as intended and limit_conn_log_level can quiet these lines."
	fixLimitReq = "If the clients are legitimate, raise rate= in limit_req_zone or burst= in limit_req; " +
		"if they are not, the limit works as intended and limit_req_log_level can quiet these lines."
	// slowUnaffected is what headroom's rules for slow clients leave alone.
	slowUnaffected = " Ordinary clients are unaffected: a client whose request makes progress is never touched, " +
		"and without clients waiting nobody is closed for being slow."
	slowBodyRule = "slower than client_body_min_rate (240 bytes a second by default) once its grace (1s by " +
		"default) had passed since the request began"
	slowReaderRule = "kept their response waiting and had read it slower than send_min_rate (240 bytes a " +
		"second by default) since they fell behind, for at least its grace (1s by default)"
	// infoLevel says why a log may hold none of nginx's info lines.
	infoLevel = " nginx writes these lines at info, so they appear only with error_log at info or debug."
)

// explain writes the cause and the fix of a group. headroom says the log
// is headroom's, which changes what happens to a request and what to
// advise.
func explain(g *Group, headroom bool) (cause, fix string) {
	cause, fix = explainKind(g, headroom)
	if onceASecondKind(g.Kind, headroom) {
		cause += onceASecond
	}
	return cause, fix
}

// onceASecondKind reports whether the kind's lines are written at most
// once a second per worker (nginx's "reusing connections"; headroom's
// capacity warnings), where a count of lines undercounts the requests.
func onceASecondKind(k Kind, headroom bool) bool {
	switch k {
	case KindReusingConnections, KindAcceptPaused, KindSlotQueued, KindSlotTimeout,
		KindMaxConnsQueued, KindMaxConnsQueueFull, KindMaxConnsNoQueue, KindMaxConnsTimeout,
		KindSlowHeadsClosed, KindSlowBodiesClosed, KindSlowReadersClosed:
		return true
	case KindWorkerConnections, KindAcceptFiles:
		return headroom
	}
	return false
}

// explainKind writes the explanation proper.
func explainKind(g *Group, headroom bool) (cause, fix string) {
	n := g.WorkerConnections
	slots := "worker_connections"
	if n > 0 {
		slots = strconv.Itoa(n)
	}
	switch g.Kind {
	case KindWorkerConnections:
		cause = "Each worker has " + slots + " connection slots (worker_connections), and everything it holds " +
			"takes one: its listening sockets, every client connection and every connection to an upstream. " +
			"A proxied request holds two"
		if n > 2 {
			cause += fmt.Sprintf(", so %d slots carry at most %d proxied requests per worker with one listener", n, capacity.ClientBudget(n, 1))
		}
		cause += ". "
		if headroom {
			cause += "headroom keeps clients to half the slots, so this happens when idle keep-alive connections " +
				"to other servers hold the rest: the request found no slot for a new upstream connection and went " +
				"to the next server or was answered 502."
			fix = "Raise worker_connections up to what the open file limit allows (or leave it out and headroom " +
				"derives it from the limit), or lower keepalive in the upstream block so that idle upstream " +
				"connections hold fewer slots."
			return cause, fix
		}
		cause += "With every slot taken, nginx closes a new client's connection as soon as it accepts it, " +
			"and answers 500 to a request that needs an upstream connection."
		suggest := 4096
		if n > 0 {
			suggest = 4 * n
		}
		fix = fmt.Sprintf("Raise worker_connections (for example to %d) and make sure the open file limit holds it: "+
			"worker_rlimit_nofile at least twice worker_connections, since every slot is a descriptor "+
			"and files and logs need more. Or run headroom on the same configuration: it keeps clients beyond "+
			"half the slots waiting in the listen backlog and queues requests for a slot instead of dropping them.", suggest)
	case KindReusingConnections:
		if headroom {
			cause = "A worker needed a slot for an upstream connection and had none free, so it closed idle " +
				"keep-alive clients (idle at least a second, oldest first), then idle upstream connections, " +
				"to make room. No request failed; those clients open a new connection for their next request."
		} else {
			cause = "A worker had fewer than one in sixteen of its " + slots + " slots free, so it closed idle " +
				"keep-alive connections (up to 32 at a time, longest idle first) to make room. No request failed, " +
				"but each client whose idle connection was closed must reconnect, and one that sent its next " +
				"request just as the connection closed sees an error."
		}
		raise := raiseSlots(g)
		fix = "R" + raise[1:] + "; or lower keepalive_timeout, so that idle clients give their slots back " +
			"before the worker runs short."
	case KindAcceptFiles:
		cause = "The process had as many descriptors open as its open file limit (RLIMIT_NOFILE) allows, so the " +
			"kernel could not hand over a new client connection. The worker stops accepting for 500 ms and tries " +
			"again; meanwhile clients wait in the listen backlog, and once it is full their connections are " +
			"refused or time out."
		fix = fixFileLimit
	case KindSocketFiles:
		cause = "A worker could not open a socket to the upstream because it had used every descriptor its open " +
			"file limit allows: each proxied request holds two (client and upstream), plus any file it serves " +
			"or buffers to disk. "
		if headroom {
			cause += headroomWaited("descriptor")
		} else {
			cause += "The request was answered 500."
		}
		fix = fixFileLimit
	case KindOtherFiles:
		cause = "A call that needed a new descriptor (a file, a temporary file, a log) failed because the process " +
			"reached its open file limit; the request it served failed."
		fix = fixFileLimit
	case KindSystemFiles:
		cause = "The whole machine ran out of open file handles (fs.file-max), not only this process: every " +
			"process that tries to open a file or a socket fails until some are closed."
		fix = "Read /proc/sys/fs/file-nr (allocated, unused, maximum); raise fs.file-max with sysctl and keep it " +
			"in /etc/sysctl.d/, and find the process that holds so many (ls /proc/PID/fd | wc -l)."
	case KindNoLiveUpstreams:
		name := "the upstream"
		if g.Upstream != "" {
			name = "upstream \"" + g.Upstream + "\""
		}
		cause = "Every server of " + name + " was unavailable at once: taken out after max_fails errors within " +
			"fail_timeout (by default one error takes a server out for 10 seconds; a lone server is never " +
			"taken out this way), marked down"
		if headroom {
			cause += ". headroom answered 502 without trying."
		} else {
			cause += ", or at its max_conns. nginx answered 502 without trying."
		}
		fix = "Look at the errors logged just before for why the servers failed (timeouts, refused connections) " +
			"and fix that first. If the failures are short blips, raise max_fails or lower fail_timeout so that " +
			"one error does not take a server out; add servers or a backup server. With max_conns, an upstream " +
			"queue (\"queue 100 timeout=10s;\", which headroom supports) lets requests wait for a server."
	case KindUpstreamDisabled:
		cause = backend(g) + " failed max_fails times within fail_timeout and was taken out of rotation for " +
			"fail_timeout; the other servers took its share, and when none is left \"no live upstreams\" follows."
		fix = "See the errors before it for why the server failed. If it recovers quickly, a larger max_fails or " +
			"a shorter fail_timeout keeps it in rotation."
	case KindConnectTimeout:
		cause = backend(g) + " did not complete the TCP handshake within proxy_connect_timeout (60s by default): " +
			"its listen queue is full, it is overloaded, or packets to it are lost. The request went to the next " +
			"server or was answered 504."
		fix = "On the backend, check the accept queue (ss -ltn: Recv-Q close to Send-Q means full) and raise its " +
			"listen backlog and net.core.somaxconn, or add workers or servers. A shorter proxy_connect_timeout " +
			"(a few seconds) moves requests to another server sooner."
	case KindHeaderTimeout:
		cause = backend(g) + " took the request but sent no response header within proxy_read_timeout (60s by " +
			"default): it was busy with other requests, or this request is slow. The request went to the next " +
			"server or was answered 504."
		fix = "Find the slow requests (the request field of these lines, $upstream_response_time in the access " +
			"log) and add backend capacity if it is saturated. Raise proxy_read_timeout only for locations that " +
			"are slow by design."
	case KindSendTimeout:
		cause = backend(g) + " stopped reading the request for longer than proxy_send_timeout (60s by default), " +
			"usually while a large body was being sent: it is overloaded or not reading request bodies."
		fix = "Check the backend's load and its request body handling; raise proxy_send_timeout only for " +
			"locations that take large uploads."
	case KindReadTimeout:
		cause = backend(g) + " sent part of a response and then nothing for longer than proxy_read_timeout " +
			"(60s by default), so the client got the response cut short."
		fix = "Look for stalls in the backend while it streams (locks, slow queries); for long-polling or " +
			"streaming locations, raise proxy_read_timeout there."
	case KindEphemeralPorts:
		cause = "No local port was free for a new connection to " + orThe(g.Upstream, "the backend") + ": every " +
			"connection from this host to one backend address needs its own local port from " +
			"net.ipv4.ip_local_port_range (about 28 thousand by default), and each closed connection keeps its " +
			"port in TIME_WAIT for 60 seconds, so a new connection per request runs out at a few hundred " +
			"requests per second. "
		if headroom {
			cause += headroomWaited("port")
		} else {
			cause += "The request went to the next server or was answered 502."
		}
		fix = "Keep upstream connections open instead of opening one per request: keepalive 32; in the " +
			"upstream block, with proxy_http_version 1.1; and proxy_set_header Connection \"\"; in the " +
			"location. Also widen net.ipv4.ip_local_port_range (for example 1024 65535), set " +
			"net.ipv4.tcp_tw_reuse=1, or add backend addresses to spread connections over more address pairs."
	case KindConnectRefused:
		cause = "Nothing was listening at " + orThe(g.Upstream, "the backend address") + ": the backend is down, " +
			"restarting or on another port. This is not a limit of the proxy, but it takes capacity away: after " +
			"max_fails such errors the server is out of rotation for fail_timeout and the others carry its load."
		fix = "Check that the backend runs and listens on this address (ss -ltn); if this happens only under " +
			"load, look in the backend's own log for crashes and restarts."
	case KindUpstreamBacklog:
		cause = "The listen queue of " + orThe(g.Upstream, "the backend") + " was full: on a Unix socket Linux " +
			"fails the connect at once (EAGAIN) instead of letting it wait, so the request failed as soon as the " +
			"backend fell behind in accepting connections."
		fix = "Raise the backend's listen backlog (php-fpm: listen.backlog) together with net.core.somaxconn, " +
			"add backend workers (php-fpm: pm.max_children), or keep connections open with upstream keepalive."
	case KindLimitConn:
		cause = "Requests were refused with limit_conn_status (503 by default) because their key in " +
			zoneName(g) + " already had as many requests in progress as limit_conn allows." + clientsNote(g)
		fix = fixLimitConn
	case KindLimitConnDryRun:
		cause = "limit_conn_dry_run is on: " + zoneName(g) + " would have refused these requests; nothing was " +
			"refused." + clientsNote(g)
		fix = "Use the count to choose the limit, then turn limit_conn_dry_run off to enforce it."
	case KindLimitReq:
		cause = "Requests were refused with limit_req_status (503 by default) because they came faster than " +
			zoneName(g) + "'s rate and beyond the burst" + largestExcess(g) + "." + clientsNote(g)
		fix = fixLimitReq
	case KindLimitReqDelay:
		cause = "Requests came faster than " + zoneName(g) + "'s rate but within the burst, so they were held " +
			"back until the rate allowed them" + largestExcess(g) + ": they waited, none was refused." + clientsNote(g)
		fix = "If the added latency matters, \"nodelay\" lets a burst through at once, or \"delay=N\" lets the " +
			"first N through undelayed, while requests beyond the burst are still refused."
	case KindLimitReqDryRun:
		cause = "limit_req_dry_run is on: " + zoneName(g) + " would have refused or delayed these requests" +
			largestExcess(g) + "; nothing was refused or delayed." + clientsNote(g)
		fix = "Use the count to choose rate= and burst=, then turn limit_req_dry_run off to enforce them."
	case KindLimitZoneFull:
		cause = "The shared memory of " + zoneName(g) + " is full: there was no room for a new key even after " +
			"dropping old ones, so the request was refused (limit_req_status or limit_conn_status) although " +
			"its key was within the limit."
		fix = "Make the zone larger (zone=NAME:20m in limit_req_zone or limit_conn_zone): on a 64-bit system " +
			"one megabyte holds about 8 thousand limit_req keys or 16 thousand limit_conn keys. Or key it on " +
			"something with fewer values."
	case KindExceedFileLimit:
		limit := "the open file limit"
		if g.FileLimit > 0 {
			limit += " (" + strconv.Itoa(g.FileLimit) + ")"
		}
		if g.Allowed > 0 {
			cause = "worker_connections (" + slots + ") for " + orNumber(g.WorkerProcesses, "the") + " workers " +
				"does not fit " + limit + ", which all of headroom's workers share, so headroom lowered it to " +
				strconv.Itoa(g.Allowed) + " per worker."
			fix = "Raise the open file limit (LimitNOFILE=, ulimit -n or worker_rlimit_nofile) to at least " +
				"workers × worker_connections plus a few dozen, or set worker_connections to " +
				strconv.Itoa(g.Allowed) + " or less to make the figure explicit."
			return cause, fix
		}
		cause = "worker_connections (" + slots + ") is larger than " + limit + " the workers run with, so a " +
			"worker runs out of descriptors (\"Too many open files\") before it runs out of slots: the " +
			"configured slots cannot all be used."
		fix = "Set worker_rlimit_nofile to at least twice worker_connections, and if nginx cannot raise its " +
			"limit that far, LimitNOFILE= in the systemd unit."
	case KindSetrlimit:
		cause = "The process could not raise its open file limit"
		if g.FileLimit > 0 {
			cause += " to " + strconv.Itoa(g.FileLimit)
		}
		cause += ": the hard limit is lower and the process may not raise it."
		if g.Allowed > 0 {
			cause += " It went on with " + strconv.Itoa(g.Allowed) + "."
		}
		fix = "Raise the hard limit where the service starts: LimitNOFILE= in the systemd unit, nofile in " +
			"/etc/security/limits.conf, or ulimit -Hn in the shell that starts it."
	case KindAcceptPaused:
		cause = "A worker reached its client budget (half its " + slots + " slots, so that each client's request " +
			"has a slot for its upstream connection) or had fewer than two slots free, and stopped accepting. " +
			"New clients waited in the listen backlog, and answers carried Connection: close so that waiting " +
			"clients got their turn, unless the worker still had slow clients to close for them; no connection " +
			"was dropped."
		fix = fixSlots(g)
	case KindSlotQueued:
		cause = "A request found no free slot for its upstream connection, even after idle connections were " +
			"closed, and waited for one (at most proxy_connect_timeout)"
		if g.MaxQueued > 0 {
			cause += fmt.Sprintf("; up to %d requests waited at once", g.MaxQueued)
		}
		cause += "."
		fix = fixSlots(g)
	case KindSlotTimeout:
		cause = "A request waited its whole proxy_connect_timeout" + paren(g.Waited) + " for a slot for its " +
			"upstream connection and was answered 503 with Retry-After: every slot was held by requests in progress."
		fix = fixSlots(g) + " A slow backend holds slots longer: look at the upstream timeouts too."
	case KindMaxConnsQueued:
		cause = "Every usable server of upstream \"" + g.Upstream + "\" was at its max_conns, so requests waited " +
			"in the upstream's queue"
		if g.MaxQueued > 0 {
			cause += fmt.Sprintf(" (up to %d at once)", g.MaxQueued)
		}
		cause += " until a server had room."
		fix = "If the servers can take more, raise max_conns; otherwise add servers. The queue's timeout bounds the wait."
	case KindMaxConnsQueueFull:
		cause = "Every server of upstream \"" + g.Upstream + "\" was at its max_conns and the queue"
		if g.QueueSize > 0 {
			cause += " of " + strconv.Itoa(g.QueueSize)
		}
		cause += " was full, so requests were answered 503 with Retry-After (nginx Plus answers 502)."
		fix = "Raise the size in \"queue N timeout=T;\", raise max_conns if the servers can take more, or add servers."
	case KindMaxConnsNoQueue:
		cause = "Every server of upstream \"" + g.Upstream + "\" was at its max_conns and the upstream has no " +
			"queue, so requests were answered 503 with Retry-After at once (nginx answers 502, \"no live upstreams\")."
		fix = "Add \"queue 100 timeout=10s;\" to the upstream block so that requests wait for a server, raise " +
			"max_conns, or add servers."
	case KindMaxConnsTimeout:
		cause = "Requests waited the queue's whole timeout" + paren(g.Waited) + " for a server of upstream \"" +
			g.Upstream + "\" below its max_conns and were answered 503 with Retry-After."
		fix = "The servers stay at max_conns longer than the timeout: raise max_conns if they can take more, " +
			"add servers, or raise the queue's timeout."
	case KindDerived:
		cause = "worker_connections was not set, so headroom gave each of " + orNumber(g.WorkerProcesses, "its") +
			" workers " + slots + " slots, as many as the open file limit" + space(g.FileLimit) + " allows."
		fix = "Nothing to do. Set worker_connections to fix the figure, or raise the open file limit for more."
	case KindStarted, KindReloaded:
		what := "headroom started"
		if g.Kind == KindReloaded {
			what = "headroom reloaded its configuration"
		}
		cause = fmt.Sprintf("%s %s with %s workers of %s slots each, half of them for clients "+
			"and the rest for their upstream connections", what, times(g.Count), orNumber(g.WorkerProcesses, "its"), slots)
		if g.FileLimit > 0 && g.Allowed > 0 {
			cause += fmt.Sprintf("; the open file limit %d allows worker_connections %d", g.FileLimit, g.Allowed)
		}
		cause += "."
		fix = "Nothing to do: this records the capacity in force for the lines after it."
	case KindSlowHeadsClosed:
		cause = "A worker had used its client budget and clients waited in its listen backlog for a slot, so it " +
			"took slots back from clients that made no progress: it closed " + atLeast(g) + "connections that had " +
			"sent no complete request head for " + orThe(g.Grace, "250ms") + ", longest first, as many as were " +
			"waiting. They were idle keep-alive clients, and clients whose head came that slowly (logged with 408 " +
			"in the access log). This is headroom making room, not a failure: an idle client opens a new connection " +
			"for its next request, and a head normally arrives in one round trip." + slowUnaffected +
			" headroom_slow_clients_closed_total{reason=\"head\"} counts every one."
		fix = "Nothing to tune: the " + orThe(g.Grace, "250ms") + " rule is fixed. It runs only while clients wait " +
			"for a slot; if that is often, " + raiseSlots(g) + "; a shorter keepalive_timeout gives idle " +
			"slots back before clients have to wait."
	case KindSlowBodiesClosed:
		cause = "A worker had used its client budget and clients waited in its listen backlog for a slot, so it " +
			"took slots back from clients that made too little progress: it closed " + atLeast(g) + "connections " +
			"sending their request body " + slowBodyRule + ", slowest first, as many as were waiting. Their " +
			"requests were dropped unanswered, logged with 408 in the access log." + slowUnaffected +
			" headroom_slow_clients_closed_total{reason=\"body\"} counts every one."
		fix = fixSlowBodies + " Either way clients waited for slots: if that is often, " + raiseSlots(g) + "."
	case KindSlowReadersClosed:
		cause = "A worker had used its client budget and clients waited in its listen backlog for a slot, so it " +
			"took slots back from clients that made too little progress: it closed " + atLeast(g) + "connections " +
			"that " + slowReaderRule + ", slowest first, as many as were waiting. Their responses were cut " +
			"short." + slowUnaffected + " headroom_slow_clients_closed_total{reason=\"reader\"} counts every one."
		fix = fixSlowReaders + " Either way clients waited for slots: if that is often, " + raiseSlots(g) + "."
	case KindSlowBodyClient:
		cause = "While other clients waited in the listen backlog for a slot, headroom closed clients sending " +
			"their request body " + slowBodyRule + "; each request was dropped unanswered, logged with 408 in the " +
			"access log. headroom writes one such line per connection, at info." + fromClients(g) + slowUnaffected
		fix = fixSlowBodies
	case KindSlowReaderClient:
		cause = "While other clients waited in the listen backlog for a slot, headroom closed clients that " +
			slowReaderRule + "; each response was cut short. headroom writes one such line per connection, at " +
			"info." + fromClients(g) + slowUnaffected
		fix = fixSlowReaders
	case KindBodyToFile:
		cause = "Request bodies larger than client_body_buffer_size (two memory pages by default: 8k on x86-64) " +
			"were written to a temporary file in " + orThe(g.TempPath, "client_body_temp_path") + " before going " +
			"upstream (proxy_request_buffering on, the default). Each costs disk writes and, while its request " +
			"lasts, disk space and a descriptor. Uploads and large form posts make these lines; in moderation " +
			"they are normal."
		if g.Level == "notice" {
			cause += " These are at notice: nginx writes them so when client_body_in_file_only puts every body " +
				"in a file on purpose."
		}
		fix = "If many bodies are only a little over the buffer (form posts, JSON), raise client_body_buffer_size " +
			"(for example 64k) to keep them in memory, at that much memory per request with such a body. Large " +
			"uploads belong on disk: make sure client_body_temp_path has room for client_max_body_size times the " +
			"uploads in progress at once. " + doctorTemp
	case KindResponseToFile:
		cause = "Responses came from the upstream faster than their clients read them and outgrew proxy_buffers " +
			"(8 of one memory page by default: 32k on x86-64), so the rest was written to a temporary file in " +
			orThe(g.TempPath, "proxy_temp_path") + ", up to proxy_max_temp_file_size (1024m by default), and the " +
			"upstream connection could go as soon as the whole response was in instead of waiting for the " +
			"client. Each costs disk writes and, while its client reads, disk space and a descriptor. Large " +
			"responses to slow clients make these lines; in moderation they are normal."
		fix = "If the responses are of moderate size (pages, API answers), raise proxy_buffers (for example " +
			"16 16k) to keep them in memory, at that much memory per slow reader. proxy_max_temp_file_size caps " +
			"one file; 0 turns the files off, and a response beyond the buffers then holds its upstream " +
			"connection until the client has read it. Make sure proxy_temp_path has room for the large " +
			"responses in progress at once. " + doctorTemp
	case KindBodyTempFailed:
		cause = "A request body larger than client_body_buffer_size needed a temporary file in " +
			orThe(g.TempPath, "client_body_temp_path") + ", which could not be created, written or read back: " +
			tempWhy(g.Errno) + ". The request was answered 500."
		fix = fixTemp(g, headroom, "client_body_temp_path", "client_max_body_size for bodies")
	case KindResponseTempFailed:
		cause = "A response that outgrew proxy_buffers needed a temporary file in " +
			orThe(g.TempPath, "proxy_temp_path") + ", which could not be created, written or read back: " +
			tempWhy(g.Errno) + ". Its head and first bytes had gone to the client, so the client got the " +
			"response cut short."
		fix = fixTemp(g, headroom, "proxy_temp_path", "proxy_max_temp_file_size for responses (past it, a "+
			"response waits for its client instead of growing the file)")
	case KindClientHeaderTimeout:
		cause = "Clients connected but sent no complete request head within client_header_timeout (60s by " +
			"default), so nginx closed their connections, logging 408 in the access log without sending it. " +
			"Each held a worker_connections slot all that time. A few are clients that went away; many, from " +
			"few addresses, are a slow-headers attack (slowloris) holding slots that other clients need." +
			fromClients(g) + infoLevel
		fix = "Lower client_header_timeout (10s is plenty for real clients) so that such connections give their " +
			"slots back sooner, and cap the connections of one address with limit_conn. headroom, on the same " +
			"configuration, closes connections with no complete request head after 250 ms whenever clients " +
			"wait for a slot, so they cannot keep others out."
	case KindClientSendTimeout:
		cause = "Clients stopped reading their responses: nginx could send them nothing for send_timeout (60s " +
			"by default, timed between two writes, not over the whole response), so it closed the connections " +
			"and the responses were cut short. Until then each held its slot and buffers and, with " +
			"proxy_buffering off or a response beyond proxy_buffers and proxy_max_temp_file_size, its upstream " +
			"connection." + fromClients(g) + infoLevel
		fix = "A few are clients that went away (closed tabs, lost mobile links): nothing to change. Many at once " +
			"hold slots: lower send_timeout (for example 15s) and keep proxy_buffering on so that a slow reader " +
			"does not hold an upstream connection. headroom, on the same configuration, also closes readers " +
			"slower than send_min_rate whenever clients wait for a slot."
	case KindClientHeaderTooLarge:
		cause = "A request line or header line did not fit one buffer of large_client_header_buffers (4 8k by " +
			"default), or the head needed more buffers than that, so nginx answered 494 (sent as 400 \"Request " +
			"Header Or Cookie Too Large\"), or 414 for a request line; the request went no further. Large " +
			"cookies, long tokens in headers and long query strings are the usual causes." + fromClients(g) +
			infoLevel
		fix = "If the clients are legitimate, raise large_client_header_buffers (for example 4 16k) in the http " +
			"or server block; a buffer is taken only by a head that needs it. headroom reads the same directive " +
			"and answers the same way, without a line in the error log. If they are not, the limit works as " +
			"intended."
	}
	return cause, fix
}

// Advice for slow clients closed by headroom, and for temporary files.
const (
	fixSlowBodies = "If these are real uploads over slow links, lower client_body_min_rate or give it a longer " +
		"grace where they upload (client_body_min_rate 120 5s; 0 turns the rule off); if they are not (a " +
		"slow-body attack), the rule works as intended."
	fixSlowReaders = "If these are real downloads over slow links, lower send_min_rate or give it a longer grace " +
		"where they download (send_min_rate 120 5s; 0 turns the rule off); if they are not, the rule works " +
		"as intended."
	doctorTemp = "headroom doctor -c CONF lists each temporary file directory with its free space and how " +
		"many of the largest requests it holds at once."
)

// atLeast is the number of connections a group's lines say were closed,
// for a sentence: "at least 12 ", or nothing.
func atLeast(g *Group) string {
	if g.Closed > 0 {
		return "at least " + strconv.Itoa(g.Closed) + " "
	}
	return ""
}

// fromClients says how many client addresses the lines name.
func fromClients(g *Group) string {
	switch {
	case g.Clients == 1:
		return " They came from one client address."
	case g.Clients > 1:
		return fmt.Sprintf(" They came from %d client addresses.", g.Clients)
	}
	return ""
}

// tempWhy says what a temporary file's failure means.
func tempWhy(errno int) string {
	switch errno {
	case 0:
		return "the write stopped short, as it does when the file system fills up"
	case 1:
		return "the workers' user may not write there (1: Operation not permitted)"
	case 2:
		return "the directory does not exist (2: No such file or directory)"
	case 5:
		return "the disk reported an error (5: Input/output error)"
	case 13:
		return "the workers' user may not write there (13: Permission denied)"
	case 28:
		return "the file system is full (28: No space left on device)"
	case 30:
		return "the file system is read-only (30: Read-only file system)"
	case 122:
		return "the user's disk quota is used up (122: Disk quota exceeded)"
	}
	return "the system said error " + strconv.Itoa(errno)
}

// fixTemp is the advice for a temporary file that failed, by its error.
// pathDirective names the directory's directive, limit what bounds one
// request's file.
func fixTemp(g *Group, headroom bool, pathDirective, limit string) string {
	dir := orThe(g.TempPath, "the directory")
	switch g.Errno {
	case 0, 28, 122:
		return "Free space on " + dir + "'s file system or point " + pathDirective + " at a larger one, and cap " +
			"what one request may write there: " + limit + ". " + doctorTemp
	case 1, 13:
		user := "the user in nginx's user directive (www-data or nginx on most systems)"
		if headroom {
			user = "the user headroom runs as"
		}
		return "Give " + user + " write access to " + dir + " and the directories under it (chown -R), or " +
			"point " + pathDirective + " at a directory that user owns. If the permissions look right, look for " +
			"SELinux or AppArmor denials (ausearch -m avc, dmesg)."
	case 2:
		return "Create " + dir + ", owned by the workers' user, or point " + pathDirective + " at a directory " +
			"that exists; restarting the server creates it. A directory under /tmp may have been removed by " +
			"systemd-tmpfiles or be hidden by the unit's PrivateTmp=."
	case 30:
		return "Make " + dir + " writable: under systemd's ProtectSystem=, list it in ReadWritePaths= of the " +
			"unit; or point " + pathDirective + " at a writable file system."
	case 5:
		return "Check the disk (dmesg, smartctl) and point " + pathDirective + " at another."
	}
	return "Check that the workers' user can create and write files in " + dir + " and that its file system " +
		"has room. " + doctorTemp
}

// fixSlots is the advice for headroom's slot messages.
func fixSlots(g *Group) string {
	return "If clients wait too long, " + raiseSlots(g) + "; a shorter keepalive_timeout frees slots held by " +
		"idle clients sooner."
}

// raiseSlots says how to get more slots, from what the log says of the
// open file limit. Adding workers does not help: headroom's workers share
// one open file limit, so more of them means fewer slots each.
func raiseSlots(g *Group) string {
	switch {
	case g.Allowed > g.WorkerConnections && g.WorkerConnections > 0:
		return fmt.Sprintf("raise worker_connections toward %d, what the open file limit allows", g.Allowed)
	case g.Allowed > 0:
		return fmt.Sprintf("raise the open file limit (LimitNOFILE=, worker_rlimit_nofile): worker_connections "+
			"is already at the %d it allows", g.Allowed)
	}
	return "raise worker_connections within the open file limit"
}

func largestExcess(g *Group) string {
	if g.MaxExcess > 0 {
		return " (largest excess " + excessText(g.MaxExcess) + " requests)"
	}
	return ""
}

func orThe(s, the string) string {
	if s != "" {
		return s
	}
	return the
}

func orNumber(n int, word string) string {
	if n > 0 {
		return strconv.Itoa(n)
	}
	return word
}

func paren(s string) string {
	if s != "" {
		return " (" + s + ")"
	}
	return ""
}

func space(n int) string {
	if n > 0 {
		return " " + strconv.Itoa(n)
	}
	return ""
}

func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// headroomWaited says what headroom does with a request whose upstream
// connection could not be opened for lack of a descriptor or a port.
func headroomWaited(what string) string {
	return "Nothing of the request had been sent, so it waited and tried again every 100 ms; it was " +
		"answered 503 with Retry-After only if no " + what + " freed within proxy_connect_timeout."
}
