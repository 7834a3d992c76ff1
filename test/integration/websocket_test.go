package integration

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// WebSocket opcodes.
const (
	wsText   = 1
	wsBinary = 2
	wsClose  = 8
)

// wsWriteFrame writes one unfragmented frame; clients mask.
func wsWriteFrame(w io.Writer, opcode byte, payload []byte, mask bool) error {
	var hdr bytes.Buffer
	hdr.WriteByte(0x80 | opcode)
	var m byte
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		hdr.WriteByte(m | byte(n))
	case n <= 0xffff:
		hdr.WriteByte(m | 126)
		binary.Write(&hdr, binary.BigEndian, uint16(n))
	default:
		hdr.WriteByte(m | 127)
		binary.Write(&hdr, binary.BigEndian, uint64(n))
	}
	data := payload
	if mask {
		key := []byte{0x12, 0x34, 0x56, 0x78}
		hdr.Write(key)
		data = make([]byte, len(payload))
		for i := range payload {
			data[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr.Bytes(), data...))
	return err
}

// wsReadFrame reads one frame and unmasks it.
func wsReadFrame(r *bufio.Reader) (opcode byte, payload []byte, masked bool, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	opcode = h[0] & 0x0f
	masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l uint16
		err = binary.Read(r, binary.BigEndian, &l)
		n = uint64(l)
	case 127:
		err = binary.Read(r, binary.BigEndian, &n)
	}
	if err != nil {
		return
	}
	if n > 1<<24 {
		return 0, nil, false, errors.New("frame too large")
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return
}

// wsEchoHandler completes the WebSocket handshake and echoes data frames.
// A close frame is answered with a close frame and the connection closed;
// a text frame "close-me" makes the server close first. ended receives the
// reason the connection ended.
func wsEchoHandler(ended chan<- string) upHandler {
	return func(c *upConn, r *upRequest) {
		key := r.Headers.get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Headers.get("Upgrade"), "websocket") || key == "" {
			c.respond(400, "not a websocket handshake")
			return
		}
		c.hijack()
		defer c.Close()
		c.writeString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + wsAccept(key) + "\r\n\r\n")
		for {
			c.SetDeadline(time.Now().Add(20 * time.Second))
			op, data, masked, err := wsReadFrame(c.br)
			if err != nil {
				ended <- "read: " + err.Error()
				return
			}
			if !masked {
				ended <- "unmasked client frame"
				return
			}
			switch {
			case op == wsClose:
				wsWriteFrame(c, wsClose, data, false)
				ended <- "client close"
				return
			case string(data) == "close-me":
				wsWriteFrame(c, wsClose, []byte{0x03, 0xe9}, false)
				ended <- "server close"
				return
			default:
				wsWriteFrame(c, op, data, false)
			}
		}
	}
}

// TestWebSocket proxies a WebSocket connection with nginx's usual recipe
// and checks the handshake, data in both directions and closing from either
// side.
func TestWebSocket(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		ended := make(chan string, 10)
		up := newUpstream(t, "ws", wsEchoHandler(ended))
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /ws {
            proxy_pass http://%s;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location / { proxy_pass http://%s; }
    }`, up.addr, up.addr))

		const key = "dGhlIHNhbXBsZSBub25jZQ=="
		handshake := "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
		open := func(t *testing.T) *rawConn {
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip(handshake)
			if resp.StatusLine != "HTTP/1.1 101 Switching Protocols" {
				t.Fatalf("handshake: got\n%s", resp)
			}
			if !strings.EqualFold(resp.header("Upgrade"), "websocket") || !strings.EqualFold(resp.header("Connection"), "upgrade") {
				t.Errorf("101 headers:\n%s", resp.Headers)
			}
			if got := resp.header("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
				t.Errorf("Sec-WebSocket-Accept %q", got)
			}
			return rc
		}
		waitEnded := func(t *testing.T, want string) {
			t.Helper()
			select {
			case got := <-ended:
				if !strings.HasPrefix(got, want) {
					t.Errorf("upstream connection ended with %q, want %q", got, want)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("upstream connection did not end (want %q)", want)
			}
		}

		t.Run("echo and client close", func(t *testing.T) {
			rc := open(t)
			ur := up.lastRequest()
			if ur.Line != "GET /ws HTTP/1.1" || !strings.EqualFold(ur.Headers.get("Upgrade"), "websocket") ||
				ur.Headers.get("Connection") != "upgrade" || ur.Headers.get("Sec-WebSocket-Key") != key {
				t.Errorf("upstream handshake:\n%s", ur)
			}
			big := payload(70000, 9)
			for _, msg := range []struct {
				op   byte
				data []byte
			}{{wsText, []byte("hello")}, {wsBinary, big}, {wsText, []byte(strings.Repeat("m", 300))}} {
				if err := wsWriteFrame(rc.c, msg.op, msg.data, true); err != nil {
					t.Fatal(err)
				}
				op, data, _, err := wsReadFrame(rc.br)
				if err != nil || op != msg.op || !bytes.Equal(data, msg.data) {
					t.Fatalf("echo of %d bytes: op %d, %d bytes, err %v", len(msg.data), op, len(data), err)
				}
			}
			wsWriteFrame(rc.c, wsClose, []byte{0x03, 0xe8}, true)
			op, data, _, err := wsReadFrame(rc.br)
			if err != nil || op != wsClose || !bytes.Equal(data, []byte{0x03, 0xe8}) {
				t.Errorf("close reply: op %d %x %v", op, data, err)
			}
			rc.expectClosed(3 * time.Second)
			waitEnded(t, "client close")
		})

		t.Run("server close", func(t *testing.T) {
			rc := open(t)
			wsWriteFrame(rc.c, wsText, []byte("close-me"), true)
			op, data, _, err := wsReadFrame(rc.br)
			if err != nil || op != wsClose || !bytes.Equal(data, []byte{0x03, 0xe9}) {
				t.Errorf("server close frame: op %d %x %v", op, data, err)
			}
			rc.expectClosed(3 * time.Second)
			waitEnded(t, "server close")
		})

		t.Run("client disconnects", func(t *testing.T) {
			rc := open(t)
			wsWriteFrame(rc.c, wsText, []byte("x"), true)
			if _, _, _, err := wsReadFrame(rc.br); err != nil {
				t.Fatal(err)
			}
			rc.c.Close()
			waitEnded(t, "read: ")
		})

		t.Run("no upgrade configured", func(t *testing.T) {
			// Without the recipe Upgrade is not forwarded and the
			// upstream answers the plain request.
			rc := dialRaw(t, p.addr)
			resp := rc.roundTrip(strings.Replace(handshake, "/ws", "/plain", 1))
			if resp.Status != 400 || string(resp.Body) != "not a websocket handshake" {
				t.Errorf("got\n%s", resp)
			}
		})
	})
}
