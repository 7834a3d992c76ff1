package proxy

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
	"headroom/internal/vars"
)

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

// bufferBody reads the whole request body, then sends the request
// upstream with a Content-Length, whatever framing the client used, as
// nginx does once it holds the body.
func (cc *clientConn) bufferBody() {
	r := cc.r
	for !r.bodyDone {
		if cc.inPos < cc.inLen {
			if !cc.takeBufferedBody() {
				return
			}
			continue
		}
		if !cc.readBody(r.bodyLeft) {
			return
		}
	}
	if r.lc.ClientBodyInFileOnly != conf.BodyFileOff && r.bodyFile == nil {
		// client_body_in_file_only writes even an empty body to a file.
		if !cc.spillBody() {
			return
		}
	}
	cc.c.StopTimer()
	r.bufferBody = false
	r.head.Chunked = false
	r.head.ContentLength = r.bodyRead
	r.upOut = cc.buildUpstreamRequest(cc.w.getBuf()[:0])
	// $request_body finds a body held in memory until the request ends,
	// as in nginx, when a configuration names it.
	keep := vars.Referenced(vars.RequestBody)
	if !r.lc.ProxyPassRequestBody || r.lc.ProxySetBody != nil {
		// proxy_pass_request_body off or proxy_set_body: the body was
		// read, as nginx reads it, only to be dropped (one in memory
		// is kept for $request_body; a file is not, as it would be sent).
		if !keep || r.bodyFile != nil {
			r.dropRequestBody(cc.w)
		}
		r.upWhole = true
	} else if r.bodyFile == nil {
		r.upOut = append(r.upOut, r.bodyMem...)
		if !keep {
			cc.w.dropBuf(&r.bodyMem)
		}
		r.upWhole = true
	} else {
		r.upHeadLen = len(r.upOut)
		r.fileOff = 0
	}
	cc.connectNext()
}

// chunkedBodyArrived reports whether the whole chunked body is already in
// the client's buffer, by running a copy of the decoder over it.
func (cc *clientConn) chunkedBodyArrived() bool {
	dec := cc.r.bodyDec
	avail := cc.in[cc.inPos:cc.inLen]
	for {
		consumed, data, done, err := dec.Next(avail)
		if err != nil {
			return false
		}
		if done {
			return true
		}
		if consumed == 0 && data == nil {
			return false
		}
		avail = avail[consumed:]
	}
}

// takeBufferedBody moves the body bytes in the client's buffer to the
// body's store. It returns false when the request was ended.
func (cc *clientConn) takeBufferedBody() bool {
	r := cc.r
	avail := cc.in[cc.inPos:cc.inLen]
	if !r.bodyChunked {
		n := min(int64(len(avail)), r.bodyLeft)
		data := avail[:n]
		cc.inPos += int(n)
		r.bodyLeft -= n
		r.bodyRead += n
		r.bodyDone = r.bodyLeft == 0
		return cc.storeBody(data)
	}
	for cc.inPos < cc.inLen {
		consumed, data, _, ok := cc.decodeBody(cc.in[cc.inPos:cc.inLen])
		if !ok {
			return false
		}
		if !cc.storeBody(data) {
			return false
		}
		if consumed == 0 || r.bodyDone {
			break
		}
	}
	return true
}

// bodyMemLimit is how much of a body is kept in memory, as nginx keeps
// it. nginx reads a head into a buffer of client_header_buffer_size (a
// large header buffer when the head is longer), and the body bytes that
// came into it with the head stay there; the rest is read into a buffer of
// client_body_buffer_size, or of the rest's own size when a known length
// is under a quarter more than that. A body that outgrows its buffers
// goes to a file. headroom reads more at once, so it counts as preread
// only what nginx's header buffer would have held.
func bodyMemLimit(lc *conf.LocConf, h *http1.Request, headLen, avail int) int {
	hdrBuf := lc.ClientHeaderBufferSize
	if headLen > hdrBuf {
		hdrBuf = lc.LargeClientHeaderBuffersSize
	}
	preread := min(avail, max(hdrBuf-headLen, 0))
	size := lc.ClientBodyBufferSize
	if h.Chunked || h.ContentLength < 0 {
		return preread + size
	}
	preread = int(min(int64(preread), h.ContentLength))
	if rest := h.ContentLength - int64(preread); rest < int64(size+size/4) {
		return int(h.ContentLength)
	}
	return preread + size
}

// storeBody keeps body bytes in memory while the body fits in
// bodyMemLimit, and in a temporary file from the first byte that does
// not.
func (cc *clientConn) storeBody(data []byte) bool {
	r := cc.r
	if len(data) == 0 {
		return true
	}
	lc := r.lc
	if r.bodyFile == nil && lc.ClientBodyInFileOnly == conf.BodyFileOff && len(r.bodyMem)+len(data) <= r.bodyMemLimit {
		if r.bodyMem == nil {
			if r.bodyMemLimit <= bufSize {
				r.bodyMem = cc.w.getBuf()[:0]
			} else {
				r.bodyMem = make([]byte, 0, r.bodyMemLimit)
			}
		}
		r.bodyMem = append(r.bodyMem, data...)
		return true
	}
	if r.bodyFile == nil && !cc.spillBody() {
		return false
	}
	return cc.writeBodyFile(data)
}

// spillBody creates the body's temporary file and moves what was held in
// memory into it.
func (cc *clientConn) spillBody() bool {
	r := cc.r
	tf, err := cc.w.srv.createTemp(&r.lc.ClientBodyTempPath)
	if err != nil {
		cc.logAt(logs.Crit, fmt.Sprintf("open() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		cc.failBody(tempFailStatus(err))
		return false
	}
	tf.keep = r.lc.ClientBodyInFileOnly == conf.BodyFileKeep
	r.bodyFile = tf
	cc.w.stats.BodiesToFile.Inc()
	if r.lc.ClientBodyInFileOnly == conf.BodyFileOff {
		cc.logAt(logs.Warn, "a client request body is buffered to a temporary file "+tf.path)
	}
	mem := r.bodyMem
	r.bodyMem = nil
	ok := cc.writeBodyFile(mem)
	if cap(mem) == bufSize {
		cc.w.putBuf(mem)
	}
	return ok
}

// writeBodyFile appends data to the body's temporary file; a failed write
// (no space left, an I/O error) is logged and answered as nginx answers
// it, never passed on as a shorter body.
func (cc *clientConn) writeBodyFile(data []byte) bool {
	r := cc.r
	tf := r.bodyFile
	for len(data) > 0 {
		n, err := unix.Pwrite(tf.fd, data, tf.size)
		if n > 0 {
			tf.size += int64(n)
			data = data[n:]
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			err = unix.EIO
		}
		cc.logAt(logs.Crit, fmt.Sprintf("pwrite() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		cc.failBody(500)
		return false
	}
	return true
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

// nextFilePiece reads the next part of a body held in a file into upOut,
// after the request head, which stays at its start so that the request
// can be sent again. It returns false when the request was ended.
func (cc *clientConn) nextFilePiece() bool {
	r := cc.r
	tf := r.bodyFile
	if cap(r.upOut)-r.upHeadLen < bufSize/2 {
		b := make([]byte, r.upHeadLen, r.upHeadLen+bufSize)
		copy(b, r.upOut[:r.upHeadLen])
		cc.w.dropBuf(&r.upOut)
		r.upOut = b
	}
	buf := r.upOut[r.upHeadLen:cap(r.upOut)]
	if rest := tf.size - r.fileOff; int64(len(buf)) > rest {
		buf = buf[:rest]
	}
	n, err := unix.Pread(tf.fd, buf, r.fileOff)
	if n <= 0 {
		if err == nil {
			err = unix.EIO
		}
		cc.logAt(logs.Crit, fmt.Sprintf("pread() \"%s\" failed (%s)", tf.path, logs.SysError(err)))
		if r.up != nil {
			r.up.closeConn()
		}
		r.keepAlive = false
		cc.respondError(500)
		return false
	}
	r.upOut = r.upOut[:r.upHeadLen+n]
	r.upOutOff = r.upHeadLen
	r.fileOff += int64(n)
	return true
}

// fileLeft reports whether part of a body held in a file is still to be
// sent to the current upstream.
func (r *request) fileLeft() bool {
	return r.bodyFile != nil && r.fileOff < r.bodyFile.size
}

// rewind makes the request ready to be sent from its first byte to
// another server.
func (r *request) rewind() {
	r.upOutOff = 0
	if r.bodyFile != nil {
		r.upOut = r.upOut[:r.upHeadLen]
		r.fileOff = 0
	}
}

// canResend reports whether the whole request can be sent again: it has
// all been read from the client, and upOut holds it from its first byte
// or holds its head with the body in a file. This is recorded as the
// request is built and sent, never guessed from what a buffer contains.
func (r *request) canResend() bool {
	return r.bodyDone && (r.upWhole || r.bodyFile != nil)
}

// dropRequestBody releases a body read whole: its memory buffer and its
// temporary file (kept with client_body_in_file_only on, as nginx keeps
// it). A body that is not passed upstream is dropped as soon as it is in.
func (r *request) dropRequestBody(w *worker) {
	w.dropBuf(&r.bodyMem)
	if tf := r.bodyFile; tf != nil {
		unix.Close(tf.fd)
		if !tf.keep {
			unix.Unlink(tf.path)
		}
		r.bodyFile = nil
	}
}

// dropBody releases what a request buffered: its body's memory buffer to
// the pool and temporary file closed and, unless it is to be kept,
// removed; and its response's spool.
func (r *request) dropBody(w *worker) {
	r.dropRequestBody(w)
	w.dropBuf(&r.spoolScratch)
	r.spool.release()
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
