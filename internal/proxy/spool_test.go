package proxy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"headroom/internal/conf"
	"headroom/internal/observe"
)

// tempIn returns a create function making temporary files in dir, as the
// server's createTemp does, and counting them.
func tempIn(t *testing.T, dir string, made *int) func() (*tempFile, error) {
	return func() (*tempFile, error) {
		*made++
		path := filepath.Join(dir, "f"+string(rune('0'+*made)))
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &tempFile{path: path}, err
		}
		return &tempFile{fd: fd, path: path}, nil
	}
}

// drain takes everything out of the spool in pieces of n bytes.
func drain(t *testing.T, s *spool, n int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, n)
	for !s.empty() {
		k, err := s.take(buf)
		if err != nil {
			t.Fatalf("take: %v", err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// TestSpoolKeepsOrder puts bytes through memory and a file in pieces,
// takes some out between puts, and checks that they come out whole and
// in order: bytes go to the file while it holds unread ones, and a
// drained file is used again from its start.
func TestSpoolKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	made := 0
	var s spool
	w := &worker{stats: &observe.Worker{}}
	defer s.release(w)
	var want, got []byte
	for i := 0; i < 40; i++ {
		piece := bytes.Repeat([]byte{byte('a' + i%26)}, 700+i*37)
		want = append(want, piece...)
		created, _, err := s.put(piece, 4096, tempIn(t, dir, &made))
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if created != nil && made != 1 {
			t.Fatalf("a second file was made")
		}
		if i%3 == 2 {
			got = append(got, drain(t, &s, 1000)...)
		}
	}
	got = append(got, drain(t, &s, 1500)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("took %d bytes, not the %d put in order", len(got), len(want))
	}
	if made != 1 {
		t.Errorf("%d files made, want 1", made)
	}
	if s.file == nil || s.fileOff != s.file.size {
		t.Errorf("the file is not drained")
	}
	s.release(w)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("release left %d files", len(entries))
	}
}

// TestSpoolWithoutDescriptor checks that a spool which finds no
// descriptor for its file keeps what it was given in memory and takes
// nothing more: the upstream then waits for the client.
func TestSpoolWithoutDescriptor(t *testing.T) {
	var s spool
	noFD := func() (*tempFile, error) { return &tempFile{path: "/tmp/x"}, unix.EMFILE }
	lc := &conf.LocConf{ProxyBuffersNum: 2, ProxyBuffersSize: 1024, ProxyMaxTempFileSize: 1 << 20}
	if r := s.room(lc); r <= 2048 {
		t.Fatalf("room %d before any file trouble, want memory and file", r)
	}
	b := bytes.Repeat([]byte("x"), 3000)
	if _, failed, err := s.put(b, 2048, noFD); err != unix.EMFILE || failed != "/tmp/x" {
		t.Fatalf("put: %q %v, want EMFILE for /tmp/x", failed, err)
	}
	if r := s.room(lc); r != 0 {
		t.Errorf("room %d after EMFILE, want 0", r)
	}
	if got := drain(t, &s, 512); !bytes.Equal(got, b) {
		t.Errorf("took %d bytes, want the %d put", len(got), len(b))
	}
	if r := s.room(lc); r != 2048 {
		t.Errorf("room %d once drained, want memory only (2048)", r)
	}
}
