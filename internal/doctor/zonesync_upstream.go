package doctor

import (
	"fmt"
	"strconv"
	"strings"

	"headroom/internal/conf"
	"headroom/internal/zonesync"
)

// SyncedServer is an upstream server whose max_conns the fleet shares:
// its group has "zone NAME [SIZE] sync" and the server has max_conns.
// Each instance leases places to it from the store and gives back those
// it does not use; the places leased never add up to more than
// max_conns.
type SyncedServer struct {
	// Upstream is the group's name, Zone its zone and Where the
	// upstream block.
	Upstream string `json:"upstream"`
	Zone     string `json:"zone"`
	Where    string `json:"where"`
	// Server is the address connected to ("10.0.0.5:8080"), Name the
	// server as written; Key is the store's hash of the places leased
	// to it, by instance.
	Server string `json:"server"`
	Name   string `json:"name"`
	Key    string `json:"key"`
	// Backup and Down are the server's parameters.
	Backup bool `json:"backup,omitempty"`
	Down   bool `json:"down,omitempty"`
	// MaxConns is the server's max_conns: how many connections the
	// fleet opens to it together while the store answers, however many
	// instances there are.
	MaxConns int `json:"max_conns"`
	// FallbackPlaces is how many connections each instance may open to
	// the server while the store does not answer: max_conns divided by
	// the live instances, at least 1 (share), the whole of it (local),
	// 0 (deny); null when the live instances are not known (share).
	// FallbackText says it in a sentence.
	FallbackPlaces *int   `json:"fallback_places"`
	FallbackText   string `json:"fallback_text"`
	// Leased is how many places the live instances lease now, and
	// Leases those by instance; null and empty when the store was not
	// read. Places recorded for instances that are not live are left
	// out: the next lease drops them.
	Leased *int           `json:"leased"`
	Leases map[string]int `json:"leases"`
	// Problems: the live instances lease more places than max_conns.
	Problems []Problem `json:"problems"`
}

// syncedServer is a server with max_conns of a group with sync.
type syncedServer struct {
	u   *conf.Upstream
	s   *conf.UpstreamServer
	key string
}

// syncedUpstreamServers are the servers with max_conns of the groups
// with "zone ... sync", by group name, each group's in its order.
func syncedUpstreamServers(cfg *conf.Config) []syncedServer {
	if cfg.HTTP == nil {
		return nil
	}
	var out []syncedServer
	for _, name := range sortedNames(cfg.HTTP.Upstreams) {
		u := cfg.HTTP.Upstreams[name]
		if !u.Sync || u.Zone == "" {
			continue
		}
		for _, s := range u.Servers {
			if s.MaxConns > 0 {
				out = append(out, syncedServer{u, s, string(zonesync.AppendServerKey(nil, u.Zone, s.Addr))})
			}
		}
	}
	return out
}

// hasSyncedZones reports whether a limit_req or limit_conn zone is
// declared with sync.
func hasSyncedZones(cfg *conf.Config) bool {
	for _, z := range cfg.HTTP.LimitReqZones {
		if z.Sync {
			return true
		}
	}
	for _, z := range cfg.HTTP.LimitConnZones {
		if z.Sync {
			return true
		}
	}
	return false
}

// syncedServerKeys are the store keys of the synced upstream servers'
// places, each once, for probeStore.
func syncedServerKeys(cfg *conf.Config) []string {
	var keys []string
	seen := map[string]bool{}
	for _, ss := range syncedUpstreamServers(cfg) {
		if !seen[ss.key] {
			seen[ss.key] = true
			keys = append(keys, ss.key)
		}
	}
	return keys
}

// syncedServers describes the synced upstream servers under fallback fb
// with n live instances (n < 0: unknown), from what the store said of
// their places; live are the live instances.
func syncedServers(cfg *conf.Config, fb conf.ZoneSyncFallback, f storeFacts, live map[string]bool, n int, nm namer) []SyncedServer {
	out := []SyncedServer{}
	for _, ss := range syncedUpstreamServers(cfg) {
		u, s := ss.u, ss.s
		per, text := maxConnsFallback(fb, s.MaxConns, n)
		r := SyncedServer{Upstream: u.Name, Zone: u.Zone, Where: nm.at(u.File, u.Line),
			Server: s.Addr, Name: s.Name, Key: ss.key, Backup: s.Backup, Down: s.Down,
			MaxConns: s.MaxConns, FallbackText: text, Leases: map[string]int{}, Problems: []Problem{}}
		if per >= 0 {
			r.FallbackPlaces = &per
		}
		if places, ok := f.leases[ss.key]; ok && f.liveKnown {
			sum := 0
			for id, v := range places {
				p, err := strconv.Atoi(v)
				if !live[id] || err != nil {
					continue
				}
				r.Leases[id] = p
				sum += p
			}
			r.Leased = &sum
			if sum > s.MaxConns {
				r.Problems = append(r.Problems, overLeasedProblem(u.Name, s.Addr, sum, s.MaxConns, r.Leases))
			}
		}
		out = append(out, r)
	}
	return out
}

// overLeasedProblem warns that the live instances lease more places to a
// server than its max_conns, which the lease script never grants: each
// instance asks with its own max_conns, so instances that disagree on it
// are granted against different figures; or the store lost leases.
func overLeasedProblem(group, addr string, sum, maxConns int, leases map[string]int) Problem {
	return Problem{Level: "warning",
		Text: fmt.Sprintf("the live instances lease %d places to server %s of upstream %s (%s), more than its max_conns=%d, which the store never grants: the instances disagree on max_conns for it, or the store lost leases, and together they may open more connections than max_conns",
			sum, addr, group, leasesText(leases), maxConns),
		Fix: fmt.Sprintf("give every instance the same max_conns for server %s in upstream %s; if they agree, see whether the store restarted, failed over or evicted keys (maxmemory-policy noeviction keeps them)", addr, group)}
}

// leasesText writes the places by instance: "web1/1/a 2, web2/2/b 3".
func leasesText(leases map[string]int) string {
	var parts []string
	for _, id := range sortedNames(leases) {
		parts = append(parts, fmt.Sprintf("%s %d", id, leases[id]))
	}
	return strings.Join(parts, ", ")
}

// maxConnsFallback says how many connections fallback f has each
// instance open to a server of maxConns in a synced group while the
// store does not answer, with n live instances (n < 0: unknown), as the
// server sets it: max(maxConns/N, 1) with N at least 1 (share), maxConns
// (local), 0 (deny). per is -1 when it is not known here (share among
// an unknown number).
func maxConnsFallback(f conf.ZoneSyncFallback, maxConns, n int) (per int, text string) {
	switch f {
	case conf.FallbackDeny:
		return 0, "none on any instance: the server counts as full, so requests go to other servers, wait in the queue or fail"
	case conf.FallbackLocal:
		switch {
		case n < 0:
			return maxConns, fmt.Sprintf("%d on each instance: N × %d for a fleet of N (N not known here)", maxConns, maxConns)
		case n == 0:
			return maxConns, fmt.Sprintf("%d on each instance: N × %d for a fleet of N (no instance is live now)", maxConns, maxConns)
		}
		return maxConns, fmt.Sprintf("%d on each instance: %d × %d = %d for the fleet", maxConns, n, maxConns, n*maxConns)
	}
	switch {
	case n < 0:
		return -1, fmt.Sprintf("%d ÷ N on each instance (at least 1), N being the live instances it last counted (not known here)", maxConns)
	case n == 0:
		return maxConns, fmt.Sprintf("%d on the first instance (no instance is live now, and an instance counts at least itself)", maxConns)
	case n == 1:
		return maxConns, fmt.Sprintf("%d on the one live instance: the whole max_conns", maxConns)
	}
	share := max(maxConns/n, 1)
	text = fmt.Sprintf("%d on each of the %d live instances: %d × %d = %d", share, n, n, share, n*share)
	switch {
	case n*share > maxConns:
		text += fmt.Sprintf(", more than %d: at least 1 on each", maxConns)
	case n*share < maxConns:
		text += fmt.Sprintf(" of %d", maxConns)
	}
	return share, text
}

// unsyncedServerNotes are about the servers with max_conns of groups
// without sync: each instance enforces max_conns on its own, so n
// instances may open n times it. With n unknown, or not more than one
// live instance now, the note says N.
func unsyncedServerNotes(cfg *conf.Config, n int) []string {
	out := []string{}
	for _, name := range sortedNames(cfg.HTTP.Upstreams) {
		u := cfg.HTTP.Upstreams[name]
		if u.Sync {
			continue
		}
		share := `"zone ` + u.Name + ` sync;" in the upstream shares it across the fleet`
		if u.Zone != "" {
			share = `sync in its "zone ` + u.Zone + `" shares it across the fleet`
		}
		for _, s := range u.Servers {
			if s.MaxConns == 0 || s.Down {
				continue
			}
			if n > 1 {
				out = append(out, fmt.Sprintf("%d instances: server %s of upstream %s may get up to %d × %d connections (max_conns is per instance without zone ... sync): %s",
					n, s.Addr, u.Name, n, s.MaxConns, share))
				continue
			}
			out = append(out, fmt.Sprintf("N instances: server %s of upstream %s may get up to N × %d connections (max_conns is per instance without zone ... sync): each instance enforces max_conns on its own; %s",
				s.Addr, u.Name, s.MaxConns, share))
		}
	}
	return out
}

// writeServers writes the table of the synced upstream servers.
func (r *ZoneSyncReport) writeServers(b *strings.Builder) {
	rows := [][]string{{"UPSTREAM", "SERVER", "FROM", "FLEET MAX_CONNS", "LEASED NOW", "EACH INSTANCE WHILE THE STORE DOES NOT ANSWER (fallback=" + r.Fallback + ")"}}
	for _, s := range r.UpstreamServers {
		addr := s.Server
		if !strings.HasPrefix(s.Server, s.Name) {
			addr += " (" + s.Name + ")"
		}
		switch {
		case s.Down:
			addr += " down"
		case s.Backup:
			addr += " backup"
		}
		leased := "not read"
		if s.Leased != nil {
			leased = fmt.Sprintf("%d of %d", *s.Leased, s.MaxConns)
		}
		rows = append(rows, []string{s.Upstream, addr, s.Where, strconv.Itoa(s.MaxConns), leased, s.FallbackText})
		if len(s.Leases) > 0 && len(s.Problems) == 0 {
			rows = append(rows, []string{"  leased by " + leasesText(s.Leases)})
		}
		for _, p := range s.Problems {
			rows = append(rows, []string{problemLine(p)})
		}
	}
	writeTable(b, "  ", rows)
}
