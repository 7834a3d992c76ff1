package conf

import (
	"strings"
	"time"
)

// OpenLogFileCache is open_log_file_cache: each worker keeps up to Max
// files of access logs with variables in their paths open, instead of
// opening and closing one for every request. Every directive is a cache of
// its own, shared by the levels that inherit it.
type OpenLogFileCache struct {
	Max int
	// Inactive closes a file unused for that long; MinUses is how many
	// uses within Inactive keep a file open; Valid is how often a kept
	// file is checked for having been renamed or removed.
	Inactive time.Duration
	MinUses  int
	Valid    time.Duration
}

// setOpenLogFileCache reads open_log_file_cache with nginx's defaults
// (inactive=10s, min_uses=1, valid=60s) and messages.
func setOpenLogFileCache(b *builder, n *Node, sc *scope) error {
	if sc.raw.openLogFileCacheSet {
		return duplicate(n)
	}
	c := &OpenLogFileCache{Inactive: 10 * time.Second, MinUses: 1, Valid: 60 * time.Second}
	off := false
	for _, p := range n.Args {
		key, val, _ := strings.Cut(p, "=")
		ok := true
		switch {
		case p == "off":
			off = true
		case key == "max" && val != "":
			c.Max, ok = atoi(val)
		case key == "inactive" && val != "":
			c.Inactive, ok = parseTime(val, true)
		case key == "min_uses" && val != "":
			c.MinUses, ok = atoi(val)
		case key == "valid" && val != "":
			c.Valid, ok = parseTime(val, true)
		default:
			ok = false
		}
		if !ok {
			return errAt(n, "invalid \"open_log_file_cache\" parameter \"%s\"", p)
		}
	}
	sc.raw.openLogFileCacheSet = true
	if off {
		sc.raw.openLogFileCache = nil
		return nil
	}
	if c.Max == 0 {
		return errAt(n, "\"open_log_file_cache\" must have \"max\" parameter")
	}
	sc.raw.openLogFileCache = c
	return nil
}
