package proxy

import (
	"fmt"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// A buffered response (proxy_buffering on, nginx's default) is read from
// the upstream as fast as it comes once the client falls behind: what
// the client has not taken waits in the response's spool, in memory up to
// proxy_buffers and then in a temporary file in proxy_temp_path up to
// proxy_max_temp_file_size, as nginx's event pipe keeps it. The upstream
// connection is then released as soon as the response is in, however
// slowly the client reads: a slow reader holds its own slot and buffers,
// not an application server's connection. The spool holds bytes already
// framed for the client, in order after those in the connection's out
// buffer. A client that keeps up never touches it.

// spool is a first-in first-out byte queue: memory first, then a file.
// Bytes go to the file while it holds unread ones, so that order holds;
// a drained file is reused from its start.
type spool struct {
	mem    []byte
	memOff int
	file   *tempFile
	// fileOff is the read position in the file; file.size the write
	// position.
	fileOff int64
	// noFile is set when no descriptor was left for a file: the spool
	// then keeps to memory and the upstream waits for the client.
	noFile bool
}

// empty reports whether nothing waits in the spool.
func (s *spool) empty() bool {
	return s.memOff == len(s.mem) && (s.file == nil || s.fileOff == s.file.size)
}

// room is how many more bytes the spool takes under lc's limits.
func (s *spool) room(lc *conf.LocConf) int {
	memCap := lc.ProxyBuffersNum * lc.ProxyBuffersSize
	if s.file == nil || s.fileOff == s.file.size {
		if n := memCap - (len(s.mem) - s.memOff); n > 0 {
			if s.noFile {
				return n
			}
			return n + int(min(lc.ProxyMaxTempFileSize, bufSize))
		}
	}
	if lc.ProxyMaxTempFileSize <= 0 || s.noFile {
		return 0
	}
	used := int64(0)
	if s.file != nil {
		used = s.file.size - s.fileOff
	}
	return int(min(lc.ProxyMaxTempFileSize-used, bufSize))
}

// release frees the spool's memory and removes its file.
func (s *spool) release(w *worker) {
	s.mem, s.memOff = nil, 0
	if s.file != nil {
		w.closeTemp(s.file)
		s.file = nil
	}
	s.fileOff = 0
}

// spoolResponse frames the upstream bytes waiting in upIn for the client
// and puts them in the spool. It returns false when the request ended.
func (cc *clientConn) spoolResponse() bool {
	r := cc.r
	if r.spoolScratch == nil {
		r.spoolScratch = cc.w.getBuf()[:0]
	}
	room := r.spool.room(r.lc)
	scratch := r.spoolScratch[:0:min(cap(r.spoolScratch), room)]
	if !cc.consumeResponse(&scratch) || !cc.spoolWrite(scratch) {
		return false
	}
	cc.dropScratchAtEnd()
	return true
}

// dropScratchAtEnd gives the staging buffer back once the upstream's
// part is over, so that an answer waiting for a slow client holds only
// its out buffer and the spool.
func (cc *clientConn) dropScratchAtEnd() {
	if r := cc.r; r.upDone {
		cc.w.dropBuf(&r.spoolScratch)
	}
}

// spoolEnd completes a close-delimited response whose earlier bytes wait
// in the spool: the end goes after them. It returns false when the
// request ended.
func (cc *clientConn) spoolEnd() bool {
	r := cc.r
	if r.spoolScratch == nil {
		r.spoolScratch = cc.w.getBuf()[:0]
	}
	scratch := r.spoolScratch[:0]
	if !cc.endResponse(&scratch, false) || !cc.spoolWrite(scratch) {
		return false
	}
	cc.dropScratchAtEnd()
	return true
}

// spoolWrite appends framed bytes to the response's spool. A file that
// cannot be made or written ends the request, as nginx ends it: the
// client sees the response cut, never a shorter one passed as whole.
// Without a descriptor for a file, what is framed already stays in
// memory, beyond proxy_buffers by less than one buffer, and from then on
// the upstream waits for the client: the response is slower, not cut.
func (cc *clientConn) spoolWrite(b []byte) bool {
	r := cc.r
	lc := r.lc
	created, failed, err := r.spool.put(b, lc.ProxyBuffersNum*lc.ProxyBuffersSize, func() (*tempFile, error) {
		return cc.w.openTemp(&lc.ProxyTempPath)
	})
	if created != nil {
		cc.w.stats.ResponsesToFile.Inc()
		cc.logAt(logs.Warn, "an upstream response is buffered to a temporary file "+created.path+" while reading upstream")
	}
	switch {
	case err == nil:
		return true
	case err == errTempBudget:
		// The worker holds as many files as it may: this response waits
		// for its client like an unbuffered one.
		return true
	case err == unix.EMFILE || err == unix.ENFILE:
		cc.w.warnf(logs.Warn, "open() \"%s\" failed (%s) while reading upstream: responses wait for their clients instead of going to temporary files; raise the open file limit", failed, logs.SysError(err))
		return true
	case created == nil && r.spool.file == nil:
		cc.logAt(logs.Crit, fmt.Sprintf("open() \"%s\" failed (%s) while reading upstream", failed, logs.SysError(err)))
	default:
		cc.logAt(logs.Crit, fmt.Sprintf("pwrite() \"%s\" failed (%s) while reading upstream", failed, logs.SysError(err)))
	}
	cc.flushAndAbort()
	return false
}

// put appends b: to memory while the file holds nothing unread and
// memory (memCap bytes) has room, else to the file, which create makes
// on first use (created is then the new file). On an error, failed names
// the path that failed; for EMFILE and ENFILE the bytes stay in memory and
// the spool keeps to memory from then on (noFile), so the error is only
// for the log.
func (s *spool) put(b []byte, memCap int, create func() (*tempFile, error)) (created *tempFile, failed string, err error) {
	if s.file == nil || s.fileOff == s.file.size {
		if s.memOff == len(s.mem) {
			s.mem, s.memOff = s.mem[:0], 0
		}
		if n := min(len(b), memCap-(len(s.mem)-s.memOff)); n > 0 {
			if s.mem == nil {
				s.mem = make([]byte, 0, memCap)
			}
			if len(s.mem)+n > cap(s.mem) {
				k := copy(s.mem, s.mem[s.memOff:])
				s.mem, s.memOff = s.mem[:k], 0
			}
			s.mem = append(s.mem, b[:n]...)
			b = b[n:]
		}
	}
	if len(b) == 0 {
		return nil, "", nil
	}
	if s.file == nil {
		tf, err := create()
		if err == unix.EMFILE || err == unix.ENFILE || err == errTempBudget {
			s.noFile = true
			s.mem = append(s.mem, b...)
			return nil, tf.path, err
		}
		if err != nil {
			return nil, tf.path, err
		}
		s.file, created = tf, tf
	}
	if s.fileOff == s.file.size {
		s.fileOff, s.file.size = 0, 0
	}
	for len(b) > 0 {
		n, err := unix.Pwrite(s.file.fd, b, s.file.size)
		if n > 0 {
			s.file.size += int64(n)
			b = b[n:]
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			err = unix.EIO
		}
		return created, s.file.path, err
	}
	return created, "", nil
}

// refillOut moves the spool's first bytes into the empty out buffer. It
// returns false when the request ended.
func (cc *clientConn) refillOut() bool {
	r := cc.r
	cc.outBuf()
	n, err := r.spool.take(cc.out[:cap(cc.out)])
	if err != nil {
		cc.logAt(logs.Crit, fmt.Sprintf("pread() \"%s\" failed (%s) while sending to client", r.spool.file.path, logs.SysError(err)))
		cc.abort()
		return false
	}
	cc.out, cc.outOff = cc.out[:n], 0
	return true
}

// take moves the spool's first bytes into dst: from memory, else from
// the file.
func (s *spool) take(dst []byte) (int, error) {
	if s.memOff < len(s.mem) {
		n := copy(dst, s.mem[s.memOff:])
		s.memOff += n
		return n, nil
	}
	if rest := s.file.size - s.fileOff; int64(len(dst)) > rest {
		dst = dst[:rest]
	}
	n, err := unix.Pread(s.file.fd, dst, s.fileOff)
	if n <= 0 {
		if err == nil {
			err = unix.EIO
		}
		return 0, err
	}
	s.fileOff += int64(n)
	return n, nil
}

// responseBuffered decides whether a response is buffered: by
// proxy_buffering, unless the upstream says otherwise in
// X-Accel-Buffering (yes or no) and proxy_ignore_headers does not
// ignore it, as nginx decides.
func responseBuffered(lc *conf.LocConf, resp *http1.Response) bool {
	on := lc.ProxyBuffering
	if lc.ProxyIgnoreHeaders&conf.IgnoreXAccelBuffering == 0 {
		v := headerValue(resp.Headers, "X-Accel-Buffering")
		switch {
		case http1.EqualFold(v, "yes"):
			on = true
		case http1.EqualFold(v, "no"):
			on = false
		}
	}
	return on
}
