package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"headroom/internal/h2"
)

// BenchmarkH2IdleMemory reports what an idle HTTP/2 connection keeps, as
// BenchmarkTLSIdleMemory does for HTTP/1.1: over TLS 1.3 (h2) and in
// cleartext (h2c, what HTTP/2 itself keeps). Each client connection opens
// as a browser's does (bench/h2help's settings and one GET), reads the
// answer and stays open and silent.
//
//	go test ./internal/proxy -run '^$' -bench H2IdleMemory -benchtime 1x
//	HEADROOM_TLSMEM_PROFILE=/tmp/heap.pb.gz go test ./internal/proxy -run '^$' -bench 'H2IdleMemory/h2c' -benchtime 1x
func BenchmarkH2IdleMemory(b *testing.B) {
	const n = 2000
	for _, mode := range []struct{ name, params string }{{"h2", "ssl http2"}, {"h2c", "http2"}} {
		b.Run(mode.name, func(b *testing.B) {
			profile := os.Getenv("HEADROOM_TLSMEM_PROFILE")
			if profile != "" {
				runtime.MemProfileRate = 1
				defer func() { runtime.MemProfileRate = 512 * 1024 }()
			}
			addr := tlsMemServer(b, n, mode.params)
			idleMemory(b, addr, n, profile, mode.name)
		})
	}
}

// h2MemRequest connects (over TLS with cfg, in cleartext without), sends
// the preface, a browser's settings and one GET, reads the answer, and
// returns the connection; nil if any of it failed.
func h2MemRequest(addr string, cfg *tls.Config) net.Conn {
	var c net.Conn
	var err error
	if cfg != nil {
		c, err = tls.Dial("tcp", addr, cfg)
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return nil
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := h2MemExchange(c, addr, cfg != nil); err != nil {
		fmt.Fprintln(os.Stderr, "exchange:", err)
		c.Close()
		return nil
	}
	c.SetDeadline(time.Time{})
	return c
}

// h2MemExchange writes the preface, Chrome's settings, a connection
// window update and a GET on stream 1, then reads frames until the
// answer's END_STREAM, acknowledging the server's SETTINGS.
func h2MemExchange(c net.Conn, authority string, secure bool) error {
	var settings []byte
	for _, s := range [][2]uint32{{0x1, 65536}, {0x2, 0}, {0x4, 6291456}, {0x6, 262144}} {
		settings = binary.BigEndian.AppendUint16(settings, uint16(s[0]))
		settings = binary.BigEndian.AppendUint32(settings, s[1])
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "GET"}, {":authority", authority}, {":scheme", scheme}, {":path", "/"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
		{"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"accept-encoding", "gzip, deflate, br, zstd"}, {"accept-language", "en-US,en;q=0.9"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	out := []byte(h2.Preface)
	out = append(out, h2RawFrame(h2.TypeSettings, 0, 0, settings)...)
	out = append(out, h2RawFrame(h2.TypeWindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, 15663105))...)
	out = append(out, h2RawFrame(h2.TypeHeaders, h2.FlagEndStream|h2.FlagEndHeaders, 1, block.Bytes())...)
	if _, err := c.Write(out); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	var head [h2.HeaderLen]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return err
		}
		n := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		typ, flags := h2.Type(head[3]), head[4]
		switch {
		case typ == h2.TypeSettings && flags&h2.FlagAck == 0:
			if _, err := c.Write(h2RawFrame(h2.TypeSettings, h2.FlagAck, 0, nil)); err != nil {
				return err
			}
		case typ == h2.TypeGoAway || typ == h2.TypeRSTStream:
			return fmt.Errorf("frame type %d from the server", typ)
		case (typ == h2.TypeData || typ == h2.TypeHeaders) && flags&h2.FlagEndStream != 0:
			return nil
		}
	}
}
