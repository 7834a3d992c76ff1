package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
)

// symlinkTree makes the files the disable_symlinks tests ask for under
// the bench's html: a file and a link to it, a directory with an index
// and a link to it, a file owned by another user (when the test may
// chown) and a link to it, and a file whose ".gz" neighbour is a link.
// It reports whether the file of another owner could be made.
func symlinkTree(t *testing.T, dir string) (otherOwner bool) {
	t.Helper()
	html := filepath.Join(dir, "html")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(html, "dir"), 0o755))
	must(os.WriteFile(filepath.Join(html, "file.txt"), []byte("file\n"), 0o644))
	must(os.WriteFile(filepath.Join(html, "dir", "index.html"), []byte("index\n"), 0o644))
	must(os.WriteFile(filepath.Join(html, "a.txt"), []byte("plain\n"), 0o644))
	must(os.WriteFile(filepath.Join(html, "other.txt"), []byte("other\n"), 0o644))
	must(os.Symlink("file.txt", filepath.Join(html, "link")))
	must(os.Symlink("dir", filepath.Join(html, "dirlink")))
	must(os.Symlink("other.txt", filepath.Join(html, "linkother")))
	must(os.Symlink("file.txt", filepath.Join(html, "a.txt.gz")))
	return os.Lchown(filepath.Join(html, "other.txt"), 65534, 65534) == nil && os.Getuid() != 65534
}

// TestBenchDisableSymlinks checks disable_symlinks wherever a request
// opens or tests a file, with nginx 1.22's statuses and error log lines:
// the static handler refuses a link (403) and a path through one (404,
// as openat with O_DIRECTORY finds no directory), if_not_owner refuses a
// link to another user's file only, from= leaves its own part
// unchecked, try_files and the rewrite module's -f pass over a refused
// file, index refuses it, and gzip_static falls back to the file itself.
func TestBenchDisableSymlinks(t *testing.T) {
	b := newBench(t, `
		server {
			listen 127.0.0.1:0;
			location /off/ { alias html/; }
			location /on/ { alias html/; disable_symlinks on; }
			location /owner/ { alias html/; disable_symlinks if_not_owner; }
			location /from/ { alias html/dirlink/; disable_symlinks on from=$document_root; }
			location ~ ^/fromexact/(.+)$ { alias html/$1; disable_symlinks on from=$document_root; }
			location /tf/ { alias html/; disable_symlinks on; try_files $uri /off/file.txt; }
			location /if/ {
				alias html/;
				disable_symlinks on;
				if (-f $request_filename) { return 204; }
			}
			location /gz/ { alias html/; disable_symlinks on; gzip_static always; }
		}`)
	otherOwner := symlinkTree(t, b.dir)
	html := filepath.Join(b.dir, "html")
	for _, tc := range []struct {
		uri    string
		status int
		body   string
		log    string
		owner  bool // needs the file of another owner
	}{
		{uri: "/off/link", status: 200, body: "file\n"},
		{uri: "/on/file.txt", status: 200, body: "file\n"},
		{uri: "/on/link", status: 403, log: `[error] openat() "` + html + `/link" failed (40: Too many levels of symbolic links)`},
		{uri: "/on/dirlink/index.html", status: 404, log: `[error] openat() "` + html + `/dirlink/index.html" failed (20: Not a directory)`},
		{uri: "/on/dir/", status: 200, body: "index\n"},
		{uri: "/on/dirlink/", status: 404, log: `[error] "` + html + `/dirlink/index.html" is not found (20: Not a directory)`},
		{uri: "/owner/link", status: 200, body: "file\n"},
		{uri: "/owner/linkother", status: 403, owner: true, log: `[error] openat() "` + html + `/linkother" failed (40: Too many levels of symbolic links)`},
		{uri: "/from/index.html", status: 200, body: "index\n"},
		{uri: "/fromexact/link", status: 200, body: "file\n"},
		{uri: "/tf/link", status: 200, body: "file\n", log: `[crit] openat() "` + html + `/link" failed (40: Too many levels of symbolic links)`},
		{uri: "/if/file.txt", status: 204},
		{uri: "/if/link", status: 403},
		{uri: "/gz/a.txt", status: 200, body: "plain\n", log: `[error] openat() "` + html + `/a.txt.gz" failed (40: Too many levels of symbolic links)`},
	} {
		if tc.owner && !otherOwner {
			t.Logf("%s: skipped, the test cannot give a file to another user", tc.uri)
			continue
		}
		resp, body := b.connect().roundTrip("GET " + tc.uri + " HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
		if resp.StatusCode != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.uri, resp.StatusCode, body, tc.status, tc.body)
		}
		if tc.log != "" {
			// The line is "[level] pid#tid: message": the level and the
			// message are looked for in one line.
			level, msg, _ := strings.Cut(tc.log, " ")
			b.waitErrorLog(msg)
			found := false
			for _, l := range nonEmptyLines(b.errorLog()) {
				found = found || strings.Contains(l, level) && strings.Contains(l, msg)
			}
			if !found {
				t.Errorf("%s: no %s line %q", tc.uri, level, msg)
			}
		}
	}
	if log := b.errorLog(); strings.Contains(log, "[alert]") {
		t.Errorf("alerts in the error log:\n%s", log)
	}
}

// TestBenchOpenFileCache checks open_file_cache through requests: a
// cached file is sent from the descriptor opened first until
// open_file_cache_valid has passed, even once its path names a new file;
// errors are remembered only with open_file_cache_errors; and a file sent
// from the cache takes a slot while it is sent, which does not close
// the cache's descriptor.
func TestBenchOpenFileCache(t *testing.T) {
	b := newBench(t, `
		open_file_cache max=4;
		server {
			listen 127.0.0.1:0;
			location /c/ { alias html/; open_file_cache_errors on; }
			location /n/ { alias html/; }
		}`)
	html := filepath.Join(b.dir, "html")
	os.MkdirAll(html, 0o755)
	os.WriteFile(filepath.Join(html, "f.txt"), []byte("first\n"), 0o644)
	get := func(uri string) (int, string) {
		t.Helper()
		resp, body := b.connect().roundTrip("GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n")
		return resp.StatusCode, body
	}
	if st, body := get("/c/f.txt"); st != 200 || body != "first\n" {
		t.Fatalf("first request: %d %q", st, body)
	}
	// A new file in its place: the cache still names the first one.
	os.WriteFile(filepath.Join(html, "f.new"), []byte("second file\n"), 0o644)
	os.Rename(filepath.Join(html, "f.new"), filepath.Join(html, "f.txt"))
	if st, body := get("/c/f.txt"); st != 200 || body != "first\n" {
		t.Errorf("within open_file_cache_valid: %d %q, want the cached file", st, body)
	}
	// Missing files: remembered with open_file_cache_errors only.
	if st, _ := get("/c/late.txt"); st != 404 {
		t.Errorf("missing file: %d", st)
	}
	if st, _ := get("/n/late2.txt"); st != 404 {
		t.Errorf("missing file: %d", st)
	}
	os.WriteFile(filepath.Join(html, "late.txt"), []byte("late\n"), 0o644)
	os.WriteFile(filepath.Join(html, "late2.txt"), []byte("late\n"), 0o644)
	if st, _ := get("/c/late.txt"); st != 404 {
		t.Errorf("a cached error: %d, want 404 until open_file_cache_valid passes", st)
	}
	if st, body := get("/n/late2.txt"); st != 200 || body != "late\n" {
		t.Errorf("without open_file_cache_errors: %d %q, want the new file", st, body)
	}

	// A slow client: the file's slot is taken while it is sent, and the
	// cache's descriptor outlives it.
	os.WriteFile(filepath.Join(html, "big.bin"), make([]byte, 1<<20), 0o644)
	m := b.connect()
	m.mt.room = 0
	m.send("GET /c/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	var fd int
	b.do(func() {
		if n := b.w.loop.InUse(engine.KindFile); n != 1 {
			t.Errorf("%d file slots while the file is sent, want 1", n)
		}
		e := b.w.fileCaches[b.srv.cfg.HTTP.Servers[0].Loc.Static.OpenFileCache].files[filepath.Join(html, "big.bin")]
		if e == nil || e.count != 1 || e.fd < 0 {
			t.Fatalf("cache entry while the file is sent: %+v", e)
		}
		fd = e.fd
	})
	m.setRoom(-1)
	if resp := m.response("GET"); resp.StatusCode != 200 {
		t.Fatalf("big file: %d", resp.StatusCode)
	}
	b.do(func() {
		if n := b.w.loop.InUse(engine.KindFile); n != 0 {
			t.Errorf("%d file slots after the answer, want 0", n)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			t.Errorf("the cache's descriptor was closed with the slot: %v", err)
		}
	})
}

// cacheFixture is a fileCache on a clock the test moves, with files in a
// directory of its own.
type cacheFixture struct {
	t   *testing.T
	c   *fileCache
	dir string
	now time.Time
	buf []byte
}

func newCacheFixture(t *testing.T, max int, inactive time.Duration) *cacheFixture {
	f := &cacheFixture{t: t, dir: t.TempDir(), now: time.Unix(1_000_000, 0)}
	f.c = newFileCache(&conf.OpenFileCache{Max: max, Inactive: inactive}, func() time.Time { return f.now })
	t.Cleanup(f.c.closeAll)
	return f
}

func (f *cacheFixture) write(name, data string) string {
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p+".tmp", []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *cacheFixture) open(path string, o fileOpen) openedFile {
	return f.c.open([]byte(path), &o, f.now.Unix(), &f.buf)
}

// isOpen reports whether fd is an open descriptor.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return fd >= 0 && err == nil
}

// TestFileCache follows nginx's ngx_open_cached_file step by step: what
// an entry keeps (descriptor, size, errors) for open_file_cache_valid,
// min_uses, a file replaced while a request still sends it, max and
// inactive, and an entry opened with other disable_symlinks settings.
func TestFileCache(t *testing.T) {
	valid := fileOpen{valid: 60, minUses: 1}
	t.Run("kept for valid, then examined again", func(t *testing.T) {
		f := newCacheFixture(t, 10, time.Minute)
		p := f.write("a", "12345")
		of := f.open(p, valid)
		if !of.ok || of.fi.size != 5 || of.entry == nil {
			t.Fatalf("first open: %+v", of)
		}
		fd := of.fd
		f.c.release(of.entry, 1)
		if !isOpen(fd) {
			t.Fatal("descriptor closed after one use with min_uses 1")
		}
		f.write("a", "1234567")
		f.now = f.now.Add(30 * time.Second)
		if of = f.open(p, valid); of.fd != fd || of.fi.size != 5 {
			t.Errorf("within valid: fd %d size %d, want the cached %d, 5", of.fd, of.fi.size, fd)
		}
		f.c.release(of.entry, 1)
		f.now = f.now.Add(31 * time.Second)
		if of = f.open(p, valid); of.fd == fd || of.fi.size != 7 {
			t.Errorf("after valid: fd %d size %d, want a new descriptor and 7", of.fd, of.fi.size)
		}
		f.c.release(of.entry, 1)
		if isOpen(fd) {
			t.Error("the replaced file's descriptor is still open")
		}
	})
	t.Run("min_uses", func(t *testing.T) {
		f := newCacheFixture(t, 10, time.Minute)
		p := f.write("a", "x")
		o := fileOpen{valid: 60, minUses: 2}
		of := f.open(p, o)
		e := of.entry
		f.c.release(e, 2)
		if e.fd >= 0 || isOpen(of.fd) {
			t.Error("descriptor kept after one use with min_uses 2")
		}
		of = f.open(p, o)
		f.c.release(of.entry, 2)
		if !isOpen(e.fd) {
			t.Error("descriptor closed after the second use with min_uses 2")
		}
	})
	t.Run("errors", func(t *testing.T) {
		f := newCacheFixture(t, 10, time.Minute)
		p := filepath.Join(f.dir, "missing")
		of := f.open(p, valid)
		if of.ok || of.err != unix.ENOENT || len(f.c.files) != 0 {
			t.Fatalf("without errors: %+v, %d entries", of, len(f.c.files))
		}
		withErrors := valid
		withErrors.errors = true
		if of = f.open(p, withErrors); of.err != unix.ENOENT || len(f.c.files) != 1 {
			t.Fatalf("with errors: %+v, %d entries", of, len(f.c.files))
		}
		f.write("missing", "here")
		if of = f.open(p, withErrors); of.err != unix.ENOENT || of.failed != "open()" {
			t.Errorf("cached error: %v %q, want ENOENT from open()", of.err, of.failed)
		}
		f.now = f.now.Add(time.Minute)
		if of = f.open(p, withErrors); !of.ok {
			t.Errorf("after valid: %v", of.err)
		}
		f.c.release(of.entry, 1)
	})
	t.Run("replaced while in use", func(t *testing.T) {
		f := newCacheFixture(t, 10, time.Minute)
		p := f.write("a", "old")
		sending := f.open(p, valid)
		f.write("a", "newer")
		f.now = f.now.Add(2 * time.Minute)
		of := f.open(p, valid)
		if of.entry == sending.entry || of.fi.size != 5 {
			t.Fatalf("replaced file: same entry %v, size %d", of.entry == sending.entry, of.fi.size)
		}
		if !isOpen(sending.fd) {
			t.Fatal("the old descriptor was closed while a request sends it")
		}
		f.c.release(sending.entry, 1)
		if isOpen(sending.fd) {
			t.Error("the old descriptor outlived its last request")
		}
		f.c.release(of.entry, 1)
	})
	t.Run("max drops the least recently used", func(t *testing.T) {
		f := newCacheFixture(t, 2, time.Minute)
		var fds []int
		for _, name := range []string{"a", "b", "c"} {
			of := f.open(f.write(name, name), valid)
			fds = append(fds, of.fd)
			f.c.release(of.entry, 1)
			f.now = f.now.Add(time.Second)
		}
		if len(f.c.files) != 2 || f.c.files[filepath.Join(f.dir, "a")] != nil {
			t.Errorf("entries %d, a cached %v", len(f.c.files), f.c.files[filepath.Join(f.dir, "a")] != nil)
		}
		if isOpen(fds[0]) || !isOpen(fds[1]) || !isOpen(fds[2]) {
			t.Errorf("open descriptors: a %v b %v c %v, want only b and c", isOpen(fds[0]), isOpen(fds[1]), isOpen(fds[2]))
		}
	})
	t.Run("inactive", func(t *testing.T) {
		f := newCacheFixture(t, 10, 10*time.Second)
		of := f.open(f.write("a", "a"), valid)
		f.c.release(of.entry, 1)
		f.c.expireInactive(f.now.Add(10 * time.Second).Unix())
		if len(f.c.files) != 1 {
			t.Fatal("dropped within inactive")
		}
		f.c.expireInactive(f.now.Add(11 * time.Second).Unix())
		if len(f.c.files) != 0 || isOpen(of.fd) {
			t.Errorf("after inactive: %d entries, descriptor open %v", len(f.c.files), isOpen(of.fd))
		}
	})
	t.Run("other disable_symlinks settings", func(t *testing.T) {
		f := newCacheFixture(t, 10, time.Minute)
		f.write("target", "t")
		link := filepath.Join(f.dir, "link")
		if err := os.Symlink("target", link); err != nil {
			t.Fatal(err)
		}
		of := f.open(link, valid)
		if !of.ok {
			t.Fatalf("off: %v", of.err)
		}
		f.c.release(of.entry, 1)
		on := valid
		on.symlinks, on.errors = conf.SymlinksOn, true
		if of = f.open(link, on); of.ok || of.err != unix.ELOOP || of.failed != "openat()" {
			t.Errorf("on, within valid: %v %q, want ELOOP from openat()", of.err, of.failed)
		}
		if of = f.open(link, on); of.err != unix.ELOOP || of.failed != "openat()" {
			t.Errorf("on, cached: %v %q, want ELOOP from openat()", of.err, of.failed)
		}
		if of = f.open(link, valid); !of.ok {
			t.Errorf("off again: %v", of.err)
		}
		f.c.release(of.entry, 1)
	})
}

// TestSymlinksFrom checks how from= places the start of the checks, as
// nginx's ngx_http_set_disable_symlinks: after a prefix of the path that
// ends at a "/" (its own or the path's), not at all for the path itself,
// and from the root for anything else.
func TestSymlinksFrom(t *testing.T) {
	for _, tc := range []struct {
		from, path string
		symlinks   conf.Symlinks
		at         int
	}{
		{"", "/srv/www/a", conf.SymlinksOn, 0},
		{"/srv/www", "/srv/www/a", conf.SymlinksOn, 8},
		{"/srv/www/", "/srv/www/a", conf.SymlinksOn, 8},
		{"/", "/srv/www/a", conf.SymlinksOn, 0},
		{"/srv/www", "/srv/www", conf.SymlinksOff, 0},
		{"/srv/ww", "/srv/www/a", conf.SymlinksOn, 0},
		{"/srv/www/a/b", "/srv/www/a", conf.SymlinksOn, 0},
		{"/other", "/srv/www/a", conf.SymlinksOn, 0},
	} {
		o := fileOpen{symlinks: conf.SymlinksOn}
		applySymlinksFrom([]byte(tc.path), []byte(tc.from), &o)
		if o.symlinks != tc.symlinks || o.from != tc.at {
			t.Errorf("from=%q on %q: %v at %d, want %v at %d", tc.from, tc.path, o.symlinks, o.from, tc.symlinks, tc.at)
		}
	}
}
