package doctor

import (
	"strings"
	"testing"
	"time"

	"headroom/internal/conf"
)

// TestCacheDirs checks what doctor says of each proxy_cache_path: its
// keys, its bounds, and a warning when max_size is more than its file
// system has free.
func TestCacheDirs(t *testing.T) {
	cfg := &conf.Config{File: "/srv/t.conf", HTTP: &conf.HTTP{CachePaths: map[string]*conf.CachePath{
		"big":     {Path: "/srv/cache/big", Zone: "big", ZoneSize: 10 << 20, MaxSize: 200 * gib, Inactive: 10 * time.Minute, File: "/srv/t.conf", Line: 3},
		"bounded": {Path: "/srv/cache/bounded", Zone: "bounded", ZoneSize: 1 << 20, MaxSize: 10 * gib, File: "/srv/t.conf", Line: 4},
		"free":    {Path: "/srv/cache/free", Zone: "free", ZoneSize: 1 << 20, MinFree: gib, File: "/srv/t.conf", Line: 5},
		"open":    {Path: "/srv/cache/open", Zone: "open", ZoneSize: 1 << 20, File: "/srv/t.conf", Line: 6},
	}}}
	fs := diskHost{disks: map[string]DiskSpace{"/": {Free: 100 * gib, Total: 200 * gib}, "/srv": {Free: 100 * gib, Total: 200 * gib}}}.Statfs
	tests := []struct {
		zone, source string
		keys         int
		warn         bool
		note         string
	}{
		{"big", "t.conf:3", 81920, true, "max_size 200.0 GiB"},
		{"bounded", "t.conf:4", 8192, false, "max_size 10.0 GiB"},
		{"free", "t.conf:5", 8192, false, "keeps 1.0 GiB free (min_free)"},
		{"open", "t.conf:6", 8192, false, "grows until the file system is full"},
	}
	ds := cacheDirs(cfg, fs, newNamer(cfg))
	if len(ds) != len(tests) {
		t.Fatalf("%d caches, want %d: %+v", len(ds), len(tests), ds)
	}
	for i, tc := range tests {
		d := ds[i]
		if d.Zone != tc.zone || d.Source != tc.source || d.Keys != tc.keys {
			t.Errorf("cache %d: zone %s at %s with %d keys, want %s at %s with %d", i, d.Zone, d.Source, d.Keys, tc.zone, tc.source, tc.keys)
		}
		if (d.Warning != "") != tc.warn {
			t.Errorf("%s: warning %q, want one: %v", d.Zone, d.Warning, tc.warn)
		}
		if !strings.Contains(d.Note, tc.note) {
			t.Errorf("%s: note %q lacks %q", d.Zone, d.Note, tc.note)
		}
		if d.FreeBytes == nil || *d.FreeBytes != 100*gib || d.StatfsPath != "/srv" {
			t.Errorf("%s: free %v read at %q, want 100 GiB at /srv", d.Zone, d.FreeBytes, d.StatfsPath)
		}
	}
}
