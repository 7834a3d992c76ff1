package proxy

import (
	"net/netip"
	"testing"

	"headroom/internal/conf"
)

// TestForwardedAddr checks the walk over a field's addresses from the
// right that nginx's realip module makes, with and without
// real_ip_recursive.
func TestForwardedAddr(t *testing.T) {
	from := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.1.0/24")}
	peer := netip.MustParseAddrPort("127.0.0.1:5000")
	for _, tc := range []struct {
		name      string
		value     string
		recursive bool
		want      string
		ok        bool
	}{
		{"one address", "192.0.2.1", false, "192.0.2.1:0", true},
		{"rightmost without recursion", "10.0.0.1, 192.0.2.1", false, "192.0.2.1:0", true},
		{"rightmost even if trusted", "192.0.2.1, 10.0.1.1, 127.0.0.1", false, "127.0.0.1:0", true},
		{"recursion skips trusted proxies", "10.0.1.1, 192.0.2.1, 127.0.0.1", true, "192.0.2.1:0", true},
		{"recursion ends at the leftmost", "10.0.1.1, 127.0.0.1", true, "10.0.1.1:0", true},
		{"address with a port", "192.0.2.1:123", false, "192.0.2.1:123", true},
		{"bracketed IPv6 with a port", "[2001:db8::1]:8", false, "[2001:db8::1]:8", true},
		{"IPv6", "2001:db8::1", false, "[2001:db8::1]:0", true},
		{"garbage is ignored", "not-an-address", false, "127.0.0.1:5000", false},
		{"trailing separators", "192.0.2.1, ", false, "192.0.2.1:0", true},
	} {
		ri := &conf.RealIP{From: from, Recursive: tc.recursive}
		got, ok, _ := forwardedAddr(peer, []byte(tc.value), ri)
		if ok != tc.ok || got.String() != tc.want {
			t.Errorf("%s: %q gives %s ok=%v, want %s ok=%v", tc.name, tc.value, got, ok, tc.want, tc.ok)
		}
	}
	// A connection that is not a trusted proxy keeps its own address.
	ri := &conf.RealIP{From: from}
	if got, ok, _ := forwardedAddr(netip.MustParseAddrPort("192.0.2.9:1"), []byte("1.1.1.1"), ri); ok || got.String() != "192.0.2.9:1" {
		t.Errorf("an untrusted peer got %s ok=%v", got, ok)
	}
}
