package doctor

import (
	"fmt"
	"sort"
	"strings"

	"headroom/internal/conf"
)

// HTTP2Report says what HTTP/2 does to the capacity when some address
// listens with http2: each stream in progress is a request, and a
// proxied one needs an upstream connection, so one client connection may
// need up to http2_max_concurrent_streams upstream slots at once.
type HTTP2Report struct {
	Addresses []string `json:"addresses"`
	// MaxStreams is the largest http2_max_concurrent_streams among the
	// servers on those addresses.
	MaxStreams int `json:"max_concurrent_streams"`
	// StreamsPerWorker is how many streams a worker serves at once, and
	// BusyConnections how many connections with MaxStreams streams each
	// that is.
	StreamsPerWorker int `json:"streams_per_worker"`
	BusyConnections  int `json:"busy_connections_per_worker"`
}

// http2Report describes the HTTP/2 addresses of a configuration against
// the capacity already computed; nil when none listens with http2.
func http2Report(cfg *conf.Config, c *Capacity) *HTTP2Report {
	addrs := map[string]bool{}
	max := 0
	for _, s := range cfg.HTTP.Servers {
		on := false
		for _, l := range s.Listens {
			if l.HTTP2 {
				addrs[l.Addr] = true
				on = true
			}
		}
		if on && s.Loc.HTTP2MaxConcurrentStreams > max {
			max = s.Loc.HTTP2MaxConcurrentStreams
		}
	}
	if len(addrs) == 0 {
		return nil
	}
	r := &HTTP2Report{MaxStreams: max, StreamsPerWorker: c.ProxiedPerWorker}
	for a := range addrs {
		r.Addresses = append(r.Addresses, a)
	}
	sort.Strings(r.Addresses)
	if max > 0 {
		r.BusyConnections = c.ProxiedPerWorker / (max + 1)
	}
	return r
}

// adviseHTTP2 warns when one HTTP/2 connection may open as many streams
// as a worker serves requests at once: a single client could then take
// every slot of a worker.
func adviseHTTP2(r *HTTP2Report, c *Capacity) []Fix {
	if r == nil || r.MaxStreams < c.ProxiedPerWorker || c.ProxiedPerWorker == 0 {
		return nil
	}
	to := max(1, c.ProxiedPerWorker/8)
	return []Fix{{Limit: "http2_max_concurrent_streams", From: fmt.Sprint(r.MaxStreams), To: fmt.Sprint(to),
		Changes: []Change{{Where: "http block", Line: fmt.Sprintf("http2_max_concurrent_streams %d;", to)}},
		Why:     fmt.Sprintf("one HTTP/2 connection may open %d streams at once, and a worker serves %d requests at once: a single client could hold all of them", r.MaxStreams, c.ProxiedPerWorker)}}
}

// writeText writes the HTTP/2 section of the text report.
func (r *HTTP2Report) writeText(b *strings.Builder, server string) {
	fmt.Fprintf(b, "\nHTTP/2 (%s)\n", strings.Join(r.Addresses, ", "))
	if server == "nginx" {
		fmt.Fprintf(b, "  - nginx does not count streams against worker_connections, but each proxied stream takes a slot for its upstream connection: a connection with %d streams in progress needs %d slots, and when they run out its requests fail.\n", r.MaxStreams, r.MaxStreams+1)
		return
	}
	fmt.Fprintf(b, "  - Each stream in progress takes a client slot, as a connection does, so that its upstream connection is secured: a worker serves %d streams at once, %d connections with %d streams each (http2_max_concurrent_streams); a stream beyond that is answered 503 with Retry-After.\n",
		r.StreamsPerWorker, r.BusyConnections, r.MaxStreams)
}
