package logs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// openOne opens a single access log file in a temporary directory.
func openOne(t *testing.T) (*AccessFiles, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access.log")
	files, err := OpenAccessFiles([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(files.Close)
	return files, p
}

// content returns a file's contents, or "<missing>" when it does not exist.
func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAccessBufferFlush(t *testing.T) {
	tests := []struct {
		name string
		// batches are appended to the buffer; each is followed by a
		// Flush when flush is set.
		batches []string
		flush   bool
		want    string
	}{
		{name: "nothing reaches the file before Flush", batches: []string{"a\n", "b\n"}, flush: false, want: ""},
		{name: "lines appear after Flush", batches: []string{"a\nb\n"}, flush: true, want: "a\nb\n"},
		{name: "successive flushes append in order", batches: []string{"1\n", "2\n", "3\n"}, flush: true, want: "1\n2\n3\n"},
		{name: "flushing an empty buffer writes nothing", batches: []string{"", ""}, flush: true, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, p := openOne(t)
			buf := &AccessBuffer{Path: p}
			for _, b := range tc.batches {
				buf.Buf = append(buf.Buf, b...)
				if tc.flush {
					buf.Flush(files)
					if len(buf.Buf) != 0 {
						t.Fatalf("buffer holds %q after Flush, want it empty", buf.Buf)
					}
				}
			}
			if got := content(t, p); got != tc.want {
				t.Errorf("file = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAccessBufferFull(t *testing.T) {
	tests := []struct {
		name string
		size int
		want bool
	}{
		{"empty", 0, false},
		{"one byte short of the flush size", flushSize - 1, false},
		{"at the flush size", flushSize, true},
		{"beyond the flush size", flushSize + 100, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &AccessBuffer{Buf: make([]byte, tc.size)}
			if got := b.Full(); got != tc.want {
				t.Errorf("Full() with %d bytes = %v, want %v", tc.size, got, tc.want)
			}
		})
	}
}

func TestAccessFilesReopen(t *testing.T) {
	tests := []struct {
		name string
		// ops are applied in order: "write:TEXT" writes through
		// AccessFiles, "rename" moves the file to PATH.1, "remove"
		// deletes it, "reopen" calls Reopen.
		ops         []string
		wantCurrent string
		wantRotated string
	}{
		{
			name:        "writes follow a renamed file until Reopen",
			ops:         []string{"write:a\n", "rename", "write:b\n"},
			wantCurrent: "<missing>",
			wantRotated: "a\nb\n",
		},
		{
			name:        "Reopen after rename writes to a new file",
			ops:         []string{"write:a\n", "rename", "reopen", "write:b\n"},
			wantCurrent: "b\n",
			wantRotated: "a\n",
		},
		{
			name:        "Reopen recreates a removed file",
			ops:         []string{"write:a\n", "remove", "reopen", "write:b\n"},
			wantCurrent: "b\n",
			wantRotated: "<missing>",
		},
		{
			name:        "Reopen without rotation keeps appending",
			ops:         []string{"write:a\n", "reopen", "write:b\n"},
			wantCurrent: "a\nb\n",
			wantRotated: "<missing>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, p := openOne(t)
			rotated := p + ".1"
			for _, op := range tc.ops {
				switch {
				case strings.HasPrefix(op, "write:"):
					buf := &AccessBuffer{Path: p, Buf: []byte(op[len("write:"):])}
					buf.Flush(files)
				case op == "rename":
					if err := os.Rename(p, rotated); err != nil {
						t.Fatal(err)
					}
				case op == "remove":
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				case op == "reopen":
					if err := files.Reopen(); err != nil {
						t.Fatal(err)
					}
				default:
					t.Fatalf("unknown op %q", op)
				}
			}
			if got := content(t, p); got != tc.wantCurrent {
				t.Errorf("%s = %q, want %q", filepath.Base(p), got, tc.wantCurrent)
			}
			if got := content(t, rotated); got != tc.wantRotated {
				t.Errorf("%s = %q, want %q", filepath.Base(rotated), got, tc.wantRotated)
			}
		})
	}
}

func TestOpenAccessFiles(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{
		{
			name: "paths keep their order and each gets its own lines",
			run: func(t *testing.T, dir string) {
				a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
				files, err := OpenAccessFiles([]string{b, a})
				if err != nil {
					t.Fatal(err)
				}
				defer files.Close()
				if got := files.Paths(); !reflect.DeepEqual(got, []string{b, a}) {
					t.Errorf("Paths() = %q, want %q", got, []string{b, a})
				}
				files.Write(a, []byte("to a\n"))
				files.Write(b, []byte("to b\n"))
				if got := content(t, a); got != "to a\n" {
					t.Errorf("a.log = %q", got)
				}
				if got := content(t, b); got != "to b\n" {
					t.Errorf("b.log = %q", got)
				}
			},
		},
		{
			name: "existing content is appended to",
			run: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "access.log")
				if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				files, err := OpenAccessFiles([]string{p})
				if err != nil {
					t.Fatal(err)
				}
				defer files.Close()
				files.Write(p, []byte("new\n"))
				if got := content(t, p); got != "old\nnew\n" {
					t.Errorf("file = %q, want %q", got, "old\nnew\n")
				}
			},
		},
		{
			name: "a path that was not opened is ignored",
			run: func(t *testing.T, dir string) {
				p, other := filepath.Join(dir, "access.log"), filepath.Join(dir, "other.log")
				files, err := OpenAccessFiles([]string{p})
				if err != nil {
					t.Fatal(err)
				}
				defer files.Close()
				files.Write(other, []byte("x\n"))
				if got := content(t, other); got != "<missing>" {
					t.Errorf("other.log = %q, want it not created", got)
				}
				if got := content(t, p); got != "" {
					t.Errorf("access.log = %q, want it empty", got)
				}
			},
		},
		{
			name: "a file that cannot be opened is an error",
			run: func(t *testing.T, dir string) {
				if _, err := OpenAccessFiles([]string{filepath.Join(dir, "ok.log"), filepath.Join(dir, "missing", "x.log")}); err == nil {
					t.Error("OpenAccessFiles succeeded for a path in a missing directory")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, t.TempDir()) })
	}
}

// TestAccessBufferBuffering checks access_log's buffer=, flush= and gzip:
// lines wait for the buffer to fill or the flush time to pass, and with
// gzip each batch is one gzip member.
func TestAccessBufferBuffering(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.log")
	files, err := OpenAccessFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	now := time.Unix(1000, 0)
	b := &AccessBuffer{Path: path, Size: 64, FlushAfter: 5 * time.Second, Gzip: 1}
	b.Buf = append(b.Buf, "first line\n"...)
	b.Added(now)
	if b.Full() || b.Due(now.Add(4*time.Second)) {
		t.Fatal("a short line is written before its buffer fills or its flush time")
	}
	if !b.Due(now.Add(5 * time.Second)) {
		t.Fatal("the flush time passed and the line is not due")
	}
	b.Flush(files)
	b.Buf = append(b.Buf, strings.Repeat("x", 70)+"\n"...)
	b.Added(now.Add(6 * time.Second))
	if !b.Full() {
		t.Fatal("a full buffer is not reported full")
	}
	b.Flush(files)
	data, _ := os.ReadFile(path)
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if want := "first line\n" + strings.Repeat("x", 70) + "\n"; string(got) != want {
		t.Errorf("the log decompresses to %q, want %q", got, want)
	}
	// Without buffer= every round's lines are due at once.
	plain := &AccessBuffer{Path: path}
	plain.Buf = append(plain.Buf, "x\n"...)
	if !plain.Due(now) {
		t.Error("a line without buffer= is not due at the end of its round")
	}
}
