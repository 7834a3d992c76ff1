package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestClosingAnswerCarriesFin checks that an answer after which the
// connection closes reaches the client with its FIN in the same segment:
// the client's kernel counts the segments without data that it received
// (TCP_INFO), and a connection that ends with "Connection: close" must
// count no more of them than one that stays open after the same answer
// (the SYN-ACK and the acknowledgement of the request). A FIN sent on its
// own would be one more. It covers the three ways an answer is written
// (generated, proxied, a file read through the output buffer) and checks
// that a large answer written in many pieces still arrives whole.
func TestClosingAnswerCarriesFin(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		if tg.isHeadroom() {
			t.Run(tg.name, func(t *testing.T) {
				tg.require(t)
				closingAnswerCarriesFin(t, tg)
			})
		}
	}
}

// closingAnswerCarriesFin is TestClosingAnswerCarriesFin's body for one
// target (nginx sends the FIN apart).
func closingAnswerCarriesFin(t *testing.T, tg *target) {
	root, big := staticRoot(t)
	up := newUpstream(t, "up", nil)
	p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        root %s;
        sendfile off;
        location = /gen { return 200 "generated\n"; }
        location /up/ { proxy_pass http://%s; }
        location / { }
    }`, root, up.addr))

	for _, c := range []struct{ name, path, want string }{
		{"return", "/gen", "generated\n"},
		{"proxy_pass", "/up/x", "up GET /up/x\n"},
		{"static file", "/a.txt", "a file\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			open := dialRaw(t, p.addr)
			resp := open.roundTrip("GET " + c.path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp.Status != 200 || string(resp.Body) != c.want {
				t.Fatalf("keep-alive request: got\n%s", resp)
			}
			base := segmentsWithoutData(t, open.c)

			closing := dialRaw(t, p.addr)
			closing.write("GET " + c.path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
			all, err := io.ReadAll(closing.br)
			if err != nil {
				t.Fatalf("reading to the end: %v", err)
			}
			if !bytes.HasSuffix(all, []byte("\r\n\r\n"+c.want)) {
				t.Fatalf("closing request: got %q", all)
			}
			if got := segmentsWithoutData(t, closing.c); got > base {
				t.Errorf("the closing answer came with %d segments without data, the open one with %d: the FIN came alone", got, base)
			}
		})
	}

	t.Run("large file", func(t *testing.T) {
		closing := dialRaw(t, p.addr)
		closing.write("GET /big.bin HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		closing.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		all, err := io.ReadAll(closing.br)
		if err != nil {
			t.Fatalf("reading to the end: %v", err)
		}
		if !bytes.HasSuffix(all, big) || len(all)-len(big) > 1024 {
			t.Fatalf("got %d bytes, want a head and the %d-byte file", len(all), len(big))
		}
	})
}

// segmentsWithoutData returns how many segments without a payload the
// connection's socket has received (SYN-ACK, bare acknowledgements, a FIN
// on its own).
func segmentsWithoutData(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatalf("TCP_INFO: %v", ierr)
	}
	return info.Segs_in - info.Data_segs_in
}
