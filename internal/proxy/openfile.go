package proxy

import (
	"bytes"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/engine"
	"headroom/internal/logs"
)

// This file is how a request opens or examines a file, as nginx's
// ngx_open_cached_file does for the static handler, index, try_files,
// gzip_static, the rewrite module's file tests and access logs with
// variables: with disable_symlinks the path is walked one component at a
// time with openat(2) and O_NOFOLLOW (or, for if_not_owner, with the
// owner of each link compared with its target's), and with
// open_file_cache each worker remembers what it found — descriptors,
// sizes, modification times, directories and, with
// open_file_cache_errors, errors — for open_file_cache_valid.
//
// Descriptors and slots: the cache keeps at most max descriptors open
// per worker between requests, and the capacity plan reserves them from
// the open file limit beyond the slots (conf.WorkerCachedFiles), as it
// does for open_log_file_cache. A request sending a file still takes a
// KindFile slot while it does, whether the descriptor is its own or the
// cache's: the slots keep counting requests the same way with or without
// the cache, and a descriptor the cache drops while requests still send
// it (evicted, or the file changed) stays open until the last of them
// ends, covered by their slots. Nothing a worker holds is uncounted.
//
// Opening blocks the worker's thread on the disk, as every open here
// does (see static.go).

// fileOpen is what one opening asks for: nginx's ngx_open_file_info_t
// inputs.
type fileOpen struct {
	// symlinks is disable_symlinks for this path; from is the offset of
	// the "/" where checking starts (0: at the root), from from=.
	symlinks conf.Symlinks
	from     int
	// testOnly examines the file without keeping a descriptor (without
	// a cache; a cache opens the file anyway and may keep it); testDir
	// expects a directory, so that one stat may do.
	testOnly, testDir bool
	// valid is open_file_cache_valid in seconds, minUses
	// open_file_cache_min_uses, errors open_file_cache_errors.
	valid   int64
	minUses int
	errors  bool
	// flags and perm open the file; zero flags is O_RDONLY|O_NONBLOCK.
	flags int
	perm  uint32
}

// openedFile is the outcome of an opening.
type openedFile struct {
	// fd is the open file, -1 for a directory, a test or a failure.
	fd int
	fi fileInfo
	// err is why the file could not be opened (an errno), failed the
	// call that failed ("open()", "openat()", "stat()", "fstat()"). A
	// failure with a nil err answers 500, as nginx's of.err == 0: crit
	// is then why fstat(2) failed on a file just opened, which openPath
	// logs as nginx's ngx_open_and_stat_file does.
	err    error
	failed string
	crit   error
	ok     bool
	// entry is the cache entry that owns fd, released with cache.
	entry   *cachedFile
	cache   *fileCache
	minUses int
}

// searchFlags open a directory only to look up names in it, as nginx's
// NGX_FILE_SEARCH with O_PATH.
const searchFlags = unix.O_PATH | unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NONBLOCK | unix.O_CLOEXEC

// readFlags open a file to send it: non-blocking, so that a FIFO does not
// hang the worker.
const readFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC

// openPath opens (testOnly false) or examines path for the request with
// its location's disable_symlinks and open_file_cache, nginx's
// ngx_http_set_disable_symlinks and ngx_open_cached_file. A descriptor it
// returns is released with w.closeOpened. A failure that nginx logs
// itself (fstat of a file just opened) is logged here.
func (cc *clientConn) openPath(path []byte, testOnly, testDir bool) openedFile {
	w := cc.w
	st := &cc.r.lc.Static
	o := fileOpen{symlinks: st.DisableSymlinks, testOnly: testOnly, testDir: testDir,
		valid: int64(st.OpenFileCacheValid / time.Second), minUses: st.OpenFileCacheMinUses, errors: st.OpenFileCacheErrors}
	if bytes.IndexByte(path, 0) >= 0 {
		return openedFile{fd: -1, err: unix.ENOENT, failed: "open()"}
	}
	cc.symlinksFrom(path, &o)
	var of openedFile
	if c := st.OpenFileCache; c != nil {
		of = w.fileCache(c).open(path, &o, w.loop.Now().Unix(), &w.pathBuf)
	} else {
		of = openUncached(path, &o, &w.pathBuf)
	}
	if !of.ok && of.crit != nil {
		cc.logAt(logs.Crit, "fstat() \""+string(path)+"\" failed ("+logs.SysError(of.crit)+")")
	}
	return of
}

// testPath examines path (a directory with testDir) for index, try_files,
// the rewrite module's tests and access logs: what a cache opened for it
// is given back at once, so that nothing stays held by the request.
func (cc *clientConn) testPath(path []byte, testDir bool) openedFile {
	of := cc.openPath(path, true, testDir)
	cc.w.closeOpened(&of)
	return of
}

// symlinksFrom applies disable_symlinks' from= to one path, as nginx's
// ngx_http_set_disable_symlinks: a path under the value is checked from
// its end (the "/" after it, or the value's own final "/"), and a path
// equal to it is not checked at all.
func (cc *clientConn) symlinksFrom(path []byte, o *fileOpen) {
	st := &cc.r.lc.Static
	if st.SymlinksFrom == nil || o.symlinks == conf.SymlinksOff {
		return
	}
	w := cc.w
	w.fromBuf = cc.eval(w.fromBuf[:0], st.SymlinksFrom)
	applySymlinksFrom(path, w.fromBuf, o)
}

// applySymlinksFrom places the start of the checks of path after from,
// the value of from=.
func applySymlinksFrom(path, from []byte, o *fileOpen) {
	if len(from) == 0 || len(from) > len(path) || !bytes.Equal(path[:len(from)], from) {
		return
	}
	if len(from) == len(path) {
		o.symlinks = conf.SymlinksOff
		return
	}
	if path[len(from)] == '/' {
		o.from = len(from)
		return
	}
	if path[len(from)-1] == '/' {
		o.from = len(from) - 1
	}
}

// closeOpened gives back what an opening holds: the cache's entry, or
// the descriptor itself.
func (w *worker) closeOpened(of *openedFile) {
	if of.entry != nil {
		of.cache.release(of.entry, of.minUses)
		of.entry = nil
	} else if of.fd >= 0 {
		unix.Close(of.fd)
	}
	of.fd = -1
}

// fileCache returns the worker's cache for an open_file_cache directive,
// made when first used.
func (w *worker) fileCache(c *conf.OpenFileCache) *fileCache {
	fc := w.fileCaches[c]
	if fc == nil {
		if w.fileCaches == nil {
			w.fileCaches = map[*conf.OpenFileCache]*fileCache{}
		}
		fc = newFileCache(c, w.loop.Now)
		w.fileCaches[c] = fc
	}
	return fc
}

// openUncached is ngx_open_cached_file without a cache: a test examines
// the file, anything else opens it.
func openUncached(path []byte, o *fileOpen, buf *[]byte) openedFile {
	of := openedFile{fd: -1}
	if o.testOnly {
		var st unix.Stat_t
		if of.failed, of.err = fileInfoWrapper(path, o, &st, buf); of.err != nil {
			return of
		}
		of.fi = infoOf(&st)
		of.ok = true
		return of
	}
	of.ok = openAndStat(path, o, &of, buf)
	return of
}

// openAndStat opens and examines a file, nginx's ngx_open_and_stat_file.
// When of.fd is already open (a cache entry examined again) the path is
// examined first, and the descriptor kept if it still names the same
// file (inode); with testDir a directory needs no opening. A directory
// is not kept open.
func openAndStat(path []byte, o *fileOpen, of *openedFile, buf *[]byte) bool {
	var st unix.Stat_t
	switch {
	case of.fd >= 0:
		if of.failed, of.err = fileInfoWrapper(path, o, &st, buf); of.err != nil {
			of.fd = -1
			return false
		}
		if of.fi.ino == st.Ino {
			of.fi = infoOf(&st)
			return true
		}
	case o.testDir:
		if of.failed, of.err = fileInfoWrapper(path, o, &st, buf); of.err != nil {
			of.fd = -1
			return false
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			of.fi = infoOf(&st)
			return true
		}
	}
	flags := o.flags
	if flags == 0 {
		flags = readFlags
	}
	fd, failed, err := openWrapper(path, o, flags, o.perm, buf)
	if err != nil {
		of.fd, of.err, of.failed = -1, err, failed
		return false
	}
	if err := engine.Fstat(fd, &st); err != nil {
		// Logged by openPath; the request gets 500.
		engine.Close(fd)
		of.fd, of.err, of.failed, of.crit = -1, nil, "fstat()", err
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		engine.Close(fd)
		of.fd = -1
	} else {
		of.fd = fd
	}
	of.fi = infoOf(&st)
	return true
}

// fileInfoWrapper examines a file: stat(2), or with disable_symlinks the
// checked walk to it and fstat(2), nginx's ngx_file_info_wrapper.
func fileInfoWrapper(path []byte, o *fileOpen, st *unix.Stat_t, buf *[]byte) (string, error) {
	if o.symlinks == conf.SymlinksOff {
		if err := engine.Stat(path, st, buf); err != nil {
			return "stat()", err
		}
		return "", nil
	}
	fd, failed, err := openWrapper(path, o, readFlags, 0, buf)
	if err != nil {
		return failed, err
	}
	defer unix.Close(fd)
	if err := engine.Fstat(fd, st); err != nil {
		return "fstat()", err
	}
	return "", nil
}

// openWrapper opens a file with flags, following links (open(2)) or, with
// disable_symlinks, walking the path component by component from the
// root, the current directory or from=, each directory opened with
// O_PATH: nginx's ngx_open_file_wrapper. With "on" every component is
// opened with O_NOFOLLOW, so that a link is refused (ELOOP for the last
// component; ENOTDIR for a directory, since O_DIRECTORY does not take the
// link itself); with if_not_owner each is followed and its owner compared
// with the link's (ELOOP when they differ). A path ending in "/" opens
// the directory it names. Empty components are skipped.
func openWrapper(path []byte, o *fileOpen, flags int, perm uint32, buf *[]byte) (int, string, error) {
	if o.symlinks == conf.SymlinksOff {
		if flags&unix.O_CREAT != 0 {
			fd, err := unix.Open(string(path), flags, perm)
			if err != nil {
				return -1, "open()", err
			}
			return fd, "", nil
		}
		fd, err := engine.OpenFile(path, flags, buf)
		if err != nil {
			return -1, "open()", err
		}
		return fd, "", nil
	}
	p, end := 0, len(path)
	at := unix.AT_FDCWD
	var err error
	switch {
	case o.from > 0:
		// The part from= names is opened as it is, links and all.
		if at, err = unix.Open(string(path[:o.from]), searchFlags, 0); err != nil {
			return -1, "open()", err
		}
		p = o.from + 1
	case end > 0 && path[0] == '/':
		if at, err = unix.Open("/", searchFlags, 0); err != nil {
			return -1, "openat()", err
		}
		p = 1
	}
	defer func() {
		if at != unix.AT_FDCWD {
			unix.Close(at)
		}
	}()
	for {
		i := bytes.IndexByte(path[p:], '/')
		if i < 0 {
			break
		}
		if i == 0 {
			p++
			continue
		}
		name := string(path[p : p+i])
		var fd int
		if o.symlinks == conf.SymlinksIfNotOwner {
			fd, err = openatOwner(at, name, searchFlags, 0)
		} else {
			fd, err = unix.Openat(at, name, searchFlags|unix.O_NOFOLLOW, 0)
		}
		if err != nil {
			return -1, "openat()", err
		}
		if at != unix.AT_FDCWD {
			unix.Close(at)
		}
		at = fd
		p += i + 1
	}
	var fd int
	switch {
	case p == end:
		// A path ending in "/" names a directory: it is opened again
		// with the flags asked for, which fails with ENOTDIR for
		// anything else.
		fd, err = unix.Openat(at, ".", flags, perm)
	case o.symlinks == conf.SymlinksIfNotOwner && flags&(unix.O_CREAT|unix.O_TRUNC) == 0:
		fd, err = openatOwner(at, string(path[p:]), flags, perm)
	default:
		fd, err = unix.Openat(at, string(path[p:]), flags|unix.O_NOFOLLOW, perm)
	}
	if err != nil {
		return -1, "openat()", err
	}
	return fd, "", nil
}

// openatOwner opens name in the directory at following a link, then
// compares the owner of what was opened with the owner of name itself
// (the link, when it is one): a link to something another user owns is
// refused with ELOOP, as nginx's ngx_openat_file_owner. The owners are
// compared even when name is not a link now, since it may have been one
// when it was opened.
func openatOwner(at int, name string, flags int, perm uint32) (int, error) {
	fd, err := unix.Openat(at, name, flags, perm)
	if err != nil {
		return -1, err
	}
	var link, target unix.Stat_t
	if err = unix.Fstatat(at, name, &link, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		err = unix.Fstat(fd, &target)
	}
	if err == nil && link.Uid != target.Uid {
		err = unix.ELOOP
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// infoOf is what a request needs to know of a file from its stat.
func infoOf(st *unix.Stat_t) fileInfo {
	return fileInfo{
		isDir:  st.Mode&unix.S_IFMT == unix.S_IFDIR,
		isFile: st.Mode&unix.S_IFMT == unix.S_IFREG,
		isExec: st.Mode&unix.S_IXUSR != 0,
		size:   st.Size,
		mtime:  time.Unix(st.Mtim.Sec, 0),
		ino:    st.Ino,
	}
}

// fileCache is one worker's open_file_cache: the entries it knows by
// path, and their queue from the most recently used (head) to the least
// (tail), which is what inactive and max drop first. It is nginx's
// ngx_open_file_cache_t, with its times in seconds as nginx keeps them.
type fileCache struct {
	max        int
	inactive   int64
	files      map[string]*cachedFile
	head, tail *cachedFile
	now        func() time.Time
}

// cachedFile is one entry: what opening the path found, with the
// disable_symlinks settings it was opened with. fd stays open while uses
// reach min_uses or requests use it (count); an entry dropped from the
// cache while requests use it (gone) closes its descriptor when the last
// of them ends.
type cachedFile struct {
	name     string
	fd       int
	err      error
	symlinks conf.Symlinks
	from     int
	fi       fileInfo
	uses     int
	count    int
	gone     bool
	// created is when the file was last examined, accessed when it was
	// last used.
	created, accessed int64
	prev, next        *cachedFile
}

func newFileCache(c *conf.OpenFileCache, now func() time.Time) *fileCache {
	return &fileCache{max: c.Max, inactive: int64(c.Inactive / time.Second), files: map[string]*cachedFile{}, now: now}
}

// open is ngx_open_cached_file with a cache: an entry still valid (and
// opened with the same disable_symlinks settings) answers at once; an
// older one is examined again and kept, updated or replaced as the file
// changed; a new path makes room for itself when the cache is full.
// Failures are remembered only with open_file_cache_errors. A descriptor
// returned (a file, not a directory) counts as a use of the entry until
// release.
func (c *fileCache) open(path []byte, o *fileOpen, now int64, buf *[]byte) openedFile {
	of := openedFile{fd: -1, cache: c, minUses: o.minUses}
	f := c.files[string(path)]
	if f == nil {
		if !openAndStat(path, o, &of, buf) && (of.err == nil || !o.errors) {
			return c.failed(nil, &of)
		}
		return c.create(path, o, &of, now)
	}
	f.uses++
	c.unlink(f)
	if f.fd < 0 && f.err == nil && !f.fi.isDir {
		// Not used often enough to be kept open: opened again.
		if !openAndStat(path, o, &of, buf) && (of.err == nil || !o.errors) {
			return c.failed(f, &of)
		}
		return c.update(f, o, &of, now)
	}
	if now-f.created < o.valid && o.symlinks == f.symlinks && o.from == f.from {
		if f.err == nil {
			of.fd, of.fi = f.fd, f.fi
			if !f.fi.isDir {
				f.count++
				of.entry = f
			}
			of.ok = true
		} else {
			of.err, of.failed = f.err, "open()"
			if f.symlinks != conf.SymlinksOff {
				of.failed = "openat()"
			}
		}
		return c.found(f, &of, now)
	}
	// Examined again.
	retest := *o
	if f.fi.isDir {
		// A directory seldom becomes a file: one stat tells.
		retest.testDir = true
	}
	of.fd, of.fi.ino = f.fd, f.fi.ino
	ok := openAndStat(path, &retest, &of, buf)
	if !ok && (of.err == nil || !o.errors) {
		return c.failed(f, &of)
	}
	switch {
	case ok && of.fi.isDir:
		if f.fi.isDir || f.err != nil {
			return c.update(f, o, &of, now)
		}
		// A file became a directory.
	case ok:
		if f.fi.isDir || f.err != nil || of.fi.ino == f.fi.ino {
			return c.update(f, o, &of, now)
		}
		// The file was replaced.
	default:
		if f.err != nil || f.fi.isDir {
			return c.update(f, o, &of, now)
		}
		// The file was removed, or may no longer be opened.
	}
	if f.count == 0 {
		if f.fd >= 0 {
			unix.Close(f.fd)
		}
		f.fd = -1
		return c.update(f, o, &of, now)
	}
	// Requests still send the old file: the entry leaves the cache, its
	// descriptor closed when the last of them ends, and a new one takes
	// its place.
	delete(c.files, f.name)
	f.gone = true
	return c.create(path, o, &of, now)
}

// create adds an entry for what was just found, dropping the least
// recently used one (and up to two inactive ones) when the cache is full.
func (c *fileCache) create(path []byte, o *fileOpen, of *openedFile, now int64) openedFile {
	if len(c.files) >= c.max {
		c.expire(0, now)
	}
	f := &cachedFile{name: string(path), fd: -1, uses: 1}
	c.files[f.name] = f
	return c.update(f, o, of, now)
}

// update records in f what was found: the descriptor or the error, with
// the settings it was found with.
func (c *fileCache) update(f *cachedFile, o *fileOpen, of *openedFile, now int64) openedFile {
	f.fd, f.err, f.symlinks, f.from = of.fd, of.err, o.symlinks, o.from
	if of.err == nil {
		f.fi = of.fi
		f.gone = false
		if !of.fi.isDir {
			f.count++
			of.entry = f
		}
		of.ok = true
	}
	f.created = now
	return c.found(f, of, now)
}

// found puts f at the head of the queue as just used.
func (c *fileCache) found(f *cachedFile, of *openedFile, now int64) openedFile {
	f.accessed = now
	c.pushHead(f)
	return *of
}

// failed forgets f after a failure that is not cached, closing its
// descriptor unless requests still use it.
func (c *fileCache) failed(f *cachedFile, of *openedFile) openedFile {
	if f != nil {
		delete(c.files, f.name)
		if f.count == 0 {
			if f.fd >= 0 {
				unix.Close(f.fd)
				f.fd = -1
			}
		} else {
			f.gone = true
		}
	}
	if of.fd >= 0 {
		unix.Close(of.fd)
		of.fd = -1
	}
	of.ok = false
	return *of
}

// release ends a request's use of f: a file used fewer than minUses
// times is closed (its entry stays, without a descriptor), one dropped
// from the cache is closed once no request uses it, and up to two
// inactive entries are dropped, as nginx's ngx_open_file_cleanup does.
func (c *fileCache) release(f *cachedFile, minUses int) {
	now := c.now().Unix()
	f.count--
	c.closeEntry(f, minUses, now)
	c.expire(1, now)
}

// closeEntry is nginx's ngx_close_cached_file.
func (c *fileCache) closeEntry(f *cachedFile, minUses int, now int64) {
	if !f.gone {
		f.accessed = now
		c.unlink(f)
		c.pushHead(f)
		if f.uses >= minUses || f.count > 0 {
			return
		}
	}
	if f.count > 0 {
		return
	}
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// expire drops entries from the tail of the queue: with n 0 the least
// recently used one whatever its age, then (or with n 1 at once) up to
// two that have not been used for inactive.
func (c *fileCache) expire(n int, now int64) {
	for ; n < 3; n++ {
		f := c.tail
		if f == nil || n != 0 && now-f.accessed <= c.inactive {
			return
		}
		c.drop(f, now)
	}
}

// drop removes f from the cache, closing its descriptor unless requests
// still use it.
func (c *fileCache) drop(f *cachedFile, now int64) {
	c.unlink(f)
	delete(c.files, f.name)
	if f.err == nil && !f.fi.isDir {
		f.gone = true
		c.closeEntry(f, 0, now)
	}
}

// expireInactive drops every entry unused for inactive; the worker's
// tick calls it, so that an idle worker does not keep the descriptors of
// files nobody asks for (nginx drops them only when other files are
// released).
func (c *fileCache) expireInactive(now int64) {
	for f := c.tail; f != nil && now-f.accessed > c.inactive; f = c.tail {
		c.drop(f, now)
	}
}

// closeAll drops every entry, when the worker ends.
func (c *fileCache) closeAll() {
	for f := c.tail; f != nil; f = c.tail {
		c.unlink(f)
		delete(c.files, f.name)
		f.gone = true
		if f.fd >= 0 {
			unix.Close(f.fd)
			f.fd = -1
		}
	}
}

// unlink takes f out of the queue, if it is in it.
func (c *fileCache) unlink(f *cachedFile) {
	if f.prev != nil {
		f.prev.next = f.next
	} else if c.head == f {
		c.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else if c.tail == f {
		c.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// pushHead puts f at the head of the queue.
func (c *fileCache) pushHead(f *cachedFile) {
	f.prev, f.next = nil, c.head
	if c.head != nil {
		c.head.prev = f
	}
	c.head = f
	if c.tail == nil {
		c.tail = f
	}
}
