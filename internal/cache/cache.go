// Package cache is the store behind proxy_cache: a directory of answers,
// one file per key, and the keys zone that indexes them, shared by all
// workers.
//
// A file holds a fixed header (the answer's lifetime, where its body
// starts and how long it is), the key it was stored under, the
// upstream's response head as it came, and the body. It is written in a
// temporary file and renamed into place when the answer is whole, so a
// reader sees either the old answer or the new one, never a part. The
// file of a key is named by the MD5 of the key in hexadecimal, in
// subdirectories by the levels taken from the name's end, as nginx lays
// out its caches.
//
// The zone keeps, per key, how often it was asked for, whether its file
// is known to be there and how large it is, in least-recently-used
// order, so that max_size and inactive can remove what is least wanted
// and the zone's own size bounds how many keys it remembers. The zone
// starts empty: a key not in it is looked for on disk, so a cache
// outlives restarts and reloads.
//
// Files are opened, read and written with blocking calls on the worker
// that serves the request, as nginx does without aio: they go to the
// page cache and take microseconds unless the disk cannot keep up.
package cache

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
)

// Key is the MD5 of a cache key, which names its file.
type Key [md5.Size]byte

// KeyOf hashes a cache key.
func KeyOf(key []byte) Key { return md5.Sum(key) }

// nodeSize is what one key costs in the zone, as nginx's node with its
// slab overhead: a 1 MiB zone holds about 8,000 keys.
const nodeSize = 128

// headerSize is the fixed part of a file's header.
const headerSize = 72

// magic marks headroom's cache files; the digit is the format's version.
var magic = [4]byte{'H', 'R', 'C', '2'}

// MaxHead bounds what comes before a stored answer's body (the fixed
// header, the key and the upstream's head): an answer with more is not
// stored, so that every stored one fits the buffer Open reads it into,
// as nginx stores none whose key and head outgrow proxy_buffer_size.
const MaxHead = 16 << 10

// firstRead is how much of a file Open reads at first: the whole head of
// nearly every answer, without copying much of a large body.
const firstRead = 4 << 10

// Cache is one proxy_cache_path at run time.
type Cache struct {
	// conf is the proxy_cache_path; a reload may give another with the
	// same directory, levels and zone (Adopt), read by the workers
	// without the lock.
	conf atomic.Pointer[conf.CachePath]

	mu         sync.Mutex
	entries    map[Key]*entry
	lru        entry // sentinel: lru.next is the most recently used
	maxEntries int
	// size is what the files known to the zone take on disk.
	size int64
}

// entry is a key the zone knows.
type entry struct {
	key        Key
	uses       int
	prev, next *entry
	access     time.Time
	// stored is set while the key's file is known to be there, with
	// its size; probed once the disk was asked and had none.
	stored bool
	probed bool
	fsize  int64
	// updating is set while a request holds the key's lock
	// (proxy_cache_lock), until lockUntil at the latest.
	updating  bool
	lockUntil time.Time
	// errStatus is an error answer kept in the zone only, as nginx keeps
	// an intercepted or its own 502 and 504 (proxy_cache_valid), until
	// errUntil.
	errStatus int
	errUntil  time.Time
}

// New makes the run-time cache of a proxy_cache_path.
func New(p *conf.CachePath) *Cache {
	c := &Cache{entries: map[Key]*entry{}, maxEntries: max(int(p.ZoneSize/nodeSize), 1)}
	c.conf.Store(p)
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Same reports whether c can go on serving p after a reload: the same
// directory, levels and zone.
func (c *Cache) Same(p *conf.CachePath) bool {
	o := c.Conf()
	if o.Path != p.Path || o.Zone != p.Zone || o.ZoneSize != p.ZoneSize || len(o.Levels) != len(p.Levels) {
		return false
	}
	for i := range o.Levels {
		if o.Levels[i] != p.Levels[i] {
			return false
		}
	}
	return true
}

// Adopt takes a reloaded configuration's settings that may change
// without losing the zone (inactive, max_size, use_temp_path).
func (c *Cache) Adopt(p *conf.CachePath) {
	c.conf.Store(p)
}

// Conf is the cache's proxy_cache_path.
func (c *Cache) Conf() *conf.CachePath { return c.conf.Load() }

// FilePath is where k's answer lives.
func (c *Cache) FilePath(k Key) string {
	return string(c.appendPath(nil, k))
}

// appendPath appends the path of k's file to b.
func (c *Cache) appendPath(b []byte, k Key) []byte {
	var name [2 * md5.Size]byte
	hex.Encode(name[:], k[:])
	p := c.Conf()
	b = append(b, p.Path...)
	end := len(name)
	for _, l := range p.Levels {
		b = append(b, '/')
		b = append(b, name[end-l:end]...)
		end -= l
	}
	b = append(b, '/')
	return append(b, name[:]...)
}

// openFile opens k's file for reading without allocating its path: it
// is made on the stack, NUL-terminated, for openat(2).
func (c *Cache) openFile(k Key, flags int) (int, error) {
	var buf [512]byte
	b := c.appendPath(buf[:0], k)
	b = append(b, 0)
	atCWD := unix.AT_FDCWD
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(atCWD), uintptr(unsafe.Pointer(&b[0])), uintptr(flags), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}

// Use counts a request for k and reports how many there were while the
// zone remembered the key, this one included, and whether its file is
// known to be missing (so the disk need not be asked).
//
// errStatus is the key's error answer while it is valid; an expired one
// makes the key new again, as in nginx.
func (c *Cache) Use(k Key, now time.Time) (uses int, missing bool, errStatus int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	e := c.entries[k]
	if e == nil {
		e = c.insert(k)
	} else {
		c.unlink(e)
	}
	c.pushFront(e)
	if e.errStatus != 0 {
		if now.Before(e.errUntil) {
			e.access = now
			return e.uses, true, e.errStatus
		}
		e.errStatus, e.uses = 0, 0
	}
	e.uses++
	e.access = now
	return e.uses, e.probed && !e.stored, 0
}

// SetError keeps an error answer for k until then.
func (c *Cache) SetError(k Key, status int, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		e.errStatus, e.errUntil = status, until
	}
}

// Refresh gives k's stored answer a new lifetime (a revalidated one).
func (c *Cache) Refresh(k Key, valid time.Time) error {
	fd, err := unix.Open(c.FilePath(k), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(valid.Unix()))
	binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().Unix()))
	_, err = unix.Pwrite(fd, b[:], 8)
	return err
}

// Missing records that k's file was looked for and is not there (or is
// not usable).
func (c *Cache) Missing(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		if e.stored {
			c.size -= e.fsize
		}
		e.stored, e.probed, e.fsize = false, true, 0
	}
}

// Found records that k's file is there, with its size on disk.
func (c *Cache) Found(k Key, fsize int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil && !e.stored {
		e.stored, e.probed, e.fsize = true, true, fsize
		c.size += fsize
	}
}

// Lock gives the caller the right to fetch k's answer, for age at most
// (proxy_cache_lock_age): it reports false while another request holds
// it. until identifies the lock to Unlock.
func (c *Cache) Lock(k Key, now time.Time, age time.Duration) (until time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		e = c.insert(k)
		c.pushFront(e)
		e.access = now
	}
	if e.updating && now.Before(e.lockUntil) {
		return time.Time{}, false
	}
	e.updating, e.lockUntil = true, now.Add(age)
	return e.lockUntil, true
}

// Locked reports whether a request holds k's lock.
func (c *Cache) Locked(k Key, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	return e != nil && e.updating && now.Before(e.lockUntil)
}

// Unlock gives back the lock Lock gave until then, unless it aged and
// another request took it since.
func (c *Cache) Unlock(k Key, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil && e.updating && e.lockUntil.Equal(until) {
		e.updating = false
	}
}

// insert adds a key to the zone, forgetting the least recently used one
// when the zone is full, as nginx's zone does when it cannot allocate a
// node; the forgotten key's file is removed with it.
func (c *Cache) insert(k Key) *entry {
	if len(c.entries) >= c.maxEntries {
		c.remove(c.lru.prev)
	}
	e := &entry{key: k}
	c.entries[k] = e
	return e
}

// remove forgets an entry and removes its file.
func (c *Cache) remove(e *entry) {
	if e == &c.lru {
		return
	}
	c.unlink(e)
	delete(c.entries, e.key)
	if e.stored {
		c.size -= e.fsize
		// The file may be open for a reader, which keeps its copy.
		_ = unix.Unlink(c.FilePath(e.key))
	}
}

// expire removes the keys nobody asked for within inactive, from the
// least recently used end.
func (c *Cache) expire(now time.Time) {
	limit := c.Conf().Inactive
	for e := c.lru.prev; e != &c.lru && now.Sub(e.access) > limit; e = c.lru.prev {
		c.remove(e)
	}
}

// shrink removes least recently used answers while the cache is over
// max_size, or while its file system has less than min_free free.
func (c *Cache) shrink() {
	if max := c.Conf().MaxSize; max > 0 {
		for e := c.lru.prev; e != &c.lru && c.size > max; {
			prev := e.prev
			if e.stored {
				c.remove(e)
			}
			e = prev
		}
	}
	if min := c.Conf().MinFree; min > 0 {
		var st unix.Statfs_t
		if unix.Statfs(c.Conf().Path, &st) != nil {
			return
		}
		free := int64(st.Bavail) * st.Bsize
		for e := c.lru.prev; e != &c.lru && free < min; {
			prev := e.prev
			if e.stored {
				free += e.fsize
				c.remove(e)
			}
			e = prev
		}
	}
}

func (c *Cache) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next, e.next.prev = e.next, e.prev
		e.prev, e.next = nil, nil
	}
}

func (c *Cache) pushFront(e *entry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// Stats are a cache's figures for the status page.
type Stats struct {
	Keys, MaxKeys, Stored int
	Size                  int64
}

// Stats reports what the zone holds.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Keys: len(c.entries), MaxKeys: c.maxEntries, Size: c.size}
	for _, e := range c.entries {
		if e.stored {
			s.Stored++
		}
	}
	return s
}

// Meta is what a stored answer's header says.
type Meta struct {
	// Valid is when the answer stops being fresh.
	Valid time.Time
	// BodyStart is the file offset of the body, BodyLen its length.
	BodyStart, BodyLen int64
	// Variant hashes the request fields the answer's Vary names (zero
	// without Vary).
	Variant [md5.Size]byte
	// Stale is how long past Valid the answer may still be sent, by its
	// Cache-Control extensions.
	Stale Stale
}

// Stale are an answer's stale-while-revalidate (Updating) and
// stale-if-error (Error) periods, in seconds after its lifetime.
type Stale struct {
	Updating, Error int64
}

// ErrNotStored is reported for a file that is missing or is not a
// stored answer for the key.
var ErrNotStored = errors.New("not in cache")

// ErrHeadTooLong is reported for a file whose head does not fit the
// buffer it is read into.
var ErrHeadTooLong = errors.New("cache file has too long header")

// Open opens k's file and reads its header into buf, which must hold
// MaxHead bytes: the response head is returned as part of buf. The caller
// owns fd and closes it. A missing file, one of another key or format,
// or a short one is ErrNotStored; the zone learns either way.
func (c *Cache) Open(k Key, key []byte, buf []byte) (fd int, m Meta, head []byte, err error) {
	fd, err = c.openFile(k, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOATIME)
	if err == unix.EPERM {
		// O_NOATIME needs the file's owner.
		fd, err = c.openFile(k, unix.O_RDONLY|unix.O_CLOEXEC)
	}
	if err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			c.Missing(k)
			return -1, m, nil, ErrNotStored
		}
		return -1, m, nil, err
	}
	fail := func(e error) (int, Meta, []byte, error) {
		unix.Close(fd)
		if e == ErrNotStored {
			c.Missing(k)
		}
		return -1, Meta{}, nil, e
	}
	n, err := unix.Pread(fd, buf[:min(len(buf), firstRead)], 0)
	if err != nil {
		return fail(err)
	}
	b := buf[:n]
	if n < headerSize || [4]byte(b[:4]) != magic {
		return fail(ErrNotStored)
	}
	bodyStart := int64(binary.LittleEndian.Uint32(b[4:]))
	m.Valid = time.Unix(int64(binary.LittleEndian.Uint64(b[8:])), 0)
	m.BodyLen = int64(binary.LittleEndian.Uint64(b[24:]))
	keyLen := int(binary.LittleEndian.Uint32(b[32:]))
	copy(m.Variant[:], b[40:56])
	m.Stale.Updating = int64(binary.LittleEndian.Uint64(b[56:]))
	m.Stale.Error = int64(binary.LittleEndian.Uint64(b[64:]))
	if bodyStart > int64(len(buf)) {
		return fail(ErrHeadTooLong)
	}
	if bodyStart > int64(n) {
		// A long head: the rest of it.
		k, err := unix.Pread(fd, buf[n:bodyStart], int64(n))
		if err != nil {
			return fail(err)
		}
		n += k
		b = buf[:n]
	}
	if bodyStart > int64(n) || headerSize+keyLen > int(bodyStart) {
		return fail(ErrNotStored)
	}
	if string(b[headerSize:headerSize+keyLen]) != string(key) {
		return fail(ErrNotStored)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Size != bodyStart+m.BodyLen {
		return fail(ErrNotStored)
	}
	m.BodyStart = bodyStart
	c.Found(k, st.Blocks*512)
	return fd, m, b[headerSize+keyLen : bodyStart], nil
}

// Writer stores one answer: the header and head when made, the body as
// it comes, and the file renamed into place by Commit.
type Writer struct {
	c         *Cache
	k         Key
	fd        int
	tmp       string
	valid     time.Time
	stale     Stale
	variant   [md5.Size]byte
	keyLen    int
	bodyStart int64
	bodyLen   int64
	failed    bool
}

// NewWriter starts storing an answer for k in the open temporary file
// fd (named tmp), which the Writer owns from now on: key, the response
// head as the upstream sent it, the time the answer stays fresh until
// and how long it may be sent stale after, and the hash of the request
// fields its Vary names.
func (c *Cache) NewWriter(k Key, key, head []byte, valid time.Time, stale Stale, variant [md5.Size]byte, fd int, tmp string) (*Writer, error) {
	w := &Writer{c: c, k: k, fd: fd, tmp: tmp, valid: valid, stale: stale, variant: variant, keyLen: len(key)}
	b := make([]byte, headerSize, headerSize+len(key)+len(head))
	b = append(b, key...)
	b = append(b, head...)
	w.bodyStart = int64(len(b))
	if w.bodyStart > MaxHead {
		w.Abort()
		return nil, ErrHeadTooLong
	}
	w.putHeader(b)
	if err := writeAll(fd, b); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

func (w *Writer) putHeader(b []byte) {
	copy(b, magic[:])
	binary.LittleEndian.PutUint32(b[4:], uint32(w.bodyStart))
	binary.LittleEndian.PutUint64(b[8:], uint64(w.valid.Unix()))
	binary.LittleEndian.PutUint64(b[16:], uint64(time.Now().Unix()))
	binary.LittleEndian.PutUint64(b[24:], uint64(w.bodyLen))
	binary.LittleEndian.PutUint32(b[32:], uint32(w.keyLen))
	copy(b[40:56], w.variant[:])
	binary.LittleEndian.PutUint64(b[56:], uint64(w.stale.Updating))
	binary.LittleEndian.PutUint64(b[64:], uint64(w.stale.Error))
}

// Write appends body bytes; after an error the Writer only waits to be
// aborted.
func (w *Writer) Write(p []byte) error {
	if w.failed {
		return nil
	}
	if err := writeAll(w.fd, p); err != nil {
		w.failed = true
		return err
	}
	w.bodyLen += int64(len(p))
	return nil
}

// Failed reports whether a write failed.
func (w *Writer) Failed() bool { return w.failed }

// Commit completes the file and puts it in place of the key's answer.
func (w *Writer) Commit() error {
	if w.failed {
		w.Abort()
		return errors.New("write failed")
	}
	var b [headerSize]byte
	w.putHeader(b[:])
	if _, err := unix.Pwrite(w.fd, b[:], 0); err != nil {
		w.Abort()
		return err
	}
	var st unix.Stat_t
	fsize := w.bodyStart + w.bodyLen
	if unix.Fstat(w.fd, &st) == nil {
		fsize = st.Blocks * 512
	}
	unix.Close(w.fd)
	w.fd = -1
	path := w.c.FilePath(w.k)
	err := os.Rename(w.tmp, path)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		if mk := os.MkdirAll(filepath.Dir(path), 0o700); mk == nil {
			err = os.Rename(w.tmp, path)
		}
	}
	if err != nil {
		_ = unix.Unlink(w.tmp)
		return err
	}
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[w.k]
	if e == nil {
		e = c.insert(w.k)
		c.pushFront(e)
		e.access = time.Now()
	}
	if e.stored {
		c.size -= e.fsize
	}
	e.stored, e.probed, e.fsize = true, true, fsize
	e.errStatus = 0
	c.size += fsize
	c.shrink()
	return nil
}

// Abort drops the answer being stored.
func (w *Writer) Abort() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
		_ = unix.Unlink(w.tmp)
	}
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
