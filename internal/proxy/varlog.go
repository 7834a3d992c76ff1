package proxy

import (
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// This file is nginx's access log with variables in its path: the path is
// evaluated when the request ends, and the file is opened, written and
// closed then, or kept open by open_log_file_cache. As in nginx the open
// and the write block the loop on the disk (see docs/architecture.md);
// the cache is what makes that cheap when it matters.

// logToVarPath logs the request to an access log whose path has
// variables, unless its if= condition is empty or "0".
func (cc *clientConn) logToVarPath(al *conf.AccessLog, lc *conf.LocConf) {
	w := cc.w
	if cc.logRefused(al) {
		return
	}
	w.logLine = cc.appendLogLine(w.logLine[:0], al.Format)
	cc.writeVarLog(al, lc, w.logLine)
}

// writeVarLog writes a finished line to the log whose path has
// variables. As nginx's ngx_http_log_script_write, nothing is written
// when the request's root directory does not exist, so that a request
// for a server whose files are missing cannot create log files; the
// root is tested, and the file opened, with the location's
// disable_symlinks (and the root through its open_file_cache).
func (cc *clientConn) writeVarLog(al *conf.AccessLog, lc *conf.LocConf, line []byte) {
	w := cc.w
	o := fileOpen{flags: unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_CLOEXEC, perm: 0o644}
	if cc.r.lc != nil {
		root := cc.appendRoot(w.logPath[:0])
		w.logPath = root
		of := cc.testPath(root, true)
		if of.ok && !of.fi.isDir {
			of.ok, of.err = false, unix.ENOTDIR
		}
		if !of.ok {
			if of.err != nil {
				cc.logError("testing \"" + string(root) + "\" existence failed (" + logs.SysError(of.err) + ")")
			}
			return
		}
		o.symlinks = cc.r.lc.Static.DisableSymlinks
	}
	w.logPath = cc.eval(w.logPath[:0], al.PathTemplate)
	if cc.r.lc != nil {
		cc.symlinksFrom(w.logPath, &o)
	}
	path := string(w.logPath)
	var (
		fd     int
		keep   bool
		err    error
		failed string
	)
	if c := lc.OpenLogFileCache; c != nil {
		fd, keep, failed, err = w.logCache(c).file(path, w.loop.Now(), &o)
	} else {
		fd, failed, err = openLogFile(path, &o)
	}
	if err != nil {
		cc.logAt(logs.Crit, failed+" \""+path+"\" failed ("+logs.SysError(err)+")")
		return
	}
	unix.Write(fd, line)
	if !keep {
		unix.Close(fd)
	}
}

// openLogFile opens an access log file for appending, creating it as
// nginx does (mode 0644 before the umask); with disable_symlinks in o
// (nil: none) the path is checked as any file's is, and failed names
// the call that failed.
func openLogFile(path string, o *fileOpen) (int, string, error) {
	if o == nil || o.symlinks == conf.SymlinksOff {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		return fd, "open()", err
	}
	return openWrapper([]byte(path), o, o.flags, o.perm, nil)
}

// logCache returns the worker's cache for an open_log_file_cache
// directive, made when first used.
func (w *worker) logCache(c *conf.OpenLogFileCache) *logFileCache {
	lfc := w.logCaches[c]
	if lfc == nil {
		if w.logCaches == nil {
			w.logCaches = map[*conf.OpenLogFileCache]*logFileCache{}
		}
		lfc = &logFileCache{conf: c, files: map[string]*cachedLog{}}
		w.logCaches[c] = lfc
	}
	return lfc
}

// logFileCache is one worker's open_log_file_cache: the files it knows,
// each with how often it was used; those used min_uses times stay open.
type logFileCache struct {
	conf  *conf.OpenLogFileCache
	files map[string]*cachedLog
}

// cachedLog is a file the cache knows. fd is -1 while the file has been
// used fewer than min_uses times; dev and ino identify the open file, so
// that a file renamed or removed is noticed when it is checked again.
type cachedLog struct {
	fd       int
	uses     int
	lastUse  time.Time
	checked  time.Time
	dev, ino uint64
}

// file returns a descriptor open on path (with disable_symlinks from o,
// nil for none); keep reports that the cache holds it (else the caller
// closes it after the write). A file used fewer than min_uses times is
// not kept; one that cannot be opened is not remembered, as nginx's cache
// does not remember failures without open_file_cache_errors. failed names
// the call that failed.
func (c *logFileCache) file(path string, now time.Time, o *fileOpen) (fd int, keep bool, failed string, err error) {
	e := c.files[path]
	if e != nil && e.fd >= 0 {
		if now.Sub(e.checked) >= c.conf.Valid {
			if e.same(path) {
				e.checked = now
			} else {
				// Renamed or removed since it was opened: the
				// path is opened anew.
				unix.Close(e.fd)
				e.fd = -1
			}
		}
		if e.fd >= 0 {
			e.uses++
			e.lastUse = now
			return e.fd, true, "", nil
		}
	}
	fd, failed, err = openLogFile(path, o)
	if err != nil {
		return -1, false, failed, err
	}
	if e == nil {
		if len(c.files) >= c.conf.Max {
			c.evictOldest()
		}
		e = &cachedLog{fd: -1}
		c.files[path] = e
	}
	e.uses++
	e.lastUse = now
	if e.uses < c.conf.MinUses {
		return fd, false, "", nil
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	e.fd, e.checked, e.dev, e.ino = fd, now, st.Dev, st.Ino
	return fd, true, "", nil
}

// same reports whether path still names the open file.
func (e *cachedLog) same(path string) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && st.Dev == e.dev && st.Ino == e.ino
}

// evictOldest forgets the least recently used file to make room, as
// nginx's cache does when it holds max files.
func (c *logFileCache) evictOldest() {
	var oldest string
	var at time.Time
	for p, e := range c.files {
		if oldest == "" || e.lastUse.Before(at) {
			oldest, at = p, e.lastUse
		}
	}
	c.forget(oldest)
}

func (c *logFileCache) forget(path string) {
	if e := c.files[path]; e != nil && e.fd >= 0 {
		unix.Close(e.fd)
	}
	delete(c.files, path)
}

// expire forgets the files unused for inactive; the worker's tick calls
// it.
func (c *logFileCache) expire(now time.Time) {
	for p, e := range c.files {
		if now.Sub(e.lastUse) >= c.conf.Inactive {
			c.forget(p)
		}
	}
}

// closeAll closes every file the cache holds, when the worker ends.
func (c *logFileCache) closeAll() {
	for p := range c.files {
		c.forget(p)
	}
}

// logToSyslog sends the request's line to an access log's syslog server
// as one datagram, after the header that names the severity, time, host
// and tag. A line that cannot be sent is lost, with a warning, as in
// nginx: the request does not wait for its log.
func (cc *clientConn) logToSyslog(al *conf.AccessLog, lc *conf.LocConf) {
	w := cc.w
	if cc.logRefused(al) {
		return
	}
	line := al.Syslog.AppendHeader(w.logLine[:0], al.Syslog.Severity, w.loop.Now())
	line = cc.appendLogLine(line, al.Format)
	w.logLine = line
	if err := w.srv.syslogs[al.Syslog.Key()].Send(line[:len(line)-1]); err != nil {
		// As nginx: the system call's failure in the main error log,
		// the lost line in the request's.
		if level, quiet := err.Level(); !quiet {
			w.srv.log.Logf(level, w.id, "%s", err.Error())
		}
		cc.logAt(logs.Warn, "send() to syslog failed while logging request")
	}
}

// logRefused reports whether access_log's if= keeps the request out of
// the log: its value is empty or "0".
func (cc *clientConn) logRefused(al *conf.AccessLog) bool {
	if al.If == nil {
		return false
	}
	v := cc.eval(cc.w.logLine[:0], al.If)
	cc.w.logLine = v
	return len(v) == 0 || len(v) == 1 && v[0] == '0'
}
