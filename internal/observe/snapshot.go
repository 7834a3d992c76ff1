package observe

// Snapshot is every figure at one moment, as the status page's JSON
// carries it and as stub_status and Prometheus render it. Field names are
// part of the JSON interface (docs/statuspage.md); add, never rename.
type Snapshot struct {
	Version       string  `json:"version"`
	NginxVersion  string  `json:"nginx_version"`
	PID           int     `json:"pid"`
	TimeMs        int64   `json:"time_ms"`
	UptimeSeconds float64 `json:"uptime_seconds"`

	Connections Connections        `json:"connections"`
	Responses   map[string]uint64  `json:"responses"`
	Workers     []WorkerSnapshot   `json:"workers"`
	Listeners   []ListenerSnapshot `json:"listeners"`
	Pressure    Pressure           `json:"pressure"`
	Buffering   Buffering          `json:"buffering"`
	TLS         TLS                `json:"tls"`
	// QueueWait is the time requests spent in queues; not in the JSON,
	// whose readers derive rates from counts.
	QueueWait HistogramSnapshot  `json:"-"`
	Zones     []ZoneSnapshot     `json:"zones"`
	Caches    []CacheSnapshot    `json:"caches"`
	Upstreams []UpstreamSnapshot `json:"upstreams"`
	// Store is the zone_sync store, when the configuration names one.
	Store *StoreSnapshot `json:"zone_sync,omitempty"`
}

// StoreSnapshot is the zone_sync store as the workers see it.
type StoreSnapshot struct {
	URL string `json:"url"`
	// Connected is how many workers have a connection that answers, of
	// Workers.
	Connected int `json:"connected"`
	Workers   int `json:"workers"`
	// RoundTripSeconds is the smoothed time a check takes.
	RoundTripSeconds float64 `json:"round_trip_seconds"`
	// Instances is how many instances share the store, by the last
	// heartbeat's count.
	Instances int64  `json:"instances"`
	Fallback  string `json:"fallback"`
}

// Connections are stub_status's figures.
type Connections struct {
	Active   int64  `json:"active"`
	Reading  int64  `json:"reading"`
	Writing  int64  `json:"writing"`
	Waiting  int64  `json:"waiting"`
	Accepted uint64 `json:"accepted"`
	Handled  uint64 `json:"handled"`
	Requests uint64 `json:"requests"`
}

// WorkerSnapshot is one worker's slots against its budget.
type WorkerSnapshot struct {
	ID             int   `json:"id"`
	Slots          int   `json:"slots"`
	ClientBudget   int   `json:"client_budget"`
	ClientActive   int64 `json:"client_active"`
	ClientIdle     int64 `json:"client_idle"`
	UpstreamActive int64 `json:"upstream_active"`
	UpstreamIdle   int64 `json:"upstream_idle"`
	// Store is the slot of the connection to the zone_sync store; only
	// with zone_sync.
	Store        int64 `json:"store,omitempty"`
	AcceptPaused bool  `json:"accept_paused"`
	SlotQueue    int64 `json:"slot_queue"`
}

// ListenerSnapshot is one listening socket and the clients waiting in its
// accept queue.
type ListenerSnapshot struct {
	Address string `json:"address"`
	Backlog int    `json:"backlog"`
	Queue   int    `json:"queue"`
}

// Buffering counts what request buffering did.
type Buffering struct {
	// BodiesToFile counts request bodies written to a temporary file.
	BodiesToFile uint64 `json:"bodies_to_file"`
	// ResponsesToFile counts responses buffered in a temporary file.
	ResponsesToFile uint64 `json:"responses_to_file"`
	// TempFileWaits counts request bodies that waited for a temporary
	// file.
	TempFileWaits uint64 `json:"temp_file_waits"`
	// TempFiles is the number of temporary files open, TempFilesLimit
	// how many the workers may hold open together.
	TempFiles      int64 `json:"temp_files"`
	TempFilesLimit int64 `json:"temp_files_limit"`
}

// TLS counts the TLS handshakes with clients and what they cost.
type TLS struct {
	// Handshakes counts handshakes completed, HandshakesFailed those
	// that ended with an error (a client that closed during one
	// included).
	Handshakes       uint64 `json:"handshakes"`
	HandshakesFailed uint64 `json:"handshakes_failed"`
	// HandshakeSeconds is the time the workers' loops spent running
	// handshakes: CPU on the loop threads, since a handshake never waits
	// inside. Its rate is the share of a core TLS handshakes take;
	// divided by the handshakes, what one costs.
	HandshakeSeconds float64 `json:"handshake_seconds"`
}

// Add adds o's figures to t, as the server adds those of the servers it
// replaced on reload.
func (t *TLS) Add(o TLS) {
	t.Handshakes += o.Handshakes
	t.HandshakesFailed += o.HandshakesFailed
	t.HandshakeSeconds += o.HandshakeSeconds
}

// Pressure counts each step of the response to a shortage of slots.
type Pressure struct {
	AcceptPaused        uint64 `json:"accept_paused"`
	IdleClientsClosed   uint64 `json:"idle_clients_closed"`
	IdleUpstreamsClosed uint64 `json:"idle_upstreams_closed"`
	Rotated             uint64 `json:"rotated"`
	Queued              uint64 `json:"queued"`
	Rejected            uint64 `json:"rejected"`
	SlowHeadsClosed     uint64 `json:"slow_heads_closed"`
	SlowBodiesClosed    uint64 `json:"slow_bodies_closed"`
	SlowReadersClosed   uint64 `json:"slow_readers_closed"`
}

// ZoneSnapshot is one limit_conn or limit_req zone.
type ZoneSnapshot struct {
	Name string `json:"name"`
	// Kind is "limit_conn" or "limit_req".
	Kind     string `json:"kind"`
	Rejected uint64 `json:"rejected"`
	Delayed  uint64 `json:"delayed"`
	// Sync is set for a zone shared through zone_sync: its checks
	// decided by the store, by the fallback, from the refusal cache, and
	// the errors the store answered.
	Sync *ZoneSyncFigures `json:"sync,omitempty"`
}

// CacheSnapshot is one proxy_cache_path: what its keys zone holds
// against its bounds, and how requests were answered
// ($upstream_cache_status).
type CacheSnapshot struct {
	Zone string `json:"zone"`
	Path string `json:"path"`
	// Keys the zone remembers, of MaxKeys it has room for; Stored of
	// them have a file, taking Size bytes of disk (MaxSize is max_size,
	// 0 for none).
	Keys     int               `json:"keys"`
	MaxKeys  int               `json:"max_keys"`
	Stored   int               `json:"stored"`
	Size     int64             `json:"size"`
	MaxSize  int64             `json:"max_size"`
	Statuses map[string]uint64 `json:"statuses"`
}

// ZoneSyncFigures count how a synced zone's checks were decided.
type ZoneSyncFigures struct {
	Store          uint64 `json:"store"`
	Fallback       uint64 `json:"fallback"`
	CachedRefusals uint64 `json:"cached_refusals"`
	Errors         uint64 `json:"errors"`
}

// UpstreamSnapshot is one upstream group.
type UpstreamSnapshot struct {
	Name string `json:"name"`
	// Queue is how many requests wait for a server below max_conns;
	// QueueMax is the queue directive's size (0: no queue).
	Queue    int              `json:"queue"`
	QueueMax int              `json:"queue_max"`
	Servers  []ServerSnapshot `json:"servers"`
}

// ServerSnapshot is one upstream server, summed over workers.
type ServerSnapshot struct {
	Address string `json:"address"`
	// State is "up", "down" (configured so), "unavailable" (max_fails
	// reached in at least one worker) or "backup".
	State    string            `json:"state"`
	Active   int64             `json:"active"`
	Idle     int64             `json:"idle"`
	MaxConns int               `json:"max_conns"`
	Requests uint64            `json:"requests"`
	Failures uint64            `json:"failures"`
	Response HistogramSnapshot `json:"-"`
}

// ClassNames are the keys of Snapshot.Responses, by class index.
var ClassNames = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
