package doctor

import (
	"fmt"
	"strings"

	"headroom/internal/conf"
)

// CacheDir is one proxy_cache_path: what its keys zone holds and how
// much of its file system it may fill.
type CacheDir struct {
	Path   string `json:"path"`
	Zone   string `json:"zone"`
	Source string `json:"source"`
	// Keys is how many keys the zone remembers (about 8,000 per MB, as
	// nginx's zone holds); past them the least recently used key and
	// its answer go.
	Keys int `json:"keys"`
	// MaxSize and MinFree bound the cache (0: unset).
	MaxSize int64 `json:"max_size"`
	MinFree int64 `json:"min_free"`
	// The file system's figures, as for temporary directories.
	Exists     bool   `json:"exists"`
	StatfsPath string `json:"statfs_path,omitempty"`
	FreeBytes  *int64 `json:"free_bytes"`
	TotalBytes *int64 `json:"total_bytes"`
	Error      string `json:"error,omitempty"`
	Note       string `json:"note"`
	// Warning says how the cache may fill its file system.
	Warning string `json:"warning,omitempty"`
}

// cacheKeyBytes is what one key takes in a keys zone.
const cacheKeyBytes = 128

// cacheDirs reports each proxy_cache_path with its file system's free
// space and what bounds the cache on it.
func cacheDirs(cfg *conf.Config, statfs statfser, nm namer) []CacheDir {
	out := []CacheDir{}
	if cfg.HTTP == nil {
		return out
	}
	for _, p := range cfg.HTTP.Caches() {
		d := CacheDir{Path: p.Path, Zone: p.Zone, Source: nm.at(p.File, p.Line), Keys: int(p.ZoneSize / cacheKeyBytes),
			MaxSize: p.MaxSize, MinFree: p.MinFree}
		td := TempDir{Path: p.Path}
		readFree(&td, statfs)
		d.Exists, d.StatfsPath, d.FreeBytes, d.TotalBytes, d.Error = td.Exists, td.StatfsPath, td.FreeBytes, td.TotalBytes, td.Error
		notes := []string{fmt.Sprintf("keys zone %s holds %d keys; past them the least recently used go", p.Zone, d.Keys)}
		switch {
		case p.MaxSize > 0:
			notes = append(notes, "max_size "+bytesText(p.MaxSize))
		case p.MinFree == 0:
			notes = append(notes, "no max_size or min_free: the cache grows until the file system is full, then answers are not stored")
		}
		if p.MinFree > 0 {
			notes = append(notes, "keeps "+bytesText(p.MinFree)+" free (min_free)")
		}
		if p.Inactive > 0 {
			notes = append(notes, fmt.Sprintf("answers unused for %s go (inactive)", p.Inactive))
		}
		if d.StatfsPath != "" && !d.Exists {
			notes = append(notes, "not created yet: the free space is that of "+d.StatfsPath)
		}
		d.Note = strings.Join(notes, "; ")
		if d.FreeBytes != nil && p.MaxSize > *d.FreeBytes && p.MinFree == 0 {
			d.Warning = fmt.Sprintf("max_size %s is more than the %s free: the file system fills first and answers are then not stored; lower max_size or set min_free",
				bytesText(p.MaxSize), bytesText(*d.FreeBytes))
		}
		out = append(out, d)
	}
	return out
}
