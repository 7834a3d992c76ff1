package proxy

import (
	"testing"

	"headroom/internal/conf"
	"headroom/internal/http1"
)

// TestKeepaliveDisabled checks keepalive_disable's recognition of
// browsers by User-Agent, after nginx's.
func TestKeepaliveDisabled(t *testing.T) {
	both := conf.KeepaliveDisableMSIE6 | conf.KeepaliveDisableSafari
	tests := []struct {
		name, method, ua string
		d                conf.KeepaliveDisable
		want             bool
	}{
		{"msie6 post", "POST", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", both, true},
		{"msie6 get keeps", "GET", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", both, false},
		{"msie6 sv1 keeps", "POST", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", both, false},
		{"msie5 post", "POST", "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)", both, true},
		{"msie7 keeps", "POST", "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", both, false},
		{"opera as msie keeps", "POST", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1) Opera 8.5", both, false},
		{"safari on mac", "GET", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15", both, true},
		{"chrome on mac keeps", "GET", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0 Safari/537.36", both, false},
		{"safari not named", "GET", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Version/17.0 Safari/605.1.15", conf.KeepaliveDisableMSIE6, false},
		{"none", "POST", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", 0, false},
	}
	for _, tc := range tests {
		h := &http1.Request{Method: []byte(tc.method), Headers: []http1.Header{{Name: []byte("User-Agent"), Value: []byte(tc.ua)}}}
		if got := keepaliveDisabled(tc.d, h); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
