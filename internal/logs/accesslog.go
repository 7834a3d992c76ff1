package logs

import (
	"bytes"
	"compress/gzip"
	"os"
	"sync"
	"time"
)

// AccessFiles holds the open access log files shared by all workers. Each
// worker keeps its own buffer per file (see AccessBuffer) and writes whole
// lines with one write, so lines from different workers never interleave;
// with access_log's buffer= a batch of lines costs one write.
type AccessFiles struct {
	mu    sync.RWMutex
	paths []string
	files map[string]*os.File
}

// OpenAccessFiles opens (appending, creating) every path.
func OpenAccessFiles(paths []string) (*AccessFiles, error) {
	a := &AccessFiles{paths: paths, files: map[string]*os.File{}}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.files[p] = f
	}
	return a, nil
}

// Paths lists the files in the order given.
func (a *AccessFiles) Paths() []string { return a.paths }

// Write appends b to the file at path.
func (a *AccessFiles) Write(path string, b []byte) {
	a.mu.RLock()
	f := a.files[path]
	if f != nil {
		f.Write(b)
	}
	a.mu.RUnlock()
}

// Reopen closes and reopens every file, for log rotation.
func (a *AccessFiles) Reopen() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.paths {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if old := a.files[p]; old != nil {
			old.Close()
		}
		a.files[p] = f
	}
	return nil
}

// Close closes every file.
func (a *AccessFiles) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, f := range a.files {
		f.Close()
		delete(a.files, p)
	}
}

// AccessBuffer collects one worker's lines for one file.
type AccessBuffer struct {
	Path string
	Buf  []byte
	// Size is access_log's buffer= (0: the lines of each round of
	// events are written at its end), FlushAfter its flush=, Gzip its
	// gzip level (0: none).
	Size       int
	FlushAfter time.Duration
	Gzip       int
	// since is when the oldest waiting line was added.
	since time.Time
	zw    *gzip.Writer
	zbuf  bytes.Buffer
}

// flushSize is the buffered amount that triggers a write without
// buffer=.
const flushSize = 32 << 10

// Added notes that a line was added at now.
func (b *AccessBuffer) Added(now time.Time) {
	if b.since.IsZero() {
		b.since = now
	}
}

// Full reports whether the buffer should be written now.
func (b *AccessBuffer) Full() bool {
	if b.Size > 0 {
		return len(b.Buf) >= b.Size
	}
	return len(b.Buf) >= flushSize
}

// Due reports whether the lines are to be written at the end of a round
// of events (no buffer=) or, with buffer=, whether flush= has passed
// since the oldest of them.
func (b *AccessBuffer) Due(now time.Time) bool {
	if len(b.Buf) == 0 {
		return false
	}
	if b.Size == 0 {
		return true
	}
	return b.FlushAfter > 0 && now.Sub(b.since) >= b.FlushAfter
}

// Flush writes the buffered lines, as one gzip member with gzip=.
func (b *AccessBuffer) Flush(files *AccessFiles) {
	if len(b.Buf) == 0 {
		return
	}
	b.since = time.Time{}
	if b.Gzip > 0 {
		b.zbuf.Reset()
		if b.zw == nil {
			b.zw, _ = gzip.NewWriterLevel(&b.zbuf, b.Gzip)
		} else {
			b.zw.Reset(&b.zbuf)
		}
		b.zw.Write(b.Buf)
		b.zw.Close()
		files.Write(b.Path, b.zbuf.Bytes())
		b.Buf = b.Buf[:0]
		return
	}
	files.Write(b.Path, b.Buf)
	b.Buf = b.Buf[:0]
}
