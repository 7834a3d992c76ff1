package proxy

import (
	"testing"

	"headroom/internal/conf"
)

func TestConnZone(t *testing.T) {
	// 256 bytes hold two keys.
	z := newConnZone(&conf.LimitConnZone{Name: "addr", Size: 256})
	steps := []struct {
		name     string
		release  bool
		key      string
		limit    int
		ok, full bool
	}{
		{name: "first request of a key", key: "a", limit: 2, ok: true},
		{name: "second within the limit", key: "a", limit: 2, ok: true},
		{name: "third over the limit", key: "a", limit: 2},
		{name: "another key", key: "b", limit: 2, ok: true},
		{name: "a third key finds the zone full", key: "c", limit: 2, full: true},
		{name: "a request ends", release: true, key: "b"},
		{name: "its key left the table: room again", key: "c", limit: 2, ok: true},
		{name: "an ended request frees its place", release: true, key: "a"},
		{name: "so the key is under its limit", key: "a", limit: 2, ok: true},
	}
	for _, s := range steps {
		if s.release {
			z.release(s.key)
			continue
		}
		ok, full := z.acquire(s.key, s.limit)
		if ok != s.ok || full != s.full {
			t.Errorf("%s: acquire(%q) = %v, %v; want %v, %v", s.name, s.key, ok, full, s.ok, s.full)
		}
	}
}
