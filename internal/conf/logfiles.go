package conf

import "headroom/internal/logs"

// ReservedLogFiles is how many descriptors the runtime keeps for log
// files outside the connection slots: the main error logs, those that
// error_log sets at the http, server and location levels (once per file
// or syslog destination), the access log, one more, and a socket per
// syslog server of the access logs. cmd/headroom and doctor both use it, so
// that their capacity plans agree.
func (c *Config) ReservedLogFiles() int {
	n := len(c.ErrorLogs) + 2
	if c.HTTP == nil {
		return n
	}
	seen := map[string]bool{}
	servers := map[logs.SyslogKey]bool{}
	count := func(lc *LocConf) {
		for _, e := range lc.ErrorLogs {
			if e.Path != "stderr" && !seen[e.Path] {
				seen[e.Path] = true
				n++
			}
		}
		for _, a := range lc.AccessLogs {
			if a.Syslog != nil && !servers[a.Syslog.Key()] {
				servers[a.Syslog.Key()] = true
				n++
			}
		}
	}
	c.EachLocConf(count)
	return n
}

// WorkerLogFiles is how many descriptors each worker may hold at once
// for access logs with variables in their paths: one while such a line
// is written, plus the max of every open_log_file_cache.
func (c *Config) WorkerLogFiles() int {
	if c.HTTP == nil {
		return 0
	}
	n := 0
	caches := map[*OpenLogFileCache]bool{}
	c.EachLocConf(func(lc *LocConf) {
		for _, al := range lc.AccessLogs {
			if al.PathTemplate != nil {
				n = 1
			}
		}
		if lc.OpenLogFileCache != nil {
			caches[lc.OpenLogFileCache] = true
		}
	})
	if n == 0 {
		return 0
	}
	for cache := range caches {
		n += cache.Max
	}
	return n
}
