package logs

import (
	"os"
	"sync"
)

// AccessFiles holds the open access log files shared by all workers. Each
// worker keeps its own buffer per file (see AccessBuffer) and writes whole
// lines with one write, so lines from different workers never interleave
// and a request costs no syscall of its own.
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
}

// flushSize is the buffered amount that triggers a write; nginx's
// access_log buffer= is typically set to a few tens of kilobytes.
const flushSize = 32 << 10

// Full reports whether the buffer should be written now.
func (b *AccessBuffer) Full() bool { return len(b.Buf) >= flushSize }

// Flush writes the buffered lines.
func (b *AccessBuffer) Flush(files *AccessFiles) {
	if len(b.Buf) == 0 {
		return
	}
	files.Write(b.Path, b.Buf)
	b.Buf = b.Buf[:0]
}
