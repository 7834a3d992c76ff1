package proxy

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"headroom/internal/engine"
)

// Peek and Discard make the bench's in-memory client a proxyHeaderSource,
// as the slot's socket is one.
func (m *memTransport) Peek(p []byte) (int, error) {
	if m.resetRd {
		return 0, unix.ECONNRESET
	}
	if len(m.in) == 0 {
		if m.eof {
			return 0, nil
		}
		return 0, engine.ErrAgain
	}
	return copy(p, m.in), nil
}

func (m *memTransport) Discard(n int) error {
	m.in = m.in[n:]
	return nil
}

// proxyV2 builds a PROXY protocol v2 header: version and command,
// family and transport, then the body (addresses and TLVs).
func proxyV2(verCmd, famTrans byte, body []byte) string {
	b := []byte(proxyV2Sig)
	b = append(b, verCmd, famTrans)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return string(append(b, body...))
}

// v2Inet4 is a v2 body with IPv4 addresses and ports, and extra bytes
// (TLVs) after them.
func v2Inet4(src, dst [4]byte, sport, dport uint16, extra int) []byte {
	b := append(src[:], dst[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	return append(b, make([]byte, extra)...)
}

func v2Inet6(src, dst [16]byte, sport, dport uint16) []byte {
	b := append(src[:], dst[:]...)
	b = binary.BigEndian.AppendUint16(b, sport)
	return binary.BigEndian.AppendUint16(b, dport)
}

// TestParseProxyHeader checks nginx 1.22's verdicts on PROXY protocol
// headers that arrive whole, and that a header's beginning is waited for
// only while more bytes could complete it.
func TestParseProxyHeader(t *testing.T) {
	const req = "GET / HTTP/1.0\r\n\r\n"
	v6a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	v6b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	mapped := [16]byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1}
	tcp4 := proxyV2(0x21, 0x11, v2Inet4([4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}, 123, 5678, 0))
	for _, tc := range []struct {
		name  string
		in    string
		limit int // 0: 1024
		// want is "src sport dst dport", "none" for a header without
		// addresses, or the error.
		want string
		n    int // the header's length; -1: all of in but req
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n" + req, 0, "192.0.2.1 123 192.0.2.2 5678", -1},
		{"v1 tcp6 kept as written", "PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n" + req, 0, "2001:Db8::1 123 2001:Db8::2 5678", -1},
		{"v1 header alone", "PROXY TCP4 1.2.3.4 5.6.7.8 11 22\r\n", 0, "1.2.3.4 11 5.6.7.8 22", -1},
		{"v1 port 0", "PROXY TCP4 1.2.3.4 5.6.7.8 0 00022\r\n", 0, "1.2.3.4 0 5.6.7.8 22", -1},
		{"v1 address not checked further", "PROXY TCP4 ::ff 5.6.7.8 11 22\r\n", 0, "::ff 11 5.6.7.8 22", -1},
		{"v1 empty address", "PROXY TCP4  5.6.7.8 11 22\r\n", 0, " 11 5.6.7.8 22", -1},
		{"v1 unknown", "PROXY UNKNOWN\r\n" + req, 0, "none", -1},
		{"v1 unknown with addresses", "PROXY UNKNOWN 1 2 3 4 5 6\r\n" + req, 0, "none", -1},
		{"v1 unknown skips to the first CRLF", "PROXY UNKNOWN\nGET / HTTP/1.0\r\n\r\n", 0, "none", 30},
		{"v1 port too large", "PROXY TCP4 1.2.3.4 5.6.7.8 11 99999\r\n" + req, 0, "broken header", 0},
		{"v1 empty port", "PROXY TCP4 1.2.3.4 5.6.7.8  22\r\n", 0, "broken header", 0},
		{"v1 port not a number", "PROXY TCP4 1.2.3.4 5.6.7.8 1a 22\r\n", 0, "broken header", 0},
		{"v1 bad address", "PROXY TCP4 ::zz 5.6.7.8 11 22\r\n", 0, "broken header", 0},
		{"v1 no LF", "PROXY TCP4 1.2.3.4 5.6.7.8 11 22\rX", 0, "broken header", 0},
		{"v1 TCP5", "PROXY TCP5 1.2.3.4", 0, "broken header", 0},
		{"v1 lower case", "proxy TCP4", 0, "broken header", 0},
		{"v1 other word", "PROXY X", 0, "broken header", 0},
		{"a request", req, 0, "broken header", 0},
		{"v1 begun", "PROXY TCP4 1.2.3", 0, "more", 0},
		{"v1 begun at the end of the buffer", "PROXY TCP4 1.2.3", 16, "broken header", 0},
		{"v1 first byte", "P", 0, "more", 0},
		{"v1 word", "PROXY ", 0, "more", 0},
		{"v1 seven bytes", "PROXY T", 0, "more", 0},
		{"v1 unknown begun", "PROXY UNKN", 0, "more", 0},
		{"v1 unknown without CRLF", "PROXY UNKNOWN 1 2", 0, "more", 0},
		{"v1 up to CR", "PROXY TCP4 1.2.3.4 5.6.7.8 11 22\r", 0, "more", 0},
		{"v2 tcp4", tcp4 + req, 0, "192.0.2.1 123 192.0.2.2 5678", -1},
		{"v2 tcp6", proxyV2(0x21, 0x21, v2Inet6(v6a, v6b, 123, 5678)) + req, 0, "2001:db8::1 123 2001:db8::2 5678", -1},
		{"v2 v4-mapped", proxyV2(0x21, 0x21, v2Inet6(mapped, v6b, 1, 2)), 0, "::ffff:192.0.2.1 1 2001:db8::2 2", -1},
		{"v2 with TLVs", proxyV2(0x21, 0x11, v2Inet4([4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}, 123, 5678, 9)) + req, 0, "192.0.2.1 123 192.0.2.2 5678", -1},
		{"v2 local", proxyV2(0x20, 0x11, make([]byte, 12)) + req, 0, "none", -1},
		{"v2 local without addresses", proxyV2(0x20, 0x00, nil) + req, 0, "none", -1},
		{"v2 udp", proxyV2(0x21, 0x12, make([]byte, 12)), 0, "none", -1},
		{"v2 unix", proxyV2(0x21, 0x31, make([]byte, 216)), 0, "none", -1},
		{"v2 unspec", proxyV2(0x21, 0x01, nil), 0, "none", -1},
		{"v2 version 3", proxyV2(0x31, 0x11, make([]byte, 12)), 0, "unknown PROXY protocol version: 3", 0},
		{"v2 version 1", proxyV2(0x11, 0x11, make([]byte, 12)), 0, "unknown PROXY protocol version: 1", 0},
		{"v2 address block short", proxyV2(0x21, 0x11, make([]byte, 4)) + req, 0, errProxyAddrShort.Error(), 0},
		{"v2 ipv6 block short", proxyV2(0x21, 0x21, make([]byte, 12)), 0, errProxyAddrShort.Error(), 0},
		{"v2 signature begun", proxyV2Sig[:5], 0, "more", 0},
		{"v2 signature then more", proxyV2Sig + "\x21", 0, "more", 0},
		{"v2 signature cut at the end", proxyV2Sig[:10], 10, "broken header", 0},
		{"v2 bad signature", "\r\n\r\nX", 0, "broken header", 0},
		{"v2 bad signature, whole", "\r\n\r\n\x00\r\nQUIX\n!\x11\x00\x0c", 0, "broken header", 0},
		{"v2 body begun", tcp4[:20], 0, "more", 0},
		{"v2 body beyond the buffer", proxyV2(0x21, 0x11, make([]byte, 100))[:64], 64, "header is too large", 0},
		{"v2 body cut at the end", tcp4[:20], 20, "header is too large", 0},
	} {
		limit := tc.limit
		if limit == 0 {
			limit = 1024
		}
		h, n, err := parseProxyHeader([]byte(tc.in), limit)
		var got string
		switch {
		case err == errProxyMore:
			got = "more"
		case err != nil:
			got = err.Error()
		case h == nil:
			got = "none"
		default:
			got = string(h.srcAddr) + " " + strconv.Itoa(int(h.srcPort)) + " " + string(h.dstAddr) + " " + strconv.Itoa(int(h.dstPort))
		}
		wantN := tc.n
		if wantN < 0 {
			wantN = len(strings.TrimSuffix(tc.in, req))
		}
		if got != tc.want || n != wantN {
			t.Errorf("%s: got %q n=%d, want %q n=%d", tc.name, got, n, tc.want, wantN)
		}
	}
}

// TestParseProxyHeaderSplit checks that a header is waited for byte by
// byte: every beginning of a valid header asks for more, and the whole
// one is read.
func TestParseProxyHeaderSplit(t *testing.T) {
	for _, hdr := range []string{
		"PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n",
		"PROXY UNKNOWN\r\n",
		proxyV2(0x21, 0x11, v2Inet4([4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}, 123, 5678, 9)),
	} {
		for i := 1; i < len(hdr); i++ {
			if _, _, err := parseProxyHeader([]byte(hdr[:i]), 1024); err != errProxyMore {
				t.Errorf("%q cut at %d: %v, want more", hdr, i, err)
			}
		}
		if _, n, err := parseProxyHeader([]byte(hdr), 1024); err != nil || n != len(hdr) {
			t.Errorf("%q whole: n=%d %v", hdr, n, err)
		}
	}
}

// ppBench starts a bench whose one server listens with proxy_protocol
// and answers with the PROXY protocol variables and the client address.
func ppBench(t *testing.T, extra string) *bench {
	addr := freeAddr(t)
	b := newBench(t, `
    log_format pp "$remote_addr:$remote_port $proxy_protocol_addr:$proxy_protocol_port $proxy_protocol_server_addr:$proxy_protocol_server_port";
    access_log logs/access.log pp;
    client_header_timeout 300ms;
    server {
        listen `+addr+` proxy_protocol;
        set_real_ip_from 127.0.0.1;
        `+extra+`
        location / {
            return 200 "pp=$proxy_protocol_addr!$proxy_protocol_port server=$proxy_protocol_server_addr!$proxy_protocol_server_port client=$remote_addr!$remote_port real=$realip_remote_addr!$realip_remote_port\n";
        }
        # realip with a location's settings runs after the rewrite
        # phase, as in nginx: the address is seen by access and the
        # content handler, not by return.
        location /rip {
            real_ip_header proxy_protocol;
            add_header X-Client "$remote_addr!$remote_port real=$realip_remote_addr";
        }
        location /deny {
            real_ip_header proxy_protocol;
            deny 192.0.2.1;
        }
    }`)
	if err := os.MkdirAll(filepath.Join(b.dir, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "html", "rip"), []byte("rip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProxyProtocolRequests sends PROXY headers before requests, whole,
// split and on their own, and checks the variables, realip and access.
func TestProxyProtocolRequests(t *testing.T) {
	b := ppBench(t, "")
	const v1 = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"
	v2 := proxyV2(0x21, 0x11, v2Inet4([4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}, 123, 5678, 9))
	const v6 = "PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n"
	const plain = "pp=192.0.2.1!123 server=192.0.2.2!5678 client=127.0.0.1!40000 real=127.0.0.1!40000\n"
	for _, tc := range []struct {
		name string
		uri  string
		// sends are the writes before the request's, which follows
		// the last one in the same write.
		sends []string
		want  string
	}{
		{"v1 with the request", "/", []string{v1}, plain},
		{"v1 then the request", "/", []string{v1, ""}, plain},
		{"v1 split", "/", []string{v1[:13], v1[13:30], v1[30:]}, plain},
		{"v2 split", "/", []string{v2[:7], v2[7:20], v2[20:], ""}, plain},
		{"unknown", "/", []string{"PROXY UNKNOWN\r\n"}, "pp=! server=! client=127.0.0.1!40000 real=127.0.0.1!40000\n"},
		{"v2 local", "/", []string{proxyV2(0x20, 0x00, nil)}, "pp=! server=! client=127.0.0.1!40000 real=127.0.0.1!40000\n"},
		{"port 0", "/", []string{"PROXY TCP4 192.0.2.1 192.0.2.2 0 0\r\n"}, "pp=192.0.2.1! server=192.0.2.2! client=127.0.0.1!40000 real=127.0.0.1!40000\n"},
		{"realip v1", "/rip", []string{v1}, "192.0.2.1!123 real=127.0.0.1"},
		{"realip v2", "/rip", []string{v2}, "192.0.2.1!123 real=127.0.0.1"},
		{"realip v6", "/rip", []string{v6}, "2001:db8::1!123 real=127.0.0.1"},
		{"realip without addresses", "/rip", []string{"PROXY UNKNOWN\r\n"}, "127.0.0.1!40000 real=127.0.0.1"},
		{"realip with an address that is none", "/rip", []string{"PROXY TCP4 ::: 1.2.3.4 1 2\r\n"}, "127.0.0.1!40000 real=127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := b.sub(t).connect()
			req := "GET " + tc.uri + " HTTP/1.1\r\nHost: x\r\n\r\n"
			last := len(tc.sends) - 1
			for _, s := range tc.sends[:last] {
				m.send(s)
			}
			// The header is the connection's: the next request on it
			// sees the same.
			for i, send := range []string{tc.sends[last] + req, req} {
				resp, body := m.roundTrip(send)
				if tc.uri == "/rip" {
					body = resp.Header.Get("X-Client")
				}
				if resp.StatusCode != 200 || body != tc.want {
					t.Errorf("request %d: got %d %q, want %q", i+1, resp.StatusCode, body, tc.want)
				}
			}
		})
	}
	m := b.connect()
	if resp, _ := m.roundTrip(v1 + "GET /deny HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 403 {
		t.Errorf("deny of the PROXY header's address: %d, want 403", resp.StatusCode)
	}
	// The access log has the header's client after realip.
	lines := b.accessLines(1)
	if got, want := lines[len(lines)-1], "192.0.2.1:123 192.0.2.1:123 192.0.2.2:5678"; got != want {
		t.Errorf("access log line %q, want %q", got, want)
	}
}

// TestProxyProtocolFailures checks that connections without a valid
// header are closed with nginx's error log lines, and that nothing
// reaches the HTTP/1 connection before the header.
func TestProxyProtocolFailures(t *testing.T) {
	b := ppBench(t, "")
	addr := b.srv.listeners[0].addr
	for _, tc := range []struct {
		name  string
		sends []string
		eof   bool
		level string
		log   string
	}{
		{"a request", []string{"GET / HTTP/1.0\r\n\r\n"}, false, "error",
			"broken header: \"GET / HTTP/1.0\r\n\r\n\" while reading PROXY protocol, client: 127.0.0.1, server: " + addr},
		{"a bad port", []string{"PROXY TCP4 1.2.3.4 5.6.7.8 11 99999\r\nGET"}, false, "error",
			"broken header: \"PROXY TCP4 1.2.3.4 5.6.7.8 11 99999\r\nGET\" while reading PROXY protocol"},
		{"cut by the client's close", []string{"PROXY TCP4 1.2"}, true, "error",
			"broken header: \"PROXY TCP4 1.2\" while reading PROXY protocol"},
		{"v2 version", []string{proxyV2(0x31, 0x11, make([]byte, 12))}, false, "error",
			"unknown PROXY protocol version: 3 while reading PROXY protocol, client: 127.0.0.1, server: " + addr},
		{"v2 too large", []string{proxyV2(0x21, 0x11, make([]byte, 2000))}, false, "error",
			"header is too large while reading PROXY protocol"},
		{"closed before the header", nil, true, "info",
			"client closed connection while reading PROXY protocol, client: 127.0.0.1, server: " + addr},
		{"timed out", []string{"PROXY TCP4 1.2.3.4 "}, false, "info",
			"client timed out (110: Connection timed out) while reading PROXY protocol, client: 127.0.0.1, server: " + addr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := b.sub(t)
			m := sb.connect()
			for _, s := range tc.sends {
				m.send(s)
			}
			if tc.eof {
				m.shutWrite()
			}
			if out := m.waitClosed(); len(out) != 0 {
				t.Errorf("the client got %q", out)
			}
			for _, line := range strings.Split(sb.waitErrorLog(tc.log), "\n") {
				if strings.Contains(line, tc.log) && !strings.Contains(line, "["+tc.level+"]") {
					t.Errorf("logged at another level than %s: %q", tc.level, line)
				}
			}
		})
	}
	// A v2 address block cut short closes without a line, as in nginx.
	m := b.connect()
	m.send(proxyV2(0x21, 0x11, make([]byte, 4)) + "GET / HTTP/1.0\r\n\r\n")
	m.waitClosed()
}

// TestProxyProtocolAbsent checks the variables on a listener without
// proxy_protocol: not found, so that logs write "-", and realip with
// real_ip_header proxy_protocol leaves the connection's address.
func TestProxyProtocolAbsent(t *testing.T) {
	b := newBench(t, `
    log_format pp "$remote_addr $proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port";
    access_log logs/access.log pp;
    server {
        listen 127.0.0.1:0;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 "[$proxy_protocol_addr][$remote_addr]"; }
    }`)
	m := b.connect()
	if _, body := m.roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); body != "[][127.0.0.1]" {
		t.Errorf("got %q", body)
	}
	if got := b.accessLines(1)[0]; got != "127.0.0.1 - - - -" {
		t.Errorf("access log line %q", got)
	}
}

// TestProxyProtocolHeaderTimeout checks that client_header_timeout runs
// from the accept over the header and the first request together.
func TestProxyProtocolHeaderTimeout(t *testing.T) {
	b := ppBench(t, "")
	m := b.connect()
	m.send("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n")
	start := time.Now()
	m.waitClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about client_header_timeout", d)
	}
}

// TestProxyProtocolServerRealIP checks real_ip_header proxy_protocol at
// the server level, applied before the rewrite phase as nginx's
// post-read phase does, and that it takes the header's address only from
// a connection set_real_ip_from trusts: the connection's own address is
// what is checked, not the header's.
func TestProxyProtocolServerRealIP(t *testing.T) {
	trusted, untrusted := freeAddr(t), freeAddr(t)
	b := newBench(t, `
    server {
        listen `+trusted+` proxy_protocol;
        set_real_ip_from 127.0.0.0/8;
        real_ip_header proxy_protocol;
        location / { return 200 "$remote_addr!$remote_port $proxy_protocol_addr"; }
    }
    server {
        listen `+untrusted+` proxy_protocol;
        set_real_ip_from 192.0.2.0/24;
        real_ip_header proxy_protocol;
        location / { return 200 "$remote_addr!$remote_port $proxy_protocol_addr"; }
    }`)
	b.addrs = append(b.addrs, trusted, untrusted)
	const req = "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for i, want := range []string{"192.0.2.1!1 192.0.2.1", "127.0.0.1!40000 192.0.2.1"} {
		if _, body := b.connectTo(i).roundTrip(req); body != want {
			t.Errorf("listener %d: got %q, want %q", i, body, want)
		}
	}
}
