package conf

import (
	"net/netip"
	"testing"
)

func TestAccessRuleMatches(t *testing.T) {
	tests := []struct {
		rule   string
		client string
		want   bool
	}{
		{"all", "192.0.2.1", true},
		{"all", "2001:db8::1", true},
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"10.0.0.0/8", "10.200.1.1", true},
		{"10.1.2.3/8", "10.9.9.9", true}, // low bits dropped, as nginx does
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.0.0.0/8", "::ffff:10.1.1.1", true}, // IPv4 client over IPv6
		{"::1", "::1", true},
		{"::1", "127.0.0.1", false},
		{"2001:db8::/32", "2001:db8:1::5", true},
		// An IPv6 rule never matches an IPv4 client, mapped or not.
		{"::ffff:10.0.0.0/104", "10.1.1.1", false},
		{"::ffff:10.0.0.0/104", "::ffff:10.1.1.1", false},
	}
	for _, tt := range tests {
		r := AccessRule{All: tt.rule == "all"}
		if !r.All {
			p, _, ok := parseCIDR(tt.rule)
			if !ok {
				t.Fatalf("parseCIDR(%q) failed", tt.rule)
			}
			r.Prefix = p
		}
		if got := r.Matches(netip.MustParseAddr(tt.client)); got != tt.want {
			t.Errorf("%s matches %s: %v, want %v", tt.rule, tt.client, got, tt.want)
		}
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in          string
		want        string
		exact, okay bool
	}{
		{"192.0.2.1", "192.0.2.1/32", true, true},
		{"10.1.2.3/8", "10.0.0.0/8", false, true},
		{"10.0.0.0/8", "10.0.0.0/8", true, true},
		{"::1", "::1/128", true, true},
		{"0.0.0.0/0", "0.0.0.0/0", true, true},
		{"localhost", "", false, false},
		{"10.0.0.0/33", "", false, false},
		{"fe80::1%eth0", "", false, false},
	}
	for _, tt := range tests {
		p, exact, ok := parseCIDR(tt.in)
		if ok != tt.okay || (ok && (p.String() != tt.want || exact != tt.exact)) {
			t.Errorf("parseCIDR(%q) = %v %v %v, want %s %v %v", tt.in, p, exact, ok, tt.want, tt.exact, tt.okay)
		}
	}
}
