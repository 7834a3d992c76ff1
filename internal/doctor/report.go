package doctor

// Report is everything doctor found. Its JSON form ("headroom doctor
// --json") carries the same facts as the text; the field names are part of
// the command's interface and only ever gain new fields (docs/doctor.md).
type Report struct {
	// Config names the configuration read: its absolute path, or
	// "(embedded default)".
	Config string `json:"config"`
	// Server is the server the report predicts: "nginx" or "headroom".
	Server string `json:"server"`
	// ServerReason says why that server was chosen.
	ServerReason string `json:"server_reason"`
	// LimitsOf says whose open file limits the figures use: the running
	// server's, or those a server started from this shell inherits.
	LimitsOf string `json:"limits_of"`
	// Running is the running server found through the pid file; nil when
	// none runs, and RunningNote then says why.
	Running     *Running `json:"running"`
	RunningNote string   `json:"running_note,omitempty"`

	// Capacity is what the server holds with this configuration on this
	// machine, and which limit binds first.
	Capacity Capacity `json:"capacity"`
	// Other is what the other server would do with the same configuration
	// and machine.
	Other Capacity `json:"other"`
	// Startup are the messages about capacity the server would log when
	// it starts, in its own words.
	Startup []string `json:"startup_messages"`
	// Limits lists every limit that takes part, in a fixed order.
	Limits []Limit `json:"limits"`
	// Want is the number of concurrent proxied requests the fixes aim at,
	// and WantReason where it comes from.
	Want       int    `json:"want"`
	WantReason string `json:"want_reason"`
	// Fixes raise capacity, in the order that helps most; each one's After
	// is the capacity with it and every fix before it applied.
	Fixes []Fix `json:"fixes"`
	// Remaining says, when the fixes fall short of Want, which limit then
	// binds and why no line raises it.
	Remaining string `json:"remaining,omitempty"`
	// Advice are changes that leave capacity as it is but remove a
	// problem under load (After is null).
	Advice []Fix `json:"advice"`
	// Notes are further findings about the configuration.
	Notes []string `json:"notes"`
	// Unsupported lists the directives headroom does not run.
	Unsupported []Unsupported `json:"unsupported"`
	// Memory is the per-connection estimate the memory figures use.
	Memory MemoryModel `json:"memory_model"`
	// TempDirs are the directories where the locations that proxy write
	// request bodies and responses that do not fit their buffers, with
	// the free space of each.
	TempDirs []TempDir `json:"temp_dirs"`
	// Caches are the proxy_cache_path directories.
	Caches []CacheDir `json:"caches"`
	// TempFilesPerWorker is how many temporary files each headroom
	// worker may hold open at once (0 for nginx, which does not bound
	// them apart from the open file limit).
	TempFilesPerWorker int `json:"temp_files_per_worker"`
	// TLS describes the certificates and the cost of TLS when some
	// address listens with ssl; null otherwise.
	TLS *TLSReport `json:"tls"`
	// HTTP2 says what HTTP/2's streams do to the capacity when some
	// address listens with http2; null otherwise.
	HTTP2 *HTTP2Report `json:"http2"`
	// ZoneSync describes the zone_sync store, the fleet that shares it
	// and what the synced zones enforce; null without zone_sync.
	ZoneSync *ZoneSyncReport `json:"zone_sync"`
}

// Capacity is how many connections a server holds at once.
type Capacity struct {
	Server string `json:"server"`
	// Workers is the number of workers (threads for headroom, processes
	// for nginx) and SlotsPerWorker the connection slots each one has.
	Workers        int `json:"workers"`
	SlotsPerWorker int `json:"slots_per_worker"`
	// Proxied is the most concurrent proxied requests (concurrent requests
	// when nothing is proxied), in total and per worker.
	Proxied          int `json:"proxied"`
	ProxiedPerWorker int `json:"proxied_per_worker"`
	// Idle is the most idle keep-alive client connections, in total and
	// per worker.
	Idle          int `json:"idle"`
	IdlePerWorker int `json:"idle_per_worker"`
	// Binding and BindingIdle are the names (as in Limit.Name) of the
	// limits that set Proxied and Idle.
	Binding     string `json:"binding"`
	BindingIdle string `json:"binding_idle"`
	// Beyond and BeyondIdle say what the server does past those figures.
	Beyond     string `json:"beyond,omitempty"`
	BeyondIdle string `json:"beyond_idle,omitempty"`
	// Proxies is false when no location proxies: Proxied then counts
	// requests answered by the server itself.
	Proxies bool `json:"proxies"`
}

// Limit is one limit that takes part in the figures.
type Limit struct {
	// Name identifies the limit: a directive ("worker_connections"), a
	// sysctl ("net.core.somaxconn"), "RLIMIT_NOFILE soft" and the like.
	Name string `json:"name"`
	// Value is the value as written or read ("1024", "32768 60999",
	// "max", "unset").
	Value string `json:"value"`
	// Source is where the value comes from: "nginx.conf:3", a /proc path,
	// "nginx's default".
	Source string `json:"source"`
	// Proxied and Idle are the concurrent proxied requests and idle
	// keep-alive connections this limit alone allows; null when it does
	// not bound them.
	Proxied *int `json:"proxied"`
	Idle    *int `json:"idle"`
	// Binds is true for the limit that sets Capacity.Proxied.
	Binds bool `json:"binds"`
	// Note explains the figure or the limit's effect.
	Note string `json:"note,omitempty"`
}

// Fix is one change, with the lines that make it.
type Fix struct {
	// Limit is the Limit.Name the fix raises; From and To its value
	// before and after.
	Limit string `json:"limit"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Changes are the lines to write. The first one is the change; each
	// next one has Join "or" (an alternative to the ones before) or "and"
	// (needed as well).
	Changes []Change `json:"changes"`
	// After is the capacity once this fix and those before it are made;
	// null for advice.
	After *Capacity `json:"after"`
	// Why says what the change does.
	Why string `json:"why,omitempty"`
}

// Change is one line to write somewhere.
type Change struct {
	// Join is "", "or" or "and"; see Fix.Changes.
	Join string `json:"join"`
	// Where is the file, with ":LINE" when the line is there already, or
	// a block to add it to ("events block at nginx.conf:2").
	Where string `json:"where"`
	// Line is the exact text; several lines are separated by "\n".
	Line string `json:"line"`
	// Note says how to make it take effect, or when it applies.
	Note string `json:"note,omitempty"`
}

// Running is the running server found through the pid file.
type Running struct {
	PIDFile string `json:"pid_file"`
	PID     int    `json:"pid"`
	Name    string `json:"name"`
	// Soft and Hard are its RLIMIT_NOFILE (-1 for unlimited).
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
	// WorkerPID, WorkerSoft and WorkerHard describe its first child
	// process (an nginx worker), when it has one.
	WorkerPID  int   `json:"worker_pid,omitempty"`
	WorkerSoft int64 `json:"worker_soft,omitempty"`
	WorkerHard int64 `json:"worker_hard,omitempty"`
}

// Unsupported is a directive (or parameter) headroom does not run.
type Unsupported struct {
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
	Where  string `json:"where"`
}

// MemoryModel is the memory estimate behind the memory figures.
type MemoryModel struct {
	// BaseBytes is the server's own memory before connections.
	BaseBytes int64 `json:"base_bytes"`
	// IdleBytes is the cost of one idle keep-alive client connection.
	IdleBytes int64 `json:"idle_bytes"`
	// RequestBytes is the cost of one proxied request in progress: its
	// client and upstream connections with their buffers, at the sizes
	// the configuration gives them, in the location where they are
	// largest.
	RequestBytes int64 `json:"request_bytes"`
	// Buffers lists the buffers RequestBytes counts ("4 x 16 KiB pooled
	// + client_body_buffer_size 8k + ..."), and BuffersWhere names the
	// location they are those of (empty when no location proxies).
	Buffers      string `json:"buffers"`
	BuffersWhere string `json:"buffers_where,omitempty"`
	// TLS is set when some address listens with ssl: IdleBytes is then
	// an idle TLS connection's and every client is counted as one.
	// UpstreamTLS is set when a location proxies to https, and the
	// upstream connection of RequestBytes is counted as TLS too.
	// PlainIdleBytes is a plain connection's cost.
	TLS            bool  `json:"tls"`
	UpstreamTLS    bool  `json:"upstream_tls"`
	PlainIdleBytes int64 `json:"plain_idle_bytes"`
	// Source says where the figures come from.
	Source string `json:"source"`
}

// TempDir is a directory for temporary files: client_body_temp_path,
// where a request body larger than client_body_buffer_size goes, and
// proxy_temp_path, where a response goes that the client reads slower
// than the upstream sends once it outgrows proxy_buffers. Each file
// takes disk space and, while open, a descriptor.
type TempDir struct {
	// Path is the directory.
	Path string `json:"path"`
	// For names the directives that name it: "client_body_temp_path",
	// "proxy_temp_path" or both.
	For []string `json:"for"`
	// Source is where it is set ("site.conf:12"), or "default".
	Source string `json:"source"`
	// Exists is false when the directory is not there yet (the server
	// creates it at start); StatfsPath is the directory whose file system
	// was read: Path, or its nearest parent that exists. Empty when the
	// free space is unknown.
	Exists     bool   `json:"exists"`
	StatfsPath string `json:"statfs_path,omitempty"`
	// FreeBytes (available to an unprivileged process) and TotalBytes
	// are those of the file system; null when unknown, and Error then
	// says why.
	FreeBytes  *int64 `json:"free_bytes"`
	TotalBytes *int64 `json:"total_bytes"`
	Error      string `json:"error,omitempty"`
	// RequestBytes is the most one request writes here: the largest
	// client_max_body_size of the locations whose bodies go here plus
	// the largest proxy_max_temp_file_size of those whose responses do;
	// null when a body has no bound (client_max_body_size 0), 0 when no
	// location writes files here.
	RequestBytes *int64 `json:"request_bytes"`
	// WarnBelowBytes is the free space below which Warning is set: the
	// larger of RequestBytes and 1 GiB (0 when nothing is written here).
	WarnBelowBytes int64 `json:"warn_below_bytes"`
	// Note explains the figures; Warning is set when the free space is
	// below WarnBelowBytes.
	Note    string `json:"note,omitempty"`
	Warning string `json:"warning,omitempty"`
}
