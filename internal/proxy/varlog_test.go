package proxy

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
)

// TestLogFileCache follows nginx's own test of open_log_file_cache (max=3
// min_uses=2): a file is kept open from its second use, the least
// recently used file makes room for a new one, and once the directory is
// renamed only the files kept open can still be written.
func TestLogFileCache(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &logFileCache{conf: &conf.OpenLogFileCache{Max: 3, MinUses: 2, Inactive: 10 * time.Second, Valid: time.Minute}, files: map[string]*cachedLog{}}
	now := time.Unix(1000, 0)
	write := func(name string) bool {
		now = now.Add(time.Millisecond)
		fd, keep, _, err := c.file(filepath.Join(logs, name), now, nil)
		if err != nil {
			return false
		}
		if _, err := writeFd(fd, "/\n"); err != nil {
			t.Fatal(err)
		}
		if !keep {
			closeFd(fd)
		}
		return true
	}
	for _, name := range []string{"lru", "lru", "once", "first", "first", "second", "second"} {
		if !write(name) {
			t.Fatalf("%s: not written", name)
		}
	}
	if _, ok := c.files[filepath.Join(logs, "lru")]; ok {
		t.Errorf("lru is still cached; the least recently used file should have made room")
	}
	if err := os.Rename(logs, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"lru", false}, {"once", false}, {"first", true}, {"second", true}} {
		if got := write(tc.name); got != tc.ok {
			t.Errorf("%s after the rename: written %v, want %v", tc.name, got, tc.ok)
		}
	}
	// Within inactive the files stay; past it every one is forgotten
	// and closed.
	c.expire(now.Add(9 * time.Second))
	if len(c.files) != 3 {
		t.Errorf("%d files cached within inactive, want 3", len(c.files))
	}
	c.expire(now.Add(11 * time.Second))
	if len(c.files) != 0 {
		t.Errorf("%d files cached after inactive, want 0", len(c.files))
	}
	for name, lines := range map[string]int{"lru": 2, "once": 1, "first": 3, "second": 3} {
		b, _ := os.ReadFile(filepath.Join(dir, "moved", name))
		if n := len(b) / 2; n != lines {
			t.Errorf("%s: %d lines, want %d", name, n, lines)
		}
	}
}

func writeFd(fd int, s string) (int, error) { return unix.Write(fd, []byte(s)) }

func closeFd(fd int) { unix.Close(fd) }
