package observe

import (
	"sort"
	"strconv"
)

// AppendStubStatus renders nginx's stub_status page, byte for byte as
// ngx_http_stub_status_module writes it (including the spaces before each
// line end), so that tools that parse nginx's page read headroom's.
func AppendStubStatus(b []byte, c Connections) []byte {
	b = append(b, "Active connections: "...)
	b = strconv.AppendInt(b, c.Active, 10)
	b = append(b, " \nserver accepts handled requests\n "...)
	b = strconv.AppendUint(b, c.Accepted, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, c.Handled, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, c.Requests, 10)
	b = append(b, " \nReading: "...)
	b = strconv.AppendInt(b, c.Reading, 10)
	b = append(b, " Writing: "...)
	b = strconv.AppendInt(b, c.Writing, 10)
	b = append(b, " Waiting: "...)
	b = strconv.AppendInt(b, c.Waiting, 10)
	b = append(b, " \n"...)
	return b
}

// promWriter builds Prometheus text exposition (version 0.0.4): each
// family's HELP and TYPE once, then its samples.
type promWriter struct {
	b []byte
}

func (p *promWriter) family(name, typ, help string) {
	p.b = append(p.b, "# HELP "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, help...)
	p.b = append(p.b, "\n# TYPE "...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, typ...)
	p.b = append(p.b, '\n')
}

// sample writes one line; labels alternate names and values.
func (p *promWriter) sample(name string, v float64, labels ...string) {
	p.b = append(p.b, name...)
	if len(labels) > 0 {
		p.b = append(p.b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.b = append(p.b, ',')
			}
			p.b = append(p.b, labels[i]...)
			p.b = append(p.b, `="`...)
			p.b = appendLabelValue(p.b, labels[i+1])
			p.b = append(p.b, '"')
		}
		p.b = append(p.b, '}')
	}
	p.b = append(p.b, ' ')
	p.b = strconv.AppendFloat(p.b, v, 'g', -1, 64)
	p.b = append(p.b, '\n')
}

// appendLabelValue escapes a label value as the exposition format asks:
// backslash, double quote and line feed.
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func (p *promWriter) histogram(name string, h *HistogramSnapshot, labels ...string) {
	var cum uint64
	for i, bound := range Bounds {
		cum += h.Buckets[i]
		p.sample(name+"_bucket", float64(cum), append(labels, "le", strconv.FormatFloat(bound, 'g', -1, 64))...)
	}
	p.sample(name+"_bucket", float64(h.Count), append(labels, "le", "+Inf")...)
	p.sample(name+"_sum", h.Sum, labels...)
	p.sample(name+"_count", float64(h.Count), labels...)
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// AppendPrometheus renders the snapshot as Prometheus text exposition.
// Metric names start with headroom_ and follow Prometheus' conventions:
// _total for counters, base units (seconds), one family per meaning with
// labels for worker, kind, step, zone, upstream and server.
func AppendPrometheus(b []byte, s *Snapshot) []byte {
	p := &promWriter{b: b}
	p.family("headroom_info", "gauge", "Build information.")
	p.sample("headroom_info", 1, "version", s.Version, "nginx_version", s.NginxVersion)
	p.family("headroom_uptime_seconds", "gauge", "Seconds since the server started.")
	p.sample("headroom_uptime_seconds", s.UptimeSeconds)

	p.family("headroom_worker_slots", "gauge", "Connection slots of each worker (worker_connections).")
	for _, w := range s.Workers {
		p.sample("headroom_worker_slots", float64(w.Slots), "worker", strconv.Itoa(w.ID))
	}
	p.family("headroom_worker_client_budget", "gauge", "Slots each worker lets clients hold; the rest are kept for their upstream connections.")
	for _, w := range s.Workers {
		p.sample("headroom_worker_client_budget", float64(w.ClientBudget), "worker", strconv.Itoa(w.ID))
	}
	p.family("headroom_worker_slots_in_use", "gauge", "Slots in use by kind: client_active, client_idle, upstream_active, upstream_idle, and store (the zone_sync connection) with zone_sync.")
	for _, w := range s.Workers {
		id := strconv.Itoa(w.ID)
		p.sample("headroom_worker_slots_in_use", float64(w.ClientActive), "worker", id, "kind", "client_active")
		p.sample("headroom_worker_slots_in_use", float64(w.ClientIdle), "worker", id, "kind", "client_idle")
		p.sample("headroom_worker_slots_in_use", float64(w.UpstreamActive), "worker", id, "kind", "upstream_active")
		p.sample("headroom_worker_slots_in_use", float64(w.UpstreamIdle), "worker", id, "kind", "upstream_idle")
		if s.Store != nil {
			p.sample("headroom_worker_slots_in_use", float64(w.Store), "worker", id, "kind", "store")
		}
	}
	p.family("headroom_worker_accept_paused", "gauge", "1 while the worker does not accept because it has no room.")
	for _, w := range s.Workers {
		p.sample("headroom_worker_accept_paused", b2f(w.AcceptPaused), "worker", strconv.Itoa(w.ID))
	}
	p.family("headroom_worker_slot_queue", "gauge", "Requests waiting in the worker for a connection slot.")
	for _, w := range s.Workers {
		p.sample("headroom_worker_slot_queue", float64(w.SlotQueue), "worker", strconv.Itoa(w.ID))
	}

	p.family("headroom_listen_queue", "gauge", "Connections waiting in the kernel's accept queue of each listening socket.")
	for _, l := range s.Listeners {
		p.sample("headroom_listen_queue", float64(l.Queue), "listen", l.Address)
	}
	p.family("headroom_listen_backlog", "gauge", "The accept queue's size of each listening socket.")
	for _, l := range s.Listeners {
		p.sample("headroom_listen_backlog", float64(l.Backlog), "listen", l.Address)
	}

	c := s.Connections
	p.family("headroom_connections_accepted_total", "counter", "Client connections accepted.")
	p.sample("headroom_connections_accepted_total", float64(c.Accepted))
	p.family("headroom_connections_handled_total", "counter", "Client connections handled.")
	p.sample("headroom_connections_handled_total", float64(c.Handled))
	p.family("headroom_connections", "gauge", "Client connections by state, as stub_status counts them.")
	p.sample("headroom_connections", float64(c.Reading), "state", "reading")
	p.sample("headroom_connections", float64(c.Writing), "state", "writing")
	p.sample("headroom_connections", float64(c.Waiting), "state", "waiting")
	p.family("headroom_requests_total", "counter", "Client requests read.")
	p.sample("headroom_requests_total", float64(c.Requests))
	p.family("headroom_responses_total", "counter", "Responses by status class.")
	for _, name := range ClassNames {
		p.sample("headroom_responses_total", float64(s.Responses[name]), "class", name)
	}

	p.family("headroom_tls_handshakes_total", "counter", "TLS handshakes with clients by result: completed, failed (an error, or a client that closed during the handshake).")
	p.sample("headroom_tls_handshakes_total", float64(s.TLS.Handshakes), "result", "completed")
	p.sample("headroom_tls_handshakes_total", float64(s.TLS.HandshakesFailed), "result", "failed")
	p.family("headroom_tls_handshake_seconds_total", "counter", "Time the workers' loops spent running TLS handshakes with clients: CPU on the loop threads, since a handshake never waits inside.")
	p.sample("headroom_tls_handshake_seconds_total", s.TLS.HandshakeSeconds)

	pr := s.Pressure
	p.family("headroom_pressure_total", "counter", "Each step of the response to a shortage of connection slots, in order: accept_paused, idle_client_closed, idle_upstream_closed, rotated (Connection: close while clients wait), queued, rejected (503 with Retry-After).")
	p.sample("headroom_pressure_total", float64(pr.AcceptPaused), "step", "accept_paused")
	p.sample("headroom_pressure_total", float64(pr.IdleClientsClosed), "step", "idle_client_closed")
	p.sample("headroom_pressure_total", float64(pr.IdleUpstreamsClosed), "step", "idle_upstream_closed")
	p.sample("headroom_pressure_total", float64(pr.Rotated), "step", "rotated")
	p.sample("headroom_pressure_total", float64(pr.Queued), "step", "queued")
	p.sample("headroom_pressure_total", float64(pr.Rejected), "step", "rejected")
	p.family("headroom_slow_clients_closed_total", "counter", "Clients closed while others waited in the listen backlog, by what they were slow at: head (no complete request head for 250 ms or more, or idle that long), body (slower than client_body_min_rate), reader (slower than send_min_rate).")
	p.sample("headroom_slow_clients_closed_total", float64(pr.SlowHeadsClosed), "reason", "head")
	p.sample("headroom_slow_clients_closed_total", float64(pr.SlowBodiesClosed), "reason", "body")
	p.sample("headroom_slow_clients_closed_total", float64(pr.SlowReadersClosed), "reason", "reader")
	p.family("headroom_request_bodies_to_file_total", "counter", "Request bodies written to a temporary file because they did not fit in client_body_buffer_size.")
	p.sample("headroom_request_bodies_to_file_total", float64(s.Buffering.BodiesToFile))
	p.family("headroom_responses_to_file_total", "counter", "Responses buffered in a temporary file because their client read slower than the upstream sent.")
	p.sample("headroom_responses_to_file_total", float64(s.Buffering.ResponsesToFile))
	p.family("headroom_temp_file_waits_total", "counter", "Request bodies that waited for a temporary file because the worker had as many open as the open file limit leaves for them.")
	p.sample("headroom_temp_file_waits_total", float64(s.Buffering.TempFileWaits))
	p.family("headroom_temp_files", "gauge", "Temporary files open (request bodies and responses on their way), and how many the workers may hold open together (limit; 0 for no limit of headroom's own).")
	p.sample("headroom_temp_files", float64(s.Buffering.TempFiles), "state", "open")
	p.sample("headroom_temp_files", float64(s.Buffering.TempFilesLimit), "state", "limit")
	p.family("headroom_queue_wait_seconds", "histogram", "Time requests spent waiting in a queue for a slot or an upstream server.")
	p.histogram("headroom_queue_wait_seconds", &s.QueueWait)

	p.family("headroom_limit_rejected_total", "counter", "Requests refused by a limit_conn or limit_req zone.")
	for _, z := range s.Zones {
		p.sample("headroom_limit_rejected_total", float64(z.Rejected), "zone", z.Name, "kind", z.Kind)
	}
	p.family("headroom_limit_delayed_total", "counter", "Requests delayed by a limit_req zone.")
	for _, z := range s.Zones {
		if z.Kind == "limit_req" {
			p.sample("headroom_limit_delayed_total", float64(z.Delayed), "zone", z.Name)
		}
	}

	p.family("headroom_cache_keys", "gauge", "Keys a proxy_cache zone remembers (state=used), has room for (max), and has files for (stored).")
	for _, c := range s.Caches {
		p.sample("headroom_cache_keys", float64(c.Keys), "zone", c.Zone, "state", "used")
		p.sample("headroom_cache_keys", float64(c.MaxKeys), "zone", c.Zone, "state", "max")
		p.sample("headroom_cache_keys", float64(c.Stored), "zone", c.Zone, "state", "stored")
	}
	p.family("headroom_cache_size_bytes", "gauge", "Disk a proxy_cache's files take (state=used) and its max_size (max; 0 for none).")
	for _, c := range s.Caches {
		p.sample("headroom_cache_size_bytes", float64(c.Size), "zone", c.Zone, "state", "used")
		p.sample("headroom_cache_size_bytes", float64(c.MaxSize), "zone", c.Zone, "state", "max")
	}
	p.family("headroom_cache_requests_total", "counter", "Requests a proxy_cache looked up, by $upstream_cache_status.")
	for _, c := range s.Caches {
		for _, st := range sortedStatuses(c.Statuses) {
			p.sample("headroom_cache_requests_total", float64(c.Statuses[st]), "zone", c.Zone, "status", st)
		}
	}

	if st := s.Store; st != nil {
		p.family("headroom_zone_sync_up", "gauge", "Workers whose connection to the zone_sync store answers (of headroom_workers).")
		p.sample("headroom_zone_sync_up", float64(st.Connected))
		p.family("headroom_zone_sync_round_trip_seconds", "gauge", "Smoothed time a check of a synced zone takes in the zone_sync store.")
		p.sample("headroom_zone_sync_round_trip_seconds", st.RoundTripSeconds)
		p.family("headroom_zone_sync_instances", "gauge", "Instances sharing the zone_sync store, by the last heartbeat's count.")
		p.sample("headroom_zone_sync_instances", float64(st.Instances))
		p.family("headroom_zone_sync_checks_total", "counter", "Checks of synced limit_req and limit_conn zones by who decided them: the store, the fallback while the store was away, or the cache of the store's refusals (limit_req); errors are checks the store answered with an error (decided by the fallback too).")
		for _, z := range s.Zones {
			if f := z.Sync; f != nil {
				p.sample("headroom_zone_sync_checks_total", float64(f.Store), "zone", z.Name, "kind", z.Kind, "decided_by", "store")
				p.sample("headroom_zone_sync_checks_total", float64(f.Fallback), "zone", z.Name, "kind", z.Kind, "decided_by", "fallback")
				if z.Kind == "limit_req" {
					p.sample("headroom_zone_sync_checks_total", float64(f.CachedRefusals), "zone", z.Name, "kind", z.Kind, "decided_by", "cached_refusal")
				}
				p.sample("headroom_zone_sync_checks_total", float64(f.Errors), "zone", z.Name, "kind", z.Kind, "decided_by", "error")
			}
		}
	}

	p.family("headroom_upstream_queue", "gauge", "Requests waiting for a server of the upstream below its max_conns.")
	for _, u := range s.Upstreams {
		p.sample("headroom_upstream_queue", float64(u.Queue), "upstream", u.Name)
	}
	p.family("headroom_upstream_server_up", "gauge", "1 when the server may be used: not down and not failed beyond max_fails.")
	for _, u := range s.Upstreams {
		for _, sv := range u.Servers {
			p.sample("headroom_upstream_server_up", b2f(sv.State == "up" || sv.State == "backup"), "upstream", u.Name, "server", sv.Address)
		}
	}
	p.family("headroom_upstream_server_connections", "gauge", "Connections to each upstream server by state, summed over workers.")
	for _, u := range s.Upstreams {
		for _, sv := range u.Servers {
			p.sample("headroom_upstream_server_connections", float64(sv.Active), "upstream", u.Name, "server", sv.Address, "state", "active")
			p.sample("headroom_upstream_server_connections", float64(sv.Idle), "upstream", u.Name, "server", sv.Address, "state", "idle")
		}
	}
	p.family("headroom_upstream_server_requests_total", "counter", "Attempts sent to each upstream server.")
	for _, u := range s.Upstreams {
		for _, sv := range u.Servers {
			p.sample("headroom_upstream_server_requests_total", float64(sv.Requests), "upstream", u.Name, "server", sv.Address)
		}
	}
	p.family("headroom_upstream_server_failures_total", "counter", "Attempts at each upstream server that failed (counted towards max_fails).")
	for _, u := range s.Upstreams {
		for _, sv := range u.Servers {
			p.sample("headroom_upstream_server_failures_total", float64(sv.Failures), "upstream", u.Name, "server", sv.Address)
		}
	}
	p.family("headroom_upstream_server_response_seconds", "histogram", "Time from sending a request to an upstream server to reading its response head.")
	for _, u := range s.Upstreams {
		for i := range u.Servers {
			sv := &u.Servers[i]
			p.histogram("headroom_upstream_server_response_seconds", &sv.Response, "upstream", u.Name, "server", sv.Address)
		}
	}
	return p.b
}

// sortedStatuses lists a cache's statuses in a stable order.
func sortedStatuses(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
