package proxy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/logs"
)

// This file is the temporary files behind the body pipe, named and laid
// out in levels as nginx does.

// A buffered request body (proxy_request_buffering on, nginx's default)
// is read whole before the request goes upstream: a slow client then
// holds its own slot and buffer but never an upstream connection, and
// the request can always be sent again whole to another server. The
// body is kept in memory up to client_body_buffer_size and in a
// temporary file beyond, as nginx keeps it.
//
// Temporary files are written and read with blocking calls on the
// worker's thread, as nginx does without aio: a write to the page cache
// takes microseconds, and only a disk that cannot keep up makes the loop
// wait.

// tempFile is a request body written to client_body_temp_path.
type tempFile struct {
	fd   int
	path string
	size int64
	// keep leaves the file in place after the request
	// (client_body_in_file_only on).
	keep bool
}

// tempFailStatus is the answer to a request whose body could not be
// written: 503 with Retry-After when the process is out of descriptors
// (capacity, which frees up), else nginx's 500.
func tempFailStatus(err error) int {
	if err == unix.EMFILE || err == unix.ENFILE {
		return 503
	}
	return 500
}

// createTemp creates a new temporary file in tp, named as nginx names
// them (ten digits, with tp's levels of subdirectories taken from the
// name's last digits). Missing level directories are created. On error
// the returned file's path names what failed.
func (s *Server) createTemp(tp *conf.TempPath) (*tempFile, error) {
	for attempt := 0; ; attempt++ {
		n := s.tempSeq.Add(1)
		name := fmt.Sprintf("%010d", n%10_000_000_000)
		dir := tp.Path
		end := len(name)
		for _, l := range tp.Levels {
			dir = filepath.Join(dir, name[end-l:end])
			end -= l
		}
		path := filepath.Join(dir, name)
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err == unix.ENOENT && attempt < 3 {
			if mkErr := os.MkdirAll(dir, 0o700); mkErr != nil {
				return &tempFile{path: dir}, mkErr
			}
			s.tempSeq.Add(-1)
			continue
		}
		if err == unix.EEXIST && attempt < 100 {
			continue
		}
		if err != nil {
			return &tempFile{path: path}, err
		}
		return &tempFile{fd: fd, path: path}, nil
	}
}

// tempSeqStart makes temporary file names differ between processes that
// share a directory, as nginx mixes its pid into the first number.
func tempSeqStart() int64 {
	return int64(os.Getpid()) * 1_000_003 % 1_000_000_000
}

// ChownTempDirs gives the temporary file directories made at start to
// the user the server is about to switch to (the "user" directive), as
// nginx gives its paths to its workers' user: made by root, they must
// stay writable once privileges are dropped.
func ChownTempDirs(cfg *conf.Config, uid, gid int) error {
	for _, p := range tempPaths(cfg) {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("chown(\"%s\", %d) failed (%s)", p, uid, logs.SysError(err))
		}
	}
	return nil
}

// makeTempDirs creates the temporary file directories of every level of
// the configuration at start, as nginx creates its paths, so that a
// directory that cannot be made is reported before requests come.
func makeTempDirs(paths []string) error {
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return fmt.Errorf("mkdir() \"%s\" failed (%s)", p, logs.SysError(err))
		}
	}
	return nil
}

// errTempBudget is returned by openTemp when the worker holds as many
// temporary files as its budget allows.
var errTempBudget = errors.New("temporary file budget in use")

// openTemp creates a temporary file within the worker's budget of open
// files (capacity.Plan.TempFiles), so that temporary files never take the
// descriptors the connection slots were planned with.
func (w *worker) openTemp(tp *conf.TempPath) (*tempFile, error) {
	if !w.tempAvailable() {
		return &tempFile{path: tp.Path}, errTempBudget
	}
	tf, err := w.srv.createTemp(tp)
	if err == nil {
		w.tempOpen++
		w.stats.TempFiles.Set(int64(w.tempOpen))
	}
	return tf, err
}

// closeTemp closes a temporary file from openTemp, removes it unless it
// is kept, and gives its place in the budget to a waiting request.
func (w *worker) closeTemp(tf *tempFile) {
	unix.Close(tf.fd)
	if !tf.keep {
		unix.Unlink(tf.path)
	}
	w.tempDone()
}

// tempDone gives back the place in the budget of a temporary file that
// was closed, by closeTemp or by the cache's writer that owned it.
func (w *worker) tempDone() {
	w.tempOpen--
	w.stats.TempFiles.Set(int64(w.tempOpen))
}

// tempAvailable reports whether the worker may open another temporary
// file.
func (w *worker) tempAvailable() bool {
	return w.tempBudget <= 0 || w.tempOpen < w.tempBudget
}

// waitForTempFile parks a request whose body needs a temporary file while
// the worker's are all open: nothing more of the body is read until one
// closes (serveTempWaiters), for up to client_body_timeout; the client
// does not lose its place for being slow, since it is not.
func (cc *clientConn) waitForTempFile() {
	r := cc.r
	if r.tempWait {
		return
	}
	r.tempWait = true
	w := cc.w
	w.tempWaiters = append(w.tempWaiters, cc)
	w.stats.TempFileWaits.Inc()
	w.warnf(logs.Warn, "worker %d has its %d temporary files open, request bodies wait for one: raise the open file limit or lower worker_connections to leave more descriptors for them", w.id, w.tempBudget)
	cc.c.SetTimer(r.lc.ClientBodyTimeout)
}

// leaveTempWait takes a request out of the wait for a temporary file.
func (cc *clientConn) leaveTempWait() {
	w := cc.w
	cc.r.tempWait = false
	for i, x := range w.tempWaiters {
		if x == cc {
			copy(w.tempWaiters[i:], w.tempWaiters[i+1:])
			w.tempWaiters[len(w.tempWaiters)-1] = nil
			w.tempWaiters = w.tempWaiters[:len(w.tempWaiters)-1]
			return
		}
	}
}

// tempWaitTimedOut answers a request that found no temporary file for
// its body within client_body_timeout: 503 with Retry-After, as for any
// lack of capacity.
func (cc *clientConn) tempWaitTimedOut() {
	cc.leaveTempWait()
	cc.w.stats.Rejected.Inc()
	cc.r.retryAfter = true
	cc.r.keepAlive = false
	cc.respondError(503)
}

// serveTempWaiters lets waiting request bodies go on, oldest first, as
// temporary files close.
func (w *worker) serveTempWaiters() {
	for len(w.tempWaiters) > 0 && w.tempAvailable() {
		cc := w.tempWaiters[0]
		cc.leaveTempWait()
		cc.c.StopTimer()
		cc.bufferBody()
	}
}
