package integration

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
)

// startDNS answers A queries on 127.0.0.1 UDP: names in addrs with
// their address, others with NXDOMAIN; AAAA queries get no records.
func startDNS(t *testing.T, addrs map[string]net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			var labels []string
			off := 12
			for off < n && q[off] != 0 && off+1+int(q[off]) <= n {
				labels = append(labels, string(q[off+1:off+1+int(q[off])]))
				off += 1 + int(q[off])
			}
			if off+5 > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[off+1:])
			question := q[12 : off+5]
			ip, known := addrs[strings.ToLower(strings.Join(labels, "."))]
			resp := append([]byte(nil), q[:2]...)
			flags := uint16(0x8180) // response, recursion desired and available
			if !known {
				flags |= 3 // NXDOMAIN
			}
			answers := uint16(0)
			if known && qtype == 1 {
				answers = 1
			}
			resp = binary.BigEndian.AppendUint16(resp, flags)
			resp = binary.BigEndian.AppendUint16(resp, 1)
			resp = binary.BigEndian.AppendUint16(resp, answers)
			resp = append(resp, 0, 0, 0, 0)
			resp = append(resp, question...)
			if answers == 1 {
				// A pointer to the question's name, type A, class IN,
				// TTL 60, four bytes of address.
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, ip.To4()...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return pc.LocalAddr().String()
}

// TestResolver checks resolver against nginx: a proxy_pass with
// variables naming a host is resolved by the configured server and
// proxied there, and a name the server does not know is answered 502
// with nginx's line.
func TestResolver(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "resolved", func(c *upConn, r *upRequest) { c.respond(200, "resolved "+r.Target) })
		_, port, _ := net.SplitHostPort(up.addr)
		dns := startDNS(t, map[string]net.IP{"app.test": net.ParseIP("127.0.0.1")})
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        resolver %s;
        resolver_timeout 5s;
        location /app/ { set $h app.test; proxy_pass http://$h:%s; }
        location /nx/ { set $h nx.test; proxy_pass http://$h:%s; }
    }`, dns, port, port))
		if st, _, body := get(t, p.url("/app/x")); st != 200 || body != "resolved /app/x" {
			t.Errorf("/app/x: %d %q, want 200 from the resolved upstream", st, body)
		}
		if st, _, _ := get(t, p.url("/nx/x")); st != 502 {
			t.Errorf("/nx/x: %d, want 502", st)
		}
		p.stop()
		if log := p.readLog("error.log"); !strings.Contains(log, "nx.test could not be resolved (3: Host not found)") {
			t.Errorf("error.log lacks the resolver's line:\n%s", log)
		}
	})
}
