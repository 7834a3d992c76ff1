package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"headroom/internal/engine"
	"headroom/internal/logs"
)

// TestWarnfThrottlesEachMessageKind checks that a capacity message is
// logged at most once a second, and that one kind of message does not
// hold back another.
func TestWarnfThrottlesEachMessageKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	el := logs.NewErrorLog()
	if err := el.Open([]logs.Target{{Path: path, Level: logs.Info}}); err != nil {
		t.Fatal(err)
	}
	loop, err := engine.New(engine.Config{Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	w := &worker{srv: &Server{log: el}, loop: loop}
	for i := 0; i < 3; i++ {
		w.warnf(logs.Warn, "slots short: %d", i)
		w.warnf(logs.Warn, "queue full: %d", i)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	if n := strings.Count(got, "slots short"); n != 1 {
		t.Errorf("%d lines of one kind within a second, want 1:\n%s", n, got)
	}
	if n := strings.Count(got, "queue full"); n != 1 {
		t.Errorf("another kind was held back (%d lines), want 1:\n%s", n, got)
	}
}
