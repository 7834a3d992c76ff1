package cache

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
)

func newCache(t *testing.T, p conf.CachePath) *Cache {
	t.Helper()
	if p.Path == "" {
		p.Path = t.TempDir()
	}
	if p.ZoneSize == 0 {
		p.ZoneSize = 1 << 20
	}
	if p.Inactive == 0 {
		p.Inactive = 10 * time.Minute
	}
	return New(&p)
}

// store writes an answer for key through a Writer, as the proxy does.
func store(t *testing.T, c *Cache, key, head, body string, valid time.Time) Key {
	t.Helper()
	k := KeyOf([]byte(key))
	tmp := filepath.Join(c.Conf().Path, "tmp-"+hex.EncodeToString(k[:4]))
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter(k, []byte(key), []byte(head), valid, Stale{Updating: 5, Error: 7}, [md5.Size]byte{}, fd, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	c.Use(k, time.Now())
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestFilePathLevels(t *testing.T) {
	// The layout nginx gives the key whose MD5 ends in "...c98f".
	const name = "69e6d9600bda46b62132fc0f66fec98f"
	var k Key
	if _, err := hex.Decode(k[:], []byte(name)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		levels []int
		want   string
	}{
		{nil, "/c/" + name},
		{[]int{1}, "/c/f/" + name},
		{[]int{1, 2}, "/c/f/98/" + name},
		{[]int{2, 2, 1}, "/c/8f/c9/e/" + name},
	}
	for _, tc := range tests {
		c := New(&conf.CachePath{Path: "/c", Levels: tc.levels, ZoneSize: 1 << 20})
		if got := c.FilePath(k); got != tc.want {
			t.Errorf("levels %v: %s, want %s", tc.levels, got, tc.want)
		}
	}
}

func TestStoreAndOpen(t *testing.T) {
	c := newCache(t, conf.CachePath{Levels: []int{1, 2}})
	head := "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"
	valid := time.Now().Add(time.Minute).Truncate(time.Second)
	k := store(t, c, "http://a/t", head, "SEE-THIS", valid)

	buf := make([]byte, 4096)
	fd, m, gotHead, err := c.Open(k, []byte("http://a/t"), buf)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if string(gotHead) != head {
		t.Errorf("head %q, want %q", gotHead, head)
	}
	if !m.Valid.Equal(valid) || m.BodyLen != 8 || m.Stale != (Stale{Updating: 5, Error: 7}) {
		t.Errorf("meta valid %v len %d stale %+v, want %v 8 {5 7}", m.Valid, m.BodyLen, m.Stale, valid)
	}
	body := make([]byte, m.BodyLen)
	if _, err := unix.Pread(fd, body, m.BodyStart); err != nil || string(body) != "SEE-THIS" {
		t.Errorf("body %q (%v)", body, err)
	}
	if s := c.Stats(); s.Stored != 1 || s.Size <= 0 {
		t.Errorf("stats %+v, want one stored answer with its size", s)
	}
}

func TestOpenRefusesWhatIsNotTheAnswer(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	k := store(t, c, "key", "HTTP/1.1 200 OK\r\n\r\n", "body", time.Now().Add(time.Minute))
	buf := make([]byte, 4096)

	// Another key that hashed to the same file: nginx's md5 collision.
	if _, _, _, err := c.Open(k, []byte("other"), buf); err != ErrNotStored {
		t.Errorf("other key: %v, want ErrNotStored", err)
	}
	// A head larger than the buffer it is read into.
	if _, _, _, err := c.Open(k, []byte("key"), buf[:headerSize+4]); err != ErrHeadTooLong {
		t.Errorf("small buffer: %v, want ErrHeadTooLong", err)
	}
	// A file cut short, and one that is not a cache file.
	if err := os.Truncate(c.FilePath(k), 70); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Open(k, []byte("key"), buf); err != ErrNotStored {
		t.Errorf("truncated: %v, want ErrNotStored", err)
	}
	if err := os.WriteFile(c.FilePath(k), []byte("HTTP/1.1 200 OK\r\n\r\nnot ours, but long enough to read a header from"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Open(k, []byte("key"), buf); err != ErrNotStored {
		t.Errorf("foreign file: %v, want ErrNotStored", err)
	}
	// The zone learnt that the file is not usable.
	if _, missing, _ := c.Use(k, time.Now()); !missing {
		t.Error("the zone does not know the key's file is missing")
	}
	if _, _, _, err := c.Open(KeyOf([]byte("none")), []byte("none"), buf); err != ErrNotStored {
		t.Errorf("missing file: %v, want ErrNotStored", err)
	}
}

func TestAbortRemovesTheTemporaryFile(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	tmp := filepath.Join(c.Conf().Path, "tmp")
	fd, err := unix.Open(tmp, unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	k := KeyOf([]byte("k"))
	w, err := c.NewWriter(k, []byte("k"), []byte("HTTP/1.1 200 OK\r\n\r\n"), time.Now(), Stale{}, [md5.Size]byte{}, fd, tmp)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("part"))
	w.Abort()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file still there: %v", err)
	}
	if _, err := os.Stat(c.FilePath(k)); !os.IsNotExist(err) {
		t.Errorf("aborted answer was stored: %v", err)
	}
}

func TestMaxSizeRemovesLeastRecentlyUsed(t *testing.T) {
	// Each answer takes one 4 KiB block; three fit, a fourth pushes the
	// least recently used out.
	c := newCache(t, conf.CachePath{MaxSize: 3 * 4096})
	valid := time.Now().Add(time.Minute)
	a := store(t, c, "a", "HTTP/1.1 200 OK\r\n\r\n", "a", valid)
	b := store(t, c, "b", "HTTP/1.1 200 OK\r\n\r\n", "b", valid)
	cc := store(t, c, "c", "HTTP/1.1 200 OK\r\n\r\n", "c", valid)
	c.Use(a, time.Now()) // a is used again: b is now the oldest
	d := store(t, c, "d", "HTTP/1.1 200 OK\r\n\r\n", "d", valid)
	for _, tc := range []struct {
		k    Key
		name string
		kept bool
	}{{a, "a", true}, {b, "b", false}, {cc, "c", true}, {d, "d", true}} {
		_, err := os.Stat(c.FilePath(tc.k))
		if kept := err == nil; kept != tc.kept {
			t.Errorf("%s: kept=%v, want %v", tc.name, kept, tc.kept)
		}
	}
}

func TestInactiveAnswersAreRemoved(t *testing.T) {
	c := newCache(t, conf.CachePath{Inactive: time.Minute})
	k := store(t, c, "old", "HTTP/1.1 200 OK\r\n\r\n", "x", time.Now().Add(time.Hour))
	// Nobody asks for it for two minutes; the next use of the cache
	// removes it.
	c.Use(KeyOf([]byte("other")), time.Now().Add(2*time.Minute))
	if _, err := os.Stat(c.FilePath(k)); !os.IsNotExist(err) {
		t.Errorf("inactive answer still on disk: %v", err)
	}
}

func TestFullZoneForgetsOldestKey(t *testing.T) {
	c := newCache(t, conf.CachePath{ZoneSize: 2 * nodeSize})
	valid := time.Now().Add(time.Minute)
	a := store(t, c, "a", "HTTP/1.1 200 OK\r\n\r\n", "a", valid)
	store(t, c, "b", "HTTP/1.1 200 OK\r\n\r\n", "b", valid)
	store(t, c, "c", "HTTP/1.1 200 OK\r\n\r\n", "c", valid)
	if s := c.Stats(); s.Keys != 2 {
		t.Errorf("zone holds %d keys, want 2", s.Keys)
	}
	if _, err := os.Stat(c.FilePath(a)); !os.IsNotExist(err) {
		t.Errorf("forgotten key's answer still on disk: %v", err)
	}
}

func TestUseCountsRequests(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	k := KeyOf([]byte("k"))
	for want := 1; want <= 3; want++ {
		if uses, _, _ := c.Use(k, time.Now()); uses != want {
			t.Errorf("use %d counted %d", want, uses)
		}
	}
}

func TestErrorAnswerLastsItsLifetime(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	k := KeyOf([]byte("k"))
	now := time.Now()
	c.Use(k, now)
	c.SetError(k, 502, now.Add(time.Second))
	if _, _, st := c.Use(k, now.Add(500*time.Millisecond)); st != 502 {
		t.Errorf("within its lifetime: error %d, want 502", st)
	}
	if uses, _, st := c.Use(k, now.Add(2*time.Second)); st != 0 || uses != 1 {
		t.Errorf("after it: error %d uses %d, want none and a new key", st, uses)
	}
}

func TestRefreshGivesANewLifetime(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	k := store(t, c, "k", "HTTP/1.1 200 OK\r\n\r\n", "body", time.Now().Add(-time.Second))
	later := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := c.Refresh(k, later); err != nil {
		t.Fatal(err)
	}
	fd, m, _, err := c.Open(k, []byte("k"), make([]byte, 4096))
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if !m.Valid.Equal(later) {
		t.Errorf("valid until %v, want %v", m.Valid, later)
	}
}

func TestLockIsOneAtATime(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	k := KeyOf([]byte("k"))
	now := time.Now()
	until, ok := c.Lock(k, now, 5*time.Second)
	if !ok {
		t.Fatal("first lock refused")
	}
	if _, ok := c.Lock(k, now, 5*time.Second); ok {
		t.Error("second lock granted while the first is held")
	}
	if !c.Locked(k, now) {
		t.Error("Locked does not see the lock")
	}
	// A lock older than its age is taken over.
	if _, ok := c.Lock(k, now.Add(6*time.Second), 5*time.Second); !ok {
		t.Error("an aged lock was not taken over")
	}
	// The first holder's Unlock does not free the new holder's lock.
	c.Unlock(k, until)
	if !c.Locked(k, now.Add(6*time.Second)) {
		t.Error("the aged holder's Unlock freed the new lock")
	}
}

func TestMinFreeRemovesLeastRecentlyUsed(t *testing.T) {
	// A min_free no file system here has: every stored answer goes, the
	// one just stored too.
	c := newCache(t, conf.CachePath{MinFree: 1 << 62})
	valid := time.Now().Add(time.Minute)
	a := store(t, c, "a", "HTTP/1.1 200 OK\r\n\r\n", "a", valid)
	if _, err := os.Stat(c.FilePath(a)); !os.IsNotExist(err) {
		t.Errorf("answer kept below min_free: %v", err)
	}
	if s := c.Stats(); s.Stored != 0 || s.Size != 0 {
		t.Errorf("stats %+v after min_free removed everything", s)
	}
}

// TestReloadKeepsTheZone checks which proxy_cache_path a cache can go on
// serving after a reload: the same directory, levels and zone; the
// bounds may change.
func TestReloadKeepsTheZone(t *testing.T) {
	base := conf.CachePath{Path: "/c", Levels: []int{1, 2}, Zone: "z", ZoneSize: 1 << 20, MaxSize: 1 << 30}
	c := New(&base)
	tests := []struct {
		name string
		edit func(p *conf.CachePath)
		same bool
	}{
		{"bounds", func(p *conf.CachePath) { p.MaxSize, p.Inactive = 1<<20, time.Hour }, true},
		{"directory", func(p *conf.CachePath) { p.Path = "/d" }, false},
		{"levels", func(p *conf.CachePath) { p.Levels = []int{2} }, false},
		{"zone", func(p *conf.CachePath) { p.Zone = "y" }, false},
		{"zone size", func(p *conf.CachePath) { p.ZoneSize = 2 << 20 }, false},
	}
	for _, tc := range tests {
		p := base
		p.Levels = append([]int(nil), base.Levels...)
		tc.edit(&p)
		if got := c.Same(&p); got != tc.same {
			t.Errorf("%s changed: Same = %v, want %v", tc.name, got, tc.same)
		}
	}
	next := base
	next.MaxSize = 1 << 20
	c.Adopt(&next)
	if c.Conf().MaxSize != 1<<20 {
		t.Errorf("max_size after Adopt: %d", c.Conf().MaxSize)
	}
}

// TestLongHeads checks a head longer than Open's first read (read in a
// second pread) and one longer than MaxHead (not stored).
func TestLongHeads(t *testing.T) {
	c := newCache(t, conf.CachePath{})
	head := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", 6<<10) + "\r\n\r\n"
	k := store(t, c, "long", head, "body", time.Now().Add(time.Minute))
	fd, m, got, err := c.Open(k, []byte("long"), make([]byte, MaxHead))
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if string(got) != head || m.BodyLen != 4 {
		t.Errorf("head of %d bytes (whole: %v), body %d; want the %d-byte head and 4", len(got), string(got) == head, m.BodyLen, len(head))
	}
	tmp := filepath.Join(c.Conf().Path, "tmp-huge")
	fd, err = unix.Open(tmp, unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	huge := "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", MaxHead) + "\r\n\r\n"
	if _, err := c.NewWriter(KeyOf([]byte("huge")), []byte("huge"), []byte(huge), time.Now(), Stale{}, [md5.Size]byte{}, fd, tmp); err != ErrHeadTooLong {
		t.Errorf("a head past MaxHead: %v, want ErrHeadTooLong", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the refused answer's file is still there: %v", err)
	}
}
