package integration

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ppV2 builds a PROXY protocol v2 header: the signature, version and
// command, family and transport, and the body (addresses, TLVs).
func ppV2(verCmd, famTrans byte, body []byte) string {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, verCmd, famTrans)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return string(append(b, body...))
}

// ppV2Inet4 is a v2 body for 192.0.2.1:123 → 192.0.2.2:5678, with tlv
// bytes of TLVs after the addresses.
func ppV2Inet4(tlv int) []byte {
	b := []byte{192, 0, 2, 1, 192, 0, 2, 2, 0, 123, 0x16, 0x2e}
	for i := 0; i < tlv; i++ {
		b = append(b, 0)
	}
	return b
}

// TestProxyProtocol sends PROXY protocol v1 and v2 headers to a listener
// with proxy_protocol, checks the $proxy_protocol_* variables, realip with
// real_ip_header proxy_protocol, access by the header's address and the
// access log, and that a bad header closes the connection with nginx's
// error log line.
func TestProxyProtocol(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    log_format pp "$remote_addr:$remote_port $proxy_protocol_addr:$proxy_protocol_port $realip_remote_addr";
    server {
        listen 127.0.0.1:{{PORT}} proxy_protocol;
        set_real_ip_from 127.0.0.1;
        location / {
            return 200 "[$proxy_protocol_addr] [$proxy_protocol_port] [$proxy_protocol_server_addr] [$proxy_protocol_server_port] [$remote_addr]\n";
        }
        location /rip {
            real_ip_header proxy_protocol;
            add_header X-IP "$remote_addr!$remote_port";
            access_log {{PREFIX}}/logs/pp.log pp;
        }
        location /deny {
            real_ip_header proxy_protocol;
            deny 192.0.2.1;
        }
    }
    server {
        listen 127.0.0.1:{{PORT1}};
        location / { return 200 "[$proxy_protocol_addr] [$proxy_protocol_port]\n"; }
    }`)
		writeHTML(t, p, "rip", "rip\n")
		const (
			v1   = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"
			v6   = "PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n"
			want = "[192.0.2.1] [123] [192.0.2.2] [5678] [127.0.0.1]\n"
			none = "[] [] [] [] [127.0.0.1]\n"
		)
		req := func(uri string) string { return "GET " + uri + " HTTP/1.1\r\nHost: x\r\n\r\n" }
		for _, c := range []struct {
			name   string
			writes []string // the request follows the last
			uri    string
			status int
			body   string
			xip    string
		}{
			{"v1", []string{v1}, "/", 200, want, ""},
			{"v1 then the request", []string{v1, ""}, "/", 200, want, ""},
			{"v1 tcp6", []string{v6}, "/", 200, "[2001:Db8::1] [123] [2001:Db8::2] [5678] [127.0.0.1]\n", ""},
			{"v1 unknown", []string{"PROXY UNKNOWN\r\n"}, "/", 200, none, ""},
			{"v2", []string{ppV2(0x21, 0x11, ppV2Inet4(0))}, "/", 200, want, ""},
			{"v2 with TLVs", []string{ppV2(0x21, 0x11, ppV2Inet4(9))}, "/", 200, want, ""},
			{"v2 then the request", []string{ppV2(0x21, 0x11, ppV2Inet4(0)), ""}, "/", 200, want, ""},
			{"v2 local", []string{ppV2(0x20, 0x00, nil)}, "/", 200, none, ""},
			{"v2 unix family", []string{ppV2(0x21, 0x31, make([]byte, 216))}, "/", 200, none, ""},
			{"realip v1", []string{v1}, "/rip", 200, "rip\n", "192.0.2.1!123"},
			{"realip v2", []string{ppV2(0x21, 0x11, ppV2Inet4(0))}, "/rip", 200, "rip\n", "192.0.2.1!123"},
			{"realip v6", []string{v6}, "/rip", 200, "rip\n", "2001:db8::1!123"},
			{"realip unknown", []string{"PROXY UNKNOWN\r\n"}, "/rip", 200, "rip\n", "127.0.0.1!"},
			{"deny by the header's address", []string{v1}, "/deny", 403, "", ""},
		} {
			rc := dialRaw(t, p.addr)
			for i, w := range c.writes {
				if i == len(c.writes)-1 {
					w += req(c.uri)
				}
				rc.write(w)
				if i < len(c.writes)-1 {
					time.Sleep(30 * time.Millisecond)
				}
			}
			r := rc.read("GET")
			if r.Status != c.status || c.body != "" && string(r.Body) != c.body {
				t.Errorf("%s: %d %q, want %d %q", c.name, r.Status, r.Body, c.status, c.body)
			}
			if got := r.header("X-IP"); c.xip != "" && !strings.HasPrefix(got, c.xip) {
				t.Errorf("%s: X-IP %q, want %q", c.name, got, c.xip)
			}
			// The header is the connection's: a second request sees it.
			if c.uri == "/" {
				if r := rc.roundTrip(req("/")); string(r.Body) != c.body {
					t.Errorf("%s: second request %q, want %q", c.name, r.Body, c.body)
				}
			}
		}

		// A listener without proxy_protocol has no PROXY addresses.
		if r := sendRaw(t, fmt.Sprintf("127.0.0.1:%d", p.ports[1]), req("/")); string(r.Body) != "[] []\n" {
			t.Errorf("plain listener: %q", r.Body)
		}

		// Bad headers close the connection with nginx's lines.
		server := ", client: 127.0.0.1, server: " + p.addr
		for _, c := range []struct {
			name, send, line string
		}{
			{"a request", "GET / HTTP/1.0\r\n\r\n",
				"[error] %s broken header: \"GET / HTTP/1.0\r\n\r\n\" while reading PROXY protocol" + server},
			{"v1 port too large", "PROXY TCP4 192.0.2.1 192.0.2.2 123 99999\r\n",
				"[error] %s broken header: \"PROXY TCP4 192.0.2.1 192.0.2.2 123 99999\r\n\" while reading PROXY protocol" + server},
			{"v2 version 3", ppV2(0x31, 0x11, ppV2Inet4(0)),
				"[error] %s unknown PROXY protocol version: 3 while reading PROXY protocol" + server},
		} {
			rc := dialRaw(t, p.addr)
			rc.write(c.send)
			rc.expectClosed(3 * time.Second)
			wantLogLine(t, p, c.name, c.line)
		}

		// A header split across the client's writes: headroom waits for
		// the rest of it; nginx 1.22 judges what its first read got.
		rc := dialRaw(t, p.addr)
		rc.write(v1[:17])
		time.Sleep(100 * time.Millisecond)
		rc.write(v1[17:] + req("/"))
		if tg.isNginx() {
			rc.expectClosed(3 * time.Second)
			wantLogLine(t, p, "split", "[error] %s broken header: \"PROXY TCP4 192.0.\" while reading PROXY protocol"+server)
		} else if r := rc.read("GET"); string(r.Body) != want {
			t.Errorf("split v1: %q, want %q", r.Body, want)
		}
		v2 := ppV2(0x21, 0x11, ppV2Inet4(9))
		rc = dialRaw(t, p.addr)
		rc.write(v2[:20])
		time.Sleep(100 * time.Millisecond)
		rc.write(v2[20:] + req("/"))
		if tg.isNginx() {
			rc.expectClosed(3 * time.Second)
			wantLogLine(t, p, "split v2", "[error] %s header is too large while reading PROXY protocol"+server)
		} else if r := rc.read("GET"); string(r.Body) != want {
			t.Errorf("split v2: %q, want %q", r.Body, want)
		}

		p.stop()
		if got, wantLog := p.readLog("pp.log"), "192.0.2.1:123 192.0.2.1:123 127.0.0.1\n"; !strings.HasPrefix(got, wantLog) {
			t.Errorf("pp.log starts %q, want %q", got, wantLog)
		}
	})
}

// wantLogLine checks that error.log has a line of the given form, where
// %s stands for what differs between nginx and headroom ("pid#tid:" and
// nginx's "*N" connection number).
func wantLogLine(t *testing.T, p *proxy, name, form string) {
	t.Helper()
	level, msg, _ := strings.Cut(form, " %s ")
	deadline := time.Now().Add(3 * time.Second)
	for {
		log := p.readLog("error.log")
		if i := strings.Index(log, msg); i >= 0 {
			start := strings.LastIndexByte(log[:i], '\n') + 1
			if !strings.Contains(log[start:i], level+" ") {
				t.Errorf("%s: %q logged at another level than %s: %q", name, msg, level, log[start:i])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: error.log has no line %q", name, msg)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
