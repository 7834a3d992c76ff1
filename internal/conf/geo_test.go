package conf

import (
	"net/netip"
	"testing"
)

// TestGeoLooksUpLongestPrefix checks the CIDR form: the longest network
// that holds the address wins, IPv4-mapped IPv6 addresses are matched as
// IPv4, a deleted network no longer matches, and an address that is
// missing is looked up as 255.255.255.255.
func TestGeoLooksUpLongestPrefix(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    geo $g {
        default          world;
        10.0.0.0/8       ten;
        10.1.0.0/16      ten-one;
        10.1.2.3         host;
        192.0.2.0/24     doc;
        delete           192.0.2.0/24;
        2001:db8::/32    v6doc;
        2001:db8:1::/48  v6one;
        255.255.255.255  none;
    }
    server { listen 8080; location / { return 200 $g; } }
}
`)
	g := cfg.HTTP.Variables[0].Geo
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"10.9.9.9", "ten"},
		{"10.1.9.9", "ten-one"},
		{"10.1.2.3", "host"},
		{"::ffff:10.1.2.3", "host"},
		{"192.0.2.1", "world"},
		{"8.8.8.8", "world"},
		{"2001:db8::1", "v6doc"},
		{"2001:db8:1::1", "v6one"},
		{"2001:db9::1", "world"},
		{"", "none"},
	} {
		var a netip.Addr
		if tc.addr != "" {
			a = netip.MustParseAddr(tc.addr)
		}
		if got := g.Lookup(a); got != tc.want {
			t.Errorf("Lookup(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestGeoRangesSplitAndDelete checks the ranges form: a range inside
// another splits it, ranges that cross a /16 are kept per /16, a deleted
// range no longer matches, and an IPv6 address gets the default.
func TestGeoRangesSplitAndDelete(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    geo $g {
        ranges;
        default                 dflt;
        127.0.0.0-127.0.0.255   outer;
        127.0.0.1-127.0.0.1     inner;
        10.10.3.0-10.11.2.255   wide;
        10.12.3.0-10.13.2.255   wide2;
        delete                  10.10.3.0-10.11.2.255;
        127.0.1.0-127.0.1.9     start;
        127.0.1.0-127.0.1.4     shared-start;
    }
    server { listen 8080; location / { return 200 $g; } }
}
`)
	g := cfg.HTTP.Variables[0].Geo
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"127.0.0.0", "outer"},
		{"127.0.0.1", "inner"},
		{"127.0.0.2", "outer"},
		{"127.0.0.255", "outer"},
		{"10.11.2.1", "dflt"},
		{"10.13.2.1", "wide2"},
		{"10.12.255.255", "wide2"},
		{"127.0.1.3", "shared-start"},
		{"127.0.1.7", "start"},
		{"2001:db8::1", "dflt"},
	} {
		if got := g.Lookup(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Lookup(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestParseAddrReadsAddressesAsNginx checks the address forms nginx's
// parser accepts and refuses.
func TestParseAddrReadsAddressesAsNginx(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"192.0.2.1", "192.0.2.1"},
		{"01.2.3.4", "1.2.3.4"},
		{"1..2.3", "1.0.2.3"},
		{"::1", "::1"},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"255.255.255.255", ""},
		{"1.2.3", ""},
		{"256.1.1.1", ""},
		{"fe80::1%eth0", ""},
		{"[::1]", ""},
		{"example.com", ""},
	} {
		a, ok := ParseAddr(tc.in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("ParseAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
