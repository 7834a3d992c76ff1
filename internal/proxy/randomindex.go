package proxy

import (
	"bytes"
	"math/rand/v2"

	"golang.org/x/sys/unix"

	"headroom/internal/logs"
)

// serveRandomIndex is nginx's random_index handler, which nginx runs
// before the index module: a URI ending in "/" is redirected internally
// to a regular file of its directory picked at random, with the
// request's arguments. Names starting with "." are left out; every other
// entry is examined with stat(2), so a symbolic link to a file counts
// and one to a directory does not, like a directory; a link that points
// nowhere is looked at with lstat(2) and left out. It reports false when
// it declines — a method other than GET, HEAD and POST, or a directory
// without such a file — and the index module answers instead. A
// directory that cannot be opened is 404, 403 or 500 by its error, and
// an entry that cannot be examined is 500, each with nginx's log line.
//
// The directory is read on the worker's thread, as nginx reads it: on
// a local file system whose metadata is cached that takes microseconds.
func (cc *clientConn) serveRandomIndex() bool {
	r := cc.r
	switch string(r.head.Method) {
	case "GET", "HEAD", "POST":
	default:
		return false
	}
	dir := cc.mapURI(nil, r.uri)
	if bytes.IndexByte(dir, 0) >= 0 {
		// nginx declines a URI with a NUL in it.
		return false
	}
	// The directory's name without the URI's final slash.
	path := dir[:len(dir)-1]
	if len(path) == 0 {
		path = dir
	}
	fd, ok := cc.openDirectoryOrAnswer(path)
	if !ok {
		return true
	}
	names, ok := cc.regularFiles(fd, path)
	if !ok {
		cc.respondError(500)
		return true
	}
	if len(names) == 0 {
		return false
	}
	name := names[rand.IntN(len(names))]
	uri := append(append(make([]byte, 0, len(r.uri)+len(name)), r.uri...), name...)
	// The arguments stay the request's own.
	cc.internalRedirect(uri, nil)
	return true
}

// regularFiles reads the open directory fd (path is its name, for the
// entries' paths and the log) and closes it, returning the names of the
// entries that are regular files, after symbolic links, leaving out
// those starting with ".". A failure is logged at crit, as nginx logs
// it, and ok is false.
func (cc *clientConn) regularFiles(fd int, path []byte) (names []string, ok bool) {
	buf := cc.w.getBuf()
	defer cc.w.putBuf(buf)
	var all []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			cc.logAt(logs.Crit, "readdir() \""+string(path)+"\" failed ("+logs.SysError(err)+")")
			return nil, false
		}
		if n == 0 {
			break
		}
		_, _, all = unix.ParseDirent(buf[:n], -1, all)
	}
	unix.Close(fd)

	full := append(append(make([]byte, 0, len(path)+64), path...), '/')
	base := len(full)
	for _, name := range all {
		if name[0] == '.' {
			continue
		}
		full = append(full[:base], name...)
		var st unix.Stat_t
		if err := unix.Stat(string(full), &st); err != nil {
			if err != unix.ENOENT {
				cc.logAt(logs.Crit, "stat() \""+string(full)+"\" failed ("+logs.SysError(err)+")")
				return nil, false
			}
			// A link that points nowhere is the link itself.
			if err := unix.Lstat(string(full), &st); err != nil {
				cc.logAt(logs.Crit, "lstat() \""+string(full)+"\" failed ("+logs.SysError(err)+")")
				return nil, false
			}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			names = append(names, name)
		}
	}
	return names, true
}
