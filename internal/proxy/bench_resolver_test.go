package proxy

import (
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeDNS is a DNS server on loopback UDP for the resolver's tests: it
// answers A queries from a table of names (a CNAME target, addresses or
// a response code) and AAAA queries with no records, and counts the
// queries per name.
type fakeDNS struct {
	conn    net.PacketConn
	mu      sync.Mutex
	queries map[string]int
}

// dnsEntry is how fakeDNS answers a name: rcode, a CNAME, addresses, or
// silence.
type dnsEntry struct {
	rcode  int
	cname  string
	addrs  []net.IP
	silent bool
}

func startFakeDNS(t *testing.T, names map[string]dnsEntry) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{conn: pc, queries: map[string]int{}}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			// The question: labels from offset 12, then type and class.
			var labels []string
			off := 12
			for off < n && q[off] != 0 {
				l := int(q[off])
				labels = append(labels, string(q[off+1:off+1+l]))
				off += 1 + l
			}
			qtype := binary.BigEndian.Uint16(q[off+1:])
			qend := off + 5
			name := strings.Join(labels, ".")
			f.mu.Lock()
			f.queries[name]++
			f.mu.Unlock()
			e := names[name]
			if e.silent {
				continue
			}
			resp := append([]byte{}, q[:qend]...)
			resp[2], resp[3] = 0x81, 0x80|byte(e.rcode)
			var an int
			rr := func(typ uint16, rdata []byte) {
				resp = append(resp, 0xc0, 12)
				resp = binary.BigEndian.AppendUint16(resp, typ)
				resp = append(resp, 0, 1, 0, 0, 0x0e, 0x10)
				resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
				resp = append(resp, rdata...)
				an++
			}
			if e.cname != "" {
				var target []byte
				for _, l := range strings.Split(e.cname, ".") {
					target = append(append(target, byte(len(l))), l...)
				}
				rr(5, append(target, 0))
			} else if qtype == 1 {
				for _, a := range e.addrs {
					rr(1, a.To4())
				}
			}
			binary.BigEndian.PutUint16(resp[6:], uint16(an))
			pc.WriteTo(resp, from)
		}
	}()
	return f
}

func (f *fakeDNS) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries[name]
}

func TestResolverProxyPass(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("upstream " + r.Host)) })
	_, port, _ := net.SplitHostPort(up)
	lo := net.ParseIP("127.0.0.1")
	dns := startFakeDNS(t, map[string]dnsEntry{
		"app.test":   {addrs: []net.IP{lo}},
		"alias.test": {cname: "app.test"},
		"nx.test":    {rcode: 3},
		"fail.test":  {rcode: 2},
		"slow.test":  {silent: true},
		"empty.test": {},
	})
	b := newBench(t, `
server {
    listen 127.0.0.1:0;
    location / {
        resolver `+dns.conn.LocalAddr().String()+` valid=1h;
        resolver_timeout 300ms;
        proxy_pass http://$http_x_name:`+port+`;
    }
    location /none/ {
        proxy_pass http://$http_x_name:`+port+`;
    }
}`)
	tests := []struct {
		name, path string
		status     int
		body, log  string
	}{
		{"app.test", "/", 200, "upstream app.test:" + port, ""},
		{"APP.test", "/", 200, "upstream APP.test:" + port, ""},
		{"alias.test", "/", 200, "upstream alias.test:" + port, ""},
		{"nx.test", "/", 502, "", "nx.test could not be resolved (3: Host not found)"},
		{"fail.test", "/", 502, "", "fail.test could not be resolved (2: Server failure)"},
		{"empty.test", "/", 502, "", "empty.test could not be resolved (3: Host not found)"},
		{"slow.test", "/", 502, "", "slow.test could not be resolved (110: Operation timed out)"},
		{"app.test", "/none/", 502, "", "no resolver defined to resolve app.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name+tc.path, func(t *testing.T) {
			c := b.connect()
			resp, body := c.roundTrip("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\nX-Name: " + tc.name + "\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != tc.status || tc.body != "" && body != tc.body {
				t.Fatalf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.log != "" {
				b.waitErrorLog(tc.log)
			}
		})
	}
	// The answers were cached: the names were asked for once, whatever
	// their case and however many requests wanted them.
	if n := dns.count("app.test"); n != 2 {
		t.Errorf("app.test asked %d times, want 2 (A and AAAA once)", n)
	}
	// Errors are not cached.
	c := b.connect()
	c.roundTrip("GET / HTTP/1.1\r\nHost: x\r\nX-Name: nx.test\r\nConnection: close\r\n\r\n")
	if n := dns.count("nx.test"); n != 4 {
		t.Errorf("nx.test asked %d times, want 4", n)
	}
}

// TestResolverSharedQueryAndClientClose checks that requests waiting for
// the same name share one query, and that a client that leaves while
// its request waits ends the wait without harm to the others.
func TestResolverSharedQueryAndClientClose(t *testing.T) {
	dns := startFakeDNS(t, map[string]dnsEntry{"slow.test": {silent: true}})
	b := newBench(t, `
server {
    listen 127.0.0.1:0;
    location / {
        resolver `+dns.conn.LocalAddr().String()+` ipv6=off;
        resolver_timeout 400ms;
        proxy_pass http://$http_x_name:1;
    }
}`)
	req := "GET / HTTP/1.1\r\nHost: x\r\nX-Name: slow.test\r\n\r\n"
	first, second := b.connect(), b.connect()
	first.send(req)
	second.send(req)
	b.eventually("the query", func() bool { return dns.count("slow.test") == 1 })
	first.shutWrite()
	resp := second.response("GET")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if n := dns.count("slow.test"); n != 1 {
		t.Errorf("slow.test asked %d times, want 1 (ipv6=off, one shared query)", n)
	}
	first.waitEnded()
}
