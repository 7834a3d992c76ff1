package proxy

import (
	"testing"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// TestBodyMemLimit checks how much of a body stays in memory, as nginx
// decides it with client_body_buffer_size 1k: the body bytes its 1k
// header buffer would hold with the head, and a buffer for the rest that
// is the rest's own size when that is under 1.25k.
func TestBodyMemLimit(t *testing.T) {
	lc := &conf.LocConf{ClientBodyBufferSize: 1024, ClientHeaderBufferSize: 1024, LargeClientHeaderBuffersSize: 8192}
	tests := []struct {
		name             string
		length           int64
		chunked          bool
		headLen, arrived int
		want             int
	}{
		{"2000 with a 90-byte head: the rest (1066) under 1.25k", 2000, false, 90, 2000, 2000},
		{"2000 after the head: the rest over 1.25k", 2000, false, 90, 0, 1024},
		{"1200 after the head: under 1.25k", 1200, false, 90, 0, 1200},
		{"10000 with the head: 934 preread and a 1k buffer", 10000, false, 90, 10000, 934 + 1024},
		{"a 2000-byte head: its 8k large buffer holds 6192 of the body", 10000, false, 2000, 10000, 6192 + 1024},
		{"chunked: preread and one buffer", -1, true, 90, 5000, 934 + 1024},
	}
	for _, tc := range tests {
		h := &http1.Request{ContentLength: tc.length, Chunked: tc.chunked}
		if got := bodyMemLimit(lc, h, tc.headLen, tc.arrived); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
