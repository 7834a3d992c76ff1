package doctor

import "testing"

// TestAdviseHTTP2 checks that lowering http2_max_concurrent_streams is
// advised exactly when one connection's streams could take as many slots
// as a worker serves requests at once.
func TestAdviseHTTP2(t *testing.T) {
	for _, tc := range []struct {
		streams, perWorker int
		advised            bool
		to                 string
	}{
		{streams: 128, perWorker: 511, advised: false},
		{streams: 128, perWorker: 128, advised: true, to: "16"},
		{streams: 500, perWorker: 255, advised: true, to: "31"},
		{streams: 4, perWorker: 3, advised: true, to: "1"},
	} {
		c := &Capacity{ProxiedPerWorker: tc.perWorker}
		fixes := adviseHTTP2(&HTTP2Report{MaxStreams: tc.streams}, c)
		if got := len(fixes) > 0; got != tc.advised {
			t.Errorf("%d streams, %d per worker: advised %v, want %v", tc.streams, tc.perWorker, got, tc.advised)
			continue
		}
		if tc.advised && fixes[0].To != tc.to {
			t.Errorf("%d streams, %d per worker: advised %s, want %s", tc.streams, tc.perWorker, fixes[0].To, tc.to)
		}
	}
	if fixes := adviseHTTP2(nil, &Capacity{ProxiedPerWorker: 1}); fixes != nil {
		t.Errorf("advice without HTTP/2: %v", fixes)
	}
}
