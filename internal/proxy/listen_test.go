package proxy

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/engine"
)

// TestShareWildcards checks which addresses get a socket of their own:
// as in nginx, an address on a port where its family's wildcard listens
// is served through the wildcard's socket unless it says bind.
func TestShareWildcards(t *testing.T) {
	mk := func(addr string, bind bool) *listener {
		ln := &listener{addr: addr, bind: bind}
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			ln.addrPort = ap
		} else {
			ln.unixPath = addr
		}
		return ln
	}
	cases := []struct {
		name  string
		addrs []*listener
		own   []string
		via   map[string]string
	}{
		{
			name:  "specific beside the wildcard",
			addrs: []*listener{mk("127.0.0.1:80", false), mk("0.0.0.0:80", false), mk("127.0.0.2:80", false)},
			own:   []string{"0.0.0.0:80"},
			via:   map[string]string{"127.0.0.1:80": "0.0.0.0:80", "127.0.0.2:80": "0.0.0.0:80"},
		},
		{
			name:  "bind keeps a socket",
			addrs: []*listener{mk("0.0.0.0:80", false), mk("127.0.0.1:80", true), mk("127.0.0.2:80", false)},
			own:   []string{"0.0.0.0:80", "127.0.0.1:80"},
			via:   map[string]string{"127.0.0.2:80": "0.0.0.0:80"},
		},
		{
			name:  "other port, other family, no wildcard",
			addrs: []*listener{mk("0.0.0.0:80", false), mk("127.0.0.1:81", false), mk("[::1]:80", false), mk("127.0.0.1:82", false), mk("127.0.0.2:82", false)},
			own:   []string{"0.0.0.0:80", "127.0.0.1:81", "[::1]:80", "127.0.0.1:82", "127.0.0.2:82"},
		},
		{
			name:  "IPv6 wildcard",
			addrs: []*listener{mk("[::]:80", false), mk("[::1]:80", false), mk("0.0.0.0:80", false), mk("127.0.0.1:80", false)},
			own:   []string{"[::]:80", "0.0.0.0:80"},
			via:   map[string]string{"[::1]:80": "[::]:80", "127.0.0.1:80": "0.0.0.0:80"},
		},
		{
			name:  "unix socket",
			addrs: []*listener{mk("unix:/tmp/a.sock", false), mk("0.0.0.0:80", false)},
			own:   []string{"unix:/tmp/a.sock", "0.0.0.0:80"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			own := shareWildcards(tc.addrs)
			var got []string
			for _, ln := range own {
				got = append(got, ln.addr)
			}
			if len(got) != len(tc.own) {
				t.Fatalf("own sockets %v, want %v", got, tc.own)
			}
			for i := range got {
				if got[i] != tc.own[i] {
					t.Fatalf("own sockets %v, want %v", got, tc.own)
				}
			}
			for _, ln := range tc.addrs {
				want := tc.via[ln.addr]
				switch {
				case want == "" && ln.via != nil:
					t.Errorf("%s served via %s, want its own socket", ln.addr, ln.via.addr)
				case want != "" && (ln.via == nil || ln.via.addr != want):
					t.Errorf("%s via %v, want %s", ln.addr, ln.via, want)
				}
			}
		})
	}
}

// boundSocket returns a TCP socket bound to 127.0.0.1 on a port the
// system picks, whose local address a wildcard listener can look up.
func boundSocket(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestWildcardPicksByLocalAddress checks that a connection accepted on a
// wildcard's socket goes to the servers of the address it connected to,
// and to the wildcard's own where no other address matches; and that
// $server_addr is that local address, not 0.0.0.0.
func TestWildcardPicksByLocalAddress(t *testing.T) {
	wild := &listener{addr: "0.0.0.0:80", addrPort: netip.MustParseAddrPort("0.0.0.0:80")}
	local := &listener{addr: "127.0.0.1:80", addrPort: netip.MustParseAddrPort("127.0.0.1:80")}
	other := &listener{addr: "127.0.0.2:80", addrPort: netip.MustParseAddrPort("127.0.0.2:80")}
	shareWildcards([]*listener{wild, local, other})
	fd := boundSocket(t)

	got, at := wild.forLocal(fd)
	if got != local {
		t.Fatalf("connection to 127.0.0.1 went to %s", got.addr)
	}
	if at.Addr() != netip.MustParseAddr("127.0.0.1") || at.Port() == 0 {
		t.Errorf("local address %v", at)
	}
	if got := wild.servedFor(netip.MustParseAddr("127.0.0.3")); got != wild {
		t.Errorf("connection to 127.0.0.3 went to %s, want the wildcard's servers", got.addr)
	}
	if got := wild.servedFor(netip.MustParseAddr("::ffff:127.0.0.2")); got != other {
		t.Errorf("IPv4-mapped 127.0.0.2 went to %s", got.addr)
	}
	if got, _ := local.forLocal(fd); got != local {
		t.Errorf("an address with its own socket went to %s", got.addr)
	}

	// A wildcard without other addresses asks for the local address
	// only when a variable needs it.
	alone := &listener{addr: "0.0.0.0:8080", addrPort: netip.MustParseAddrPort("0.0.0.0:8080")}
	cc := &clientConn{ln: alone, c: &engine.Conn{Fd: fd}}
	if got := string(cc.appendServerAddr(nil)); got != "127.0.0.1" {
		t.Errorf("$server_addr on a wildcard listener = %q, want 127.0.0.1", got)
	}
	if got := cc.localAddrPort().Port(); got != at.Port() {
		t.Errorf("$server_port = %d, want the socket's %d", got, at.Port())
	}
	fixed := &clientConn{ln: local, c: &engine.Conn{Fd: -1}}
	if got := string(fixed.appendServerAddr(nil)); got != "127.0.0.1" {
		t.Errorf("$server_addr = %q", got)
	}
}

// TestListenSocketOptions checks that listen's socket options reach the
// listening socket, whose accepted connections inherit them.
func TestListenSocketOptions(t *testing.T) {
	get := func(fd, level, opt int) int {
		t.Helper()
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			t.Fatalf("getsockopt %d/%d: %v", level, opt, err)
		}
		return v
	}
	ln := &listener{
		addr: "127.0.0.1:0", addrPort: netip.MustParseAddrPort("127.0.0.1:0"),
		deferred: true, fastOpen: 7, fastOpenSet: true,
		keepAlive: 1, keepIdle: 30 * time.Minute, keepIntvl: 5 * time.Second, keepCnt: 4,
	}
	fd, err := listenSocket(ln)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// Linux reports TCP_DEFER_ACCEPT rounded to its retransmission
	// schedule: any non-zero value means it is on.
	if get(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) == 0 {
		t.Error("TCP_DEFER_ACCEPT not set")
	}
	if v := get(fd, unix.IPPROTO_TCP, unix.TCP_FASTOPEN); v != 7 {
		t.Errorf("TCP_FASTOPEN %d, want 7", v)
	}
	if get(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 1 {
		t.Error("SO_KEEPALIVE not set")
	}
	if v := get(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE); v != 1800 {
		t.Errorf("TCP_KEEPIDLE %d, want 1800", v)
	}
	if v := get(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL); v != 5 {
		t.Errorf("TCP_KEEPINTVL %d, want 5", v)
	}
	if v := get(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT); v != 4 {
		t.Errorf("TCP_KEEPCNT %d, want 4", v)
	}

	plain := &listener{addr: "127.0.0.1:0", addrPort: netip.MustParseAddrPort("127.0.0.1:0")}
	pfd, err := listenSocket(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pfd)
	if get(pfd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT) != 0 || get(pfd, unix.SOL_SOCKET, unix.SO_KEEPALIVE) != 0 {
		t.Error("a listen without options got TCP_DEFER_ACCEPT or SO_KEEPALIVE")
	}
}

// TestIPv6ListenerIsV6Only checks nginx's ipv6only=on default, which lets
// "listen 80" and "listen [::]:80" bind side by side, and ipv6only=off.
// The sockets are only made, not bound: no address but 127.0.0.1 is
// listened on by the tests.
func TestIPv6ListenerIsV6Only(t *testing.T) {
	for _, dual := range []bool{false, true} {
		ln := &listener{addr: "[::]:0", addrPort: netip.MustParseAddrPort("[::]:0"), dualStack: dual}
		fd, err := newListenSocket(ln)
		if err != nil {
			t.Skipf("no IPv6 socket here: %v", err)
		}
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{false: 1, true: 0}[dual]; v != want {
			t.Errorf("ipv6only=%v: IPV6_V6ONLY %d, want %d", !dual, v, want)
		}
	}
}
