package errorlog

import (
	"slices"
	"strconv"
	"strings"
)

// Kind names a capacity condition. The values are stable identifiers for
// scripts reading the JSON form; the text form shows Title instead.
type Kind string

// The kinds Scan recognises, with the messages that produce them.
const (
	// "1024 worker_connections are not enough" (nginx's ngx_get_connection;
	// headroom when an upstream connection finds no slot), alone or with
	// " while connecting to upstream".
	KindWorkerConnections Kind = "worker_connections"
	// "1024 worker_connections are not enough, reusing connections"
	// (nginx's ngx_drain_connections; headroom's reclaimSlots).
	KindReusingConnections Kind = "reusing_connections"
	// "accept4() failed (24: Too many open files)", also accept().
	KindAcceptFiles Kind = "accept_too_many_open_files"
	// "socket() failed (24: Too many open files) while connecting to
	// upstream".
	KindSocketFiles Kind = "socket_too_many_open_files"
	// Any other call failing with 24, such as open().
	KindOtherFiles Kind = "too_many_open_files"
	// Any call failing with "(23: Too many open files in system)".
	KindSystemFiles Kind = "too_many_open_files_in_system"
	// "no live upstreams while connecting to upstream".
	KindNoLiveUpstreams Kind = "no_live_upstreams"
	// "upstream server temporarily disabled while connecting to upstream".
	KindUpstreamDisabled Kind = "upstream_disabled"
	// "upstream timed out (110: Connection timed out) while connecting to
	// upstream", and connect() failing with 110.
	KindConnectTimeout Kind = "upstream_connect_timeout"
	// "upstream timed out (110: ...) while reading response header from
	// upstream".
	KindHeaderTimeout Kind = "upstream_header_timeout"
	// "upstream timed out (110: ...) while sending request to upstream".
	KindSendTimeout Kind = "upstream_send_timeout"
	// "upstream timed out (110: ...) while reading upstream".
	KindReadTimeout Kind = "upstream_read_timeout"
	// "connect() failed (99: Cannot assign requested address)", also
	// "connect() to ADDR failed (99: ...)".
	KindEphemeralPorts Kind = "ephemeral_ports"
	// "connect() failed (111: Connection refused) while connecting to
	// upstream".
	KindConnectRefused Kind = "upstream_refused"
	// "connect() to unix:... failed (11: Resource temporarily
	// unavailable)": the backend's listen queue is full.
	KindUpstreamBacklog Kind = "upstream_backlog_full"
	// "limiting connections by zone "x"".
	KindLimitConn Kind = "limit_conn"
	// "limiting connections, dry run, by zone "x"".
	KindLimitConnDryRun Kind = "limit_conn_dry_run"
	// "limiting requests, excess: 1.500 by zone "x"".
	KindLimitReq Kind = "limit_req"
	// "delaying request, excess: 0.500, by zone "x"".
	KindLimitReqDelay Kind = "limit_req_delay"
	// "limiting requests, dry run, ..." and "delaying request, dry run, ...".
	KindLimitReqDryRun Kind = "limit_req_dry_run"
	// "could not allocate node in limit_req zone "x"", also limit_conn and
	// "ngx_slab_alloc() failed: no memory in ... zone".
	KindLimitZoneFull Kind = "limit_zone_full"
	// "4096 worker_connections exceed open file resource limit: 1024".
	KindExceedFileLimit Kind = "worker_connections_exceed_file_limit"
	// "setrlimit(RLIMIT_NOFILE, 65536) failed (...)".
	KindSetrlimit Kind = "setrlimit_failed"
	// headroom: "worker 0 out of connection slots, accept paused until
	// connections close: ...".
	KindAcceptPaused Kind = "accept_paused"
	// headroom: "worker 0 out of connection slots: ...".
	KindSlotQueued Kind = "slot_queued"
	// headroom: "worker 0 out of connection slots, request waited 1m0s: ...".
	KindSlotTimeout Kind = "slot_queue_timeout"
	// headroom: "upstream "x": every server at max_conns, 3 requests queued".
	KindMaxConnsQueued Kind = "max_conns_queued"
	// headroom: "upstream "x": every server at max_conns and the queue of
	// 100 is full".
	KindMaxConnsQueueFull Kind = "max_conns_queue_full"
	// headroom: "upstream "x": every server at max_conns and no queue ...".
	KindMaxConnsNoQueue Kind = "max_conns_no_queue"
	// headroom: "upstream "x": request waited 10s in the queue for a server
	// below max_conns".
	KindMaxConnsTimeout Kind = "max_conns_queue_timeout"
	// headroom: "configuration reloaded: 2 workers, 9980 connection slots
	// each (...); open file limit 20000, which allows worker_connections
	// 9980".
	KindReloaded Kind = "reloaded"
	// headroom: "worker_connections 9980 derived from the open file limit
	// 20000 for 2 workers".
	KindDerived Kind = "worker_connections_derived"
	// headroom: "headroom/0.1 started: 2 workers, 9980 connection slots
	// each (...); open file limit 20000, which allows worker_connections
	// 9980".
	KindStarted Kind = "started"

	// headroom: "worker 0 closed 3 connections that had sent no complete
	// request head for 250ms, to let waiting clients in: ...".
	KindSlowHeadsClosed Kind = "slow_heads_closed"
	// headroom: "worker 0 closed 2 connections sending their request body
	// slower than client_body_min_rate, to let waiting clients in: ...".
	KindSlowBodiesClosed Kind = "slow_bodies_closed"
	// headroom: "worker 0 closed 2 connections reading their response
	// slower than send_min_rate, to let waiting clients in: ...".
	KindSlowReadersClosed Kind = "slow_readers_closed"
	// headroom, one per connection: "client sent its request body too
	// slowly while clients waited for a slot".
	KindSlowBodyClient Kind = "slow_body_client"
	// headroom, one per connection: "client read its response too slowly
	// while clients waited for a slot".
	KindSlowReaderClient Kind = "slow_reader_client"
	// "a client request body is buffered to a temporary file PATH"
	// (nginx and headroom).
	KindBodyToFile Kind = "client_body_buffered_to_file"
	// "an upstream response is buffered to a temporary file PATH while
	// reading upstream" (nginx and headroom).
	KindResponseToFile Kind = "response_buffered_to_file"
	// A request body's temporary file could not be created, written or
	// read: "open() "PATH" failed (28: No space left on device)", also
	// mkdir(), pwrite(), pwritev(), writev(), pread() and "pwritev()
	// "PATH" has written only N of M", at crit, on a temporary file name.
	KindBodyTempFailed Kind = "client_body_temp_file_failed"
	// The same for a buffered response: "... while reading upstream" or
	// "... while sending to client".
	KindResponseTempFailed Kind = "response_temp_file_failed"
	// nginx: "client timed out (110: Connection timed out) while reading
	// client request headers", also "... request line", "... waiting for
	// request" and "... SSL handshaking".
	KindClientHeaderTimeout Kind = "client_header_timeout"
	// nginx: "client timed out (110: Connection timed out) while sending
	// to client", also "... sending response to client".
	KindClientSendTimeout Kind = "client_send_timeout"
	// nginx: "client sent too long header line: "..."", "client sent too
	// large request" and "client sent too long URI".
	KindClientHeaderTooLarge Kind = "client_header_too_large"
)

// Impact says what a condition did to requests. Lower is more serious.
type Impact int

// Impacts, most serious first.
const (
	// Failed: requests failed or connections were dropped.
	Failed Impact = iota
	// Refused: requests were refused by a limit the configuration sets.
	Refused
	// Slowed: requests waited or idle connections were closed; none failed.
	Slowed
	// Info: nothing was refused or delayed by it: start-up figures, dry
	// runs, a server set aside.
	Info
)

var impactNames = [...]string{"failed", "refused", "slowed", "info"}

// String returns the impact's name.
func (i Impact) String() string {
	if i >= 0 && int(i) < len(impactNames) {
		return impactNames[i]
	}
	return "impact(" + strconv.Itoa(int(i)) + ")"
}

// MarshalText writes the impact's name, so that JSON says "failed"
// rather than a number whose meaning lives in this package.
func (i Impact) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (i *Impact) UnmarshalText(b []byte) error {
	for n, name := range impactNames {
		if string(b) == name {
			*i = Impact(n)
			return nil
		}
	}
	return &impactError{string(b)}
}

type impactError struct{ s string }

func (e *impactError) Error() string { return "errorlog: unknown impact " + strconv.Quote(e.s) }

// Describe says the impact in words for the text report.
func (i Impact) Describe() string {
	switch i {
	case Failed:
		return "requests failed or connections were dropped"
	case Refused:
		return "requests refused by a configured limit"
	case Slowed:
		return "requests waited or idle connections were closed; none failed"
	}
	return "nothing refused or delayed"
}

// kindInfo is what a kind is and how its lines are grouped.
type kindInfo struct {
	impact      Impact
	perUpstream bool // group by backend
	perZone     bool // group by limit zone
	perSlots    bool // group by the worker_connections figure
	perPath     bool // group by temporary file directory
	perErrno    bool // group by the system error
}

var kinds = map[Kind]kindInfo{
	KindWorkerConnections:  {impact: Failed, perSlots: true},
	KindReusingConnections: {impact: Slowed, perSlots: true},
	KindAcceptFiles:        {impact: Failed},
	KindSocketFiles:        {impact: Failed},
	KindOtherFiles:         {impact: Failed},
	KindSystemFiles:        {impact: Failed},
	KindNoLiveUpstreams:    {impact: Failed, perUpstream: true},
	KindUpstreamDisabled:   {impact: Info, perUpstream: true},
	KindConnectTimeout:     {impact: Failed, perUpstream: true},
	KindHeaderTimeout:      {impact: Failed, perUpstream: true},
	KindSendTimeout:        {impact: Failed, perUpstream: true},
	KindReadTimeout:        {impact: Failed, perUpstream: true},
	KindEphemeralPorts:     {impact: Failed, perUpstream: true},
	KindConnectRefused:     {impact: Failed, perUpstream: true},
	KindUpstreamBacklog:    {impact: Failed, perUpstream: true},
	KindLimitConn:          {impact: Refused, perZone: true},
	KindLimitConnDryRun:    {impact: Info, perZone: true},
	KindLimitReq:           {impact: Refused, perZone: true},
	KindLimitReqDelay:      {impact: Slowed, perZone: true},
	KindLimitReqDryRun:     {impact: Info, perZone: true},
	KindLimitZoneFull:      {impact: Failed, perZone: true},
	KindExceedFileLimit:    {impact: Info},
	KindSetrlimit:          {impact: Info},
	KindAcceptPaused:       {impact: Slowed},
	KindSlotQueued:         {impact: Slowed},
	KindSlotTimeout:        {impact: Failed},
	KindMaxConnsQueued:     {impact: Slowed, perUpstream: true},
	KindMaxConnsQueueFull:  {impact: Failed, perUpstream: true},
	KindMaxConnsNoQueue:    {impact: Failed, perUpstream: true},
	KindMaxConnsTimeout:    {impact: Failed, perUpstream: true},
	KindDerived:            {impact: Info},
	KindStarted:            {impact: Info},
	KindReloaded:           {impact: Info},

	KindSlowHeadsClosed:      {impact: Slowed},
	KindSlowBodiesClosed:     {impact: Refused},
	KindSlowReadersClosed:    {impact: Refused},
	KindSlowBodyClient:       {impact: Refused},
	KindSlowReaderClient:     {impact: Refused},
	KindBodyToFile:           {impact: Info, perPath: true},
	KindResponseToFile:       {impact: Info, perPath: true},
	KindBodyTempFailed:       {impact: Failed, perPath: true, perErrno: true},
	KindResponseTempFailed:   {impact: Failed, perPath: true, perErrno: true},
	KindClientHeaderTimeout:  {impact: Refused},
	KindClientSendTimeout:    {impact: Refused},
	KindClientHeaderTooLarge: {impact: Refused},
}

// Kinds lists every kind Scan recognises, for documentation and tests.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// match is what classify found in one message.
type match struct {
	kind      Kind
	upstream  string
	zone      string
	slots     int
	allowed   int
	fileLimit int
	workers   int
	errno     int
	excess    int64 // thousandths of a request
	queueSize int
	queued    int
	waited    string
	closed    int    // connections a worker closed for slow clients
	grace     string // "250ms": how long a head may take
	tempPath  string // temporary file directory
	// headroom is set for wording only headroom writes.
	headroom bool
}

// classify recognises a capacity message; ok is false for other lines.
func classify(e entry) (m match, ok bool) {
	msg := e.msg
	m.upstream = e.upstream
	switch {
	case strings.HasPrefix(msg, "worker_connections "):
		return derived(msg)
	case strings.HasPrefix(msg, "headroom/"):
		_, rest, found := strings.Cut(msg, " started: ")
		if !found {
			return m, false
		}
		return started(KindStarted, rest)
	case strings.HasPrefix(msg, "configuration reloaded: "):
		return started(KindReloaded, msg[len("configuration reloaded: "):])
	case strings.HasPrefix(msg, "worker "):
		return outOfSlots(msg)
	case strings.HasPrefix(msg, `upstream "`):
		return maxConns(msg)
	case strings.HasPrefix(msg, "limiting connections"):
		return limitConn(msg)
	case strings.HasPrefix(msg, "limiting requests"), strings.HasPrefix(msg, "delaying request"):
		return limitReq(msg)
	case strings.HasPrefix(msg, "could not allocate node"), strings.HasPrefix(msg, "ngx_slab_alloc() failed"):
		return zoneFull(msg)
	case strings.HasPrefix(msg, "no live upstreams"):
		m.kind = KindNoLiveUpstreams
		return m, true
	case strings.HasPrefix(msg, "upstream server temporarily disabled"):
		m.kind = KindUpstreamDisabled
		return m, true
	case strings.HasPrefix(msg, "upstream timed out"):
		m.kind = timeoutKind(msg)
		m.errno = errnoOf(msg)
		return m, true
	case strings.HasPrefix(msg, "setrlimit(RLIMIT_NOFILE"):
		return setrlimit(msg)
	case strings.HasPrefix(msg, "client "):
		return clientMsg(msg)
	case strings.HasPrefix(msg, bodyToFile), strings.HasPrefix(msg, responseToFile):
		return bufferedToFile(msg)
	}
	if n := digits(msg); n > 0 {
		return workerConnections(msg, n)
	}
	return syscallFailed(e, m)
}

// workerConnections reads "1024 worker_connections are not enough",
// its ", reusing connections" form, and "4096 worker_connections exceed
// open file resource limit: 1024".
func workerConnections(msg string, n int) (m match, ok bool) {
	m.slots = atoi(msg[:n])
	rest := msg[n:]
	switch {
	case strings.HasPrefix(rest, " worker_connections are not enough, reusing connections"):
		m.kind = KindReusingConnections
		tail := rest[len(" worker_connections are not enough, reusing connections"):]
		if strings.HasPrefix(tail, ": ") {
			m.headroom = true
			slotReport(tail[2:], &m)
		}
		return m, true
	case strings.HasPrefix(rest, " worker_connections are not enough"):
		m.kind = KindWorkerConnections
		return m, true
	case strings.HasPrefix(rest, " worker_connections exceed open file resource limit: "):
		m.kind = KindExceedFileLimit
		tail := rest[len(" worker_connections exceed open file resource limit: "):]
		d := digits(tail)
		m.fileLimit = atoi(tail[:d])
		// headroom goes on: ", using 9980 per worker for 2 workers".
		if t, found := strings.CutPrefix(tail[d:], ", using "); found {
			m.headroom = true
			d = digits(t)
			m.allowed = atoi(t[:d])
			if w, found := strings.CutPrefix(t[d:], " per worker for "); found {
				m.workers = atoi(w[:digits(w)])
			}
		}
		return m, true
	}
	return m, false
}

// slotReport reads headroom's account of a worker's slots: "1022 of 1024
// slots in use (511 client, 510 upstream), 3 requests queued; the open
// file limit allows worker_connections 9980".
func slotReport(s string, m *match) {
	if _, rest, found := strings.Cut(s, " of "); found {
		m.slots = atoi(rest[:digits(rest)])
	}
	if i := strings.Index(s, " requests queued"); i >= 0 {
		j := i
		for j > 0 && s[j-1] >= '0' && s[j-1] <= '9' {
			j--
		}
		m.queued = atoi(s[j:i])
	}
	if _, rest, found := strings.Cut(s, "allows worker_connections "); found {
		m.allowed = atoi(rest[:digits(rest)])
	}
}

// derived reads "worker_connections 9980 derived from the open file
// limit 20000 for 2 workers".
func derived(msg string) (m match, ok bool) {
	rest := msg[len("worker_connections "):]
	d := digits(rest)
	if d == 0 || !strings.HasPrefix(rest[d:], " derived from the open file limit ") {
		return m, false
	}
	m.kind = KindDerived
	m.headroom = true
	m.slots = atoi(rest[:d])
	m.allowed = m.slots
	rest = rest[d+len(" derived from the open file limit "):]
	d = digits(rest)
	m.fileLimit = atoi(rest[:d])
	if w, found := strings.CutPrefix(rest[d:], " for "); found {
		m.workers = atoi(w[:digits(w)])
	}
	return m, true
}

// started reads the capacity headroom logs when it starts or reloads its
// configuration, after "headroom/0.1 started: " or "configuration
// reloaded: ": "2 workers, 9980 connection slots each (4989 for clients,
// the rest for their upstream connections); open file limit 20000, which
// allows worker_connections 9980".
func started(kind Kind, rest string) (m match, ok bool) {
	if digits(rest) == 0 || !strings.Contains(rest, " connection slots each") {
		return m, false
	}
	m.kind = kind
	m.headroom = true
	m.workers = atoi(rest[:digits(rest)])
	if _, r, found := strings.Cut(rest, " workers, "); found {
		m.slots = atoi(r[:digits(r)])
	}
	if _, r, found := strings.Cut(rest, "; open file limit "); found {
		m.fileLimit = atoi(r[:digits(r)])
	}
	if _, r, found := strings.Cut(rest, "which allows worker_connections "); found {
		m.allowed = atoi(r[:digits(r)])
	}
	return m, true
}

// outOfSlots reads headroom's "worker 0 out of connection slots" forms.
func outOfSlots(msg string) (m match, ok bool) {
	rest := msg[len("worker "):]
	d := digits(rest)
	if d > 0 && strings.HasPrefix(rest[d:], " closed ") {
		return slowClosed(rest[d+len(" closed "):])
	}
	if d == 0 || !strings.HasPrefix(rest[d:], " out of connection slots") {
		return m, false
	}
	m.headroom = true
	rest = rest[d+len(" out of connection slots"):]
	switch {
	case strings.HasPrefix(rest, ", accept paused until connections close: "):
		m.kind = KindAcceptPaused
		slotReport(rest[len(", accept paused until connections close: "):], &m)
	case strings.HasPrefix(rest, ", request waited "):
		m.kind = KindSlotTimeout
		w := rest[len(", request waited "):]
		if i := strings.Index(w, ": "); i >= 0 {
			m.waited = w[:i]
			slotReport(w[i+2:], &m)
		}
	case strings.HasPrefix(rest, ": "):
		m.kind = KindSlotQueued
		slotReport(rest[2:], &m)
	default:
		return m, false
	}
	return m, true
}

// slowClosed reads what follows "worker 0 closed " in headroom's lines
// about slow clients it closed while others waited for a slot:
//
//	3 connections that had sent no complete request head for 250ms, to let waiting clients in: REPORT
//	2 connections sending their request body slower than client_body_min_rate, to let waiting clients in: REPORT
//	2 connections reading their response slower than send_min_rate, to let waiting clients in: REPORT
func slowClosed(s string) (m match, ok bool) {
	d := digits(s)
	if d == 0 {
		return m, false
	}
	m.closed = atoi(s[:d])
	rest, found := strings.CutPrefix(s[d:], " connections ")
	if !found {
		if rest, found = strings.CutPrefix(s[d:], " connection "); !found {
			return m, false
		}
	}
	const letIn = ", to let waiting clients in"
	why, report, _ := strings.Cut(rest, letIn)
	switch {
	case strings.HasPrefix(why, "that had sent no complete request head for "):
		m.kind = KindSlowHeadsClosed
		m.grace = why[len("that had sent no complete request head for "):]
	case why == "sending their request body slower than client_body_min_rate":
		m.kind = KindSlowBodiesClosed
	case why == "reading their response slower than send_min_rate":
		m.kind = KindSlowReadersClosed
	default:
		return m, false
	}
	m.headroom = true
	if r, found := strings.CutPrefix(report, ": "); found {
		slotReport(r, &m)
	}
	return m, true
}

// clientMsg reads the messages about one slow or oversized client:
// headroom's when it closed one for others waiting, and nginx's time-outs
// and oversized heads, which it logs at info.
func clientMsg(msg string) (m match, ok bool) {
	switch {
	case strings.HasPrefix(msg, "client sent its request body too slowly while clients waited for a slot"):
		m.kind = KindSlowBodyClient
		m.headroom = true
	case strings.HasPrefix(msg, "client read its response too slowly while clients waited for a slot"):
		m.kind = KindSlowReaderClient
		m.headroom = true
	case strings.HasPrefix(msg, "client sent too long header line"),
		strings.HasPrefix(msg, "client sent too large request"),
		strings.HasPrefix(msg, "client sent too long URI"):
		m.kind = KindClientHeaderTooLarge
	case strings.HasPrefix(msg, "client timed out"):
		// The log action says what nginx was waiting for.
		_, action, _ := strings.Cut(msg, " while ")
		switch {
		case strings.HasPrefix(action, "reading client request line"),
			strings.HasPrefix(action, "reading client request headers"),
			strings.HasPrefix(action, "waiting for request"),
			strings.HasPrefix(action, "SSL handshaking"):
			m.kind = KindClientHeaderTimeout
		case strings.HasPrefix(action, "sending to client"),
			strings.HasPrefix(action, "sending response to client"):
			m.kind = KindClientSendTimeout
		default:
			return m, false
		}
		m.errno = errnoOf(msg)
	default:
		return m, false
	}
	return m, true
}

// The start of the lines about a body or a response written to a
// temporary file, which nginx and headroom write alike.
const (
	bodyToFile     = "a client request body is buffered to a temporary file "
	responseToFile = "an upstream response is buffered to a temporary file "
)

// bufferedToFile reads "a client request body is buffered to a temporary
// file PATH" and "an upstream response is buffered to a temporary file
// PATH while reading upstream".
func bufferedToFile(msg string) (m match, ok bool) {
	path := ""
	if p, found := strings.CutPrefix(msg, bodyToFile); found {
		m.kind = KindBodyToFile
		path = p
	} else {
		m.kind = KindResponseToFile
		path = msg[len(responseToFile):]
	}
	if i := strings.Index(path, " while "); i >= 0 {
		path = path[:i]
	}
	dir, found := tempDir(path)
	if !found {
		return m, false
	}
	m.tempPath = dir
	return m, true
}

// tempCalls are the calls that create, write and read temporary files,
// as nginx (ngx_create_temp_file, ngx_create_path, ngx_write_file,
// ngx_writev_file) and headroom name them.
var tempCalls = map[string]bool{
	"open": true, "mkdir": true, "write": true, "writev": true, "pwrite": true, "pwritev": true,
	"read": true, "pread": true,
}

// tempFailed recognises a failed call on a temporary file: `open()
// "/var/lib/nginx/body/0000000001" failed (28: No space left on device)`
// or `pwritev() "PATH" has written only 4096 of 8192`. Both servers log
// them at crit; a file they serve that cannot be opened is an error,
// and its name is not ten digits.
func tempFailed(e entry, call, rest string) (m match, ok bool) {
	if !tempCalls[call] || levelRank(e.level) > levelRank("crit") || !strings.HasPrefix(rest, `"`) {
		return m, false
	}
	j := strings.IndexByte(rest[1:], '"')
	if j < 0 {
		return m, false
	}
	path, after := rest[1:1+j], rest[j+2:]
	dir, found := tempDir(path)
	if !found {
		return m, false
	}
	switch {
	case strings.HasPrefix(after, " failed ("):
		m.errno = errnoOf(after)
		if m.errno == 23 || m.errno == 24 {
			// Out of descriptors: the open file kinds say it.
			return m, false
		}
	case strings.HasPrefix(after, " has written only "):
		// A short write: the file system filled up during it.
	default:
		return m, false
	}
	m.kind = KindBodyTempFailed
	// A buffered response's file is written while reading upstream and
	// read while sending to the client; a body's has no log action.
	if strings.Contains(after, " while reading upstream") || strings.Contains(after, " while sending to client") {
		m.kind = KindResponseTempFailed
	}
	m.tempPath = dir
	return m, true
}

// tempDir takes the directory configured for temporary files
// (client_body_temp_path, proxy_temp_path) from the path of a file in it:
// nginx and headroom name a file with ten digits and put it under level
// directories made of the name's last digits ("proxy_temp_path
// /var/lib/nginx/proxy 1 2;" gives /var/lib/nginx/proxy/5/00/0000000005).
// A path that stops at a level directory, as mkdir() failures and
// headroom's open() failures of one do, is taken as one. ok is false for
// a path that is neither.
func tempDir(path string) (dir string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "", false
	}
	dir, name := path[:i], path[i+1:]
	if len(name) == 10 && digits(name) == 10 {
		// Take off the level directories that match the name.
		comps := strings.Split(dir, "/")
		for k := min(3, len(comps)-2); k >= 1; k-- {
			end, match := len(name), true
			for _, l := range comps[len(comps)-k:] {
				if len(l) < 1 || len(l) > 2 || end < len(l) || l != name[end-len(l):end] {
					match = false
					break
				}
				end -= len(l)
			}
			if match {
				return strings.Join(comps[:len(comps)-k], "/"), true
			}
		}
		return dir, true
	}
	// A level directory: one or two digits, at most three deep.
	n := 0
	for n < 3 && len(name) >= 1 && len(name) <= 2 && digits(name) == len(name) {
		n++
		path = dir
		i = strings.LastIndexByte(path, '/')
		if i <= 0 {
			return "", false
		}
		dir, name = path[:i], path[i+1:]
	}
	if n == 0 {
		return "", false
	}
	return path, true
}

// maxConns reads headroom's upstream queue messages:
//
//	upstream "x": every server at max_conns, 3 requests queued
//	upstream "x": every server at max_conns and the queue of 100 is full
//	upstream "x": every server at max_conns and no queue (add ...)
//	upstream "x": request waited 10s in the queue for a server below max_conns
func maxConns(msg string) (m match, ok bool) {
	rest := msg[len(`upstream "`):]
	i := strings.Index(rest, `": `)
	if i < 0 {
		return m, false
	}
	m.upstream = rest[:i]
	m.headroom = true
	rest = rest[i+3:]
	switch {
	case strings.HasPrefix(rest, "every server at max_conns, "):
		m.kind = KindMaxConnsQueued
		r := rest[len("every server at max_conns, "):]
		m.queued = atoi(r[:digits(r)])
	case strings.HasPrefix(rest, "every server at max_conns and the queue of "):
		m.kind = KindMaxConnsQueueFull
		r := rest[len("every server at max_conns and the queue of "):]
		m.queueSize = atoi(r[:digits(r)])
	case strings.HasPrefix(rest, "every server at max_conns and no queue"):
		m.kind = KindMaxConnsNoQueue
	case strings.HasPrefix(rest, "request waited ") && strings.HasSuffix(rest, " in the queue for a server below max_conns"):
		m.kind = KindMaxConnsTimeout
		m.waited = strings.TrimSuffix(rest[len("request waited "):], " in the queue for a server below max_conns")
	default:
		return m, false
	}
	return m, true
}

// limitConn reads "limiting connections by zone "x"" and its dry run.
func limitConn(msg string) (m match, ok bool) {
	zone, found := zoneOf(msg)
	if !found {
		return m, false
	}
	m.zone = zone
	m.upstream = ""
	m.kind = KindLimitConn
	if strings.HasPrefix(msg, "limiting connections, dry run,") {
		m.kind = KindLimitConnDryRun
	}
	return m, true
}

// limitReq reads limit_req's refusals and delays:
//
//	limiting requests, excess: 1.500 by zone "x"
//	limiting requests, dry run, excess: 1.500 by zone "x"
//	delaying request, excess: 0.500, by zone "x"
//	delaying request, dry run, excess: 0.500, by zone "x"
func limitReq(msg string) (m match, ok bool) {
	zone, found := zoneOf(msg)
	if !found {
		return m, false
	}
	m.zone = zone
	m.upstream = ""
	dry := strings.Contains(msg, ", dry run,")
	switch {
	case dry:
		m.kind = KindLimitReqDryRun
	case strings.HasPrefix(msg, "limiting requests"):
		m.kind = KindLimitReq
	default:
		m.kind = KindLimitReqDelay
	}
	if _, r, found := strings.Cut(msg, "excess: "); found {
		m.excess = excessOf(r)
	}
	return m, true
}

// excessOf reads nginx's "1.500" as 1500 thousandths.
func excessOf(s string) int64 {
	d := digits(s)
	if d == 0 || d > 15 {
		return 0
	}
	whole, _ := strconv.ParseInt(s[:d], 10, 64)
	frac := int64(0)
	if r, found := strings.CutPrefix(s[d:], "."); found {
		f := digits(r)
		if f > 3 {
			f = 3
		}
		for i := 0; i < 3; i++ {
			frac *= 10
			if i < f {
				frac += int64(r[i] - '0')
			}
		}
	}
	return whole*1000 + frac
}

// zoneFull reads "could not allocate node in limit_req zone "x"" and the
// slab allocator's "ngx_slab_alloc() failed: no memory in limit_conn zone
// "x"".
func zoneFull(msg string) (m match, ok bool) {
	if !strings.Contains(msg, "limit_conn zone") && !strings.Contains(msg, "limit_req zone") {
		return m, false
	}
	zone, found := zoneOf(msg)
	if !found {
		return m, false
	}
	m.kind = KindLimitZoneFull
	m.zone = zone
	m.upstream = ""
	return m, true
}

// zoneOf returns the quoted name after "zone ".
func zoneOf(msg string) (string, bool) {
	i := strings.LastIndex(msg, `zone "`)
	if i < 0 {
		return "", false
	}
	z := msg[i+len(`zone "`):]
	j := strings.IndexByte(z, '"')
	if j < 0 {
		return "", false
	}
	return z[:j], true
}

// timeoutKind tells the upstream timeouts apart by what nginx was doing,
// which its log action names: each has its own timeout directive and its
// own likely cause.
func timeoutKind(msg string) Kind {
	switch {
	case strings.Contains(msg, " while connecting to upstream"), strings.Contains(msg, " handshaking to upstream"):
		return KindConnectTimeout
	case strings.Contains(msg, " while sending request to upstream"):
		return KindSendTimeout
	case strings.Contains(msg, " while reading upstream"):
		return KindReadTimeout
	}
	return KindHeaderTimeout
}

// setrlimit reads nginx's "setrlimit(RLIMIT_NOFILE, 65536) failed
// (1: Operation not permitted)" and headroom's "..., using 1024".
func setrlimit(msg string) (m match, ok bool) {
	rest := strings.TrimPrefix(msg, "setrlimit(RLIMIT_NOFILE")
	rest = strings.TrimLeft(rest, ", ")
	if !strings.Contains(rest, ") failed") {
		return m, false
	}
	m.kind = KindSetrlimit
	m.fileLimit = atoi(rest[:digits(rest)])
	m.errno = errnoOf(rest)
	if i := strings.LastIndex(rest, ", using "); i >= 0 {
		r := rest[i+len(", using "):]
		m.allowed = atoi(r[:digits(r)])
	}
	return m, true
}

// syscallFailed reads "CALL() failed (N: text)" and "connect() to ADDR
// failed (N: text)", the form of every failed system call in the log.
func syscallFailed(e entry, m match) (match, bool) {
	msg := e.msg
	i := strings.Index(msg, "() ")
	if i <= 0 || !isIdent(msg[:i]) {
		return m, false
	}
	call := msg[:i]
	rest := msg[i+3:]
	if t, ok := tempFailed(e, call, rest); ok {
		return t, true
	}
	addr := ""
	if a, found := strings.CutPrefix(rest, "to "); found {
		j := strings.Index(a, " failed (")
		if j < 0 {
			return m, false
		}
		addr = a[:j]
		rest = a[j+1:]
	}
	j := strings.Index(rest, "failed (")
	if j < 0 {
		return m, false
	}
	m.errno = errnoOf(rest[j:])
	upstream := strings.Contains(msg, "while connecting to upstream")
	switch {
	case m.errno == 23:
		m.kind = KindSystemFiles
	case m.errno == 24 && (call == "accept" || call == "accept4"):
		m.kind = KindAcceptFiles
		m.headroom = strings.Contains(msg, ", accept paused for ")
	case m.errno == 24 && call == "socket":
		m.kind = KindSocketFiles
	case m.errno == 24:
		m.kind = KindOtherFiles
	case call != "connect":
		return m, false
	case m.errno == 99:
		m.kind = KindEphemeralPorts
	case m.errno == 111:
		m.kind = KindConnectRefused
	case m.errno == 110:
		m.kind = KindConnectTimeout
	case m.errno == 11 && (upstream || strings.HasPrefix(addr, "unix:")):
		m.kind = KindUpstreamBacklog
	default:
		return m, false
	}
	if kinds[m.kind].perUpstream && m.upstream == "" && addr != "" {
		m.upstream = upstreamAddr(addr)
	}
	return m, true
}

// errnoOf reads N from "... (N: text)".
func errnoOf(s string) int {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return 0
	}
	r := s[i+1:]
	d := digits(r)
	if d == 0 || !strings.HasPrefix(r[d:], ": ") {
		return 0
	}
	return atoi(r[:d])
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// atoi reads a decimal figure; values too large for an int (garbage, not
// a real setting) read as 0, which the report treats as unknown.
func atoi(s string) int {
	if len(s) > 12 {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}
