package conf

// ReservedLogFiles is how many descriptors the runtime keeps for log
// files outside the connection slots: the main error logs, those that
// error_log sets at the http, server and location levels (once per file),
// the access log and one more. cmd/headroom and doctor both use it, so
// that their capacity plans agree.
func (c *Config) ReservedLogFiles() int {
	n := len(c.ErrorLogs) + 2
	if c.HTTP == nil {
		return n
	}
	seen := map[string]bool{}
	count := func(lc *LocConf) {
		for _, e := range lc.ErrorLogs {
			if e.Path != "stderr" && !seen[e.Path] {
				seen[e.Path] = true
				n++
			}
		}
	}
	c.EachLocConf(count)
	return n
}
