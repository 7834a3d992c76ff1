package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"headroom/internal/conf"
	"headroom/internal/h2"
	"headroom/internal/logs"
)

// newFuzzBench is newBench for a fuzz target: one server for all the
// target's inputs, whose helpers report to each input's test through
// sub. Its server listens with http2 and has the given directives.
func newFuzzBench(f *testing.F, server string) *bench {
	f.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := f.TempDir()
	b := &bench{dir: dir, logPath: filepath.Join(dir, "error.log")}
	if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
		f.Fatal(err)
	}
	src := "events { worker_connections 64; }\nhttp {\nserver { listen " + addr + " http2; " + server + " }\n}\n"
	cfg, err := conf.Load(conf.LoadOptions{File: "bench.conf", Source: []byte(src), Prefix: dir})
	if err != nil {
		f.Fatalf("configuration: %v", err)
	}
	el := logs.NewErrorLog()
	if err := el.Open([]logs.Target{{Path: b.logPath, Level: logs.Info}}); err != nil {
		f.Fatal(err)
	}
	srv, err := New(cfg, Options{Workers: 1, Slots: 64, AllowedSlots: 64, Nofile: 1024, ErrorLog: el, Version: "test"})
	if err != nil {
		f.Fatalf("server: %v", err)
	}
	b.srv = srv
	b.w = srv.workers[0]
	srv.Run()
	f.Cleanup(srv.Stop)
	return b
}

// fuzzSeeds are frame sequences a client sends after the preface: valid
// ones, from which the fuzzer's changes start.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	frame := h2RawFrame
	settings := func(kv ...uint32) []byte {
		var p []byte
		for i := 0; i+1 < len(kv); i += 2 {
			p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
			p = binary.BigEndian.AppendUint32(p, kv[i+1])
		}
		return frame(h2.TypeSettings, 0, 0, p)
	}
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	// block encodes fields with an encoder whose table lives as long
	// as the seed's connection would.
	var encBuf bytes.Buffer
	enc := hpack.NewEncoder(&encBuf)
	block := func(fields ...string) []byte {
		encBuf.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return bytes.Clone(encBuf.Bytes())
	}
	req := func(method, path string, more ...string) []byte {
		return block(append([]string{":method", method, ":scheme", "http", ":path", path, ":authority", "localhost"}, more...)...)
	}
	join := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

	seeds = append(seeds, join(settings(),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 1, req("GET", "/"))))

	enc = hpack.NewEncoder(&encBuf)
	seeds = append(seeds, join(settings(h2.SettingInitialWindowSize, 1000, h2.SettingMaxFrameSize, 20000),
		frame(h2.TypeHeaders, h2.FlagEndHeaders, 1, req("POST", "/up/3000", "content-length", "10")),
		frame(h2.TypeData, 0, 1, []byte("01234")),
		frame(h2.TypeData, h2.FlagEndStream, 1, []byte("56789")),
		frame(h2.TypeWindowUpdate, 0, 1, u32(5000)),
		frame(h2.TypeWindowUpdate, 0, 0, u32(5000))))

	enc = hpack.NewEncoder(&encBuf)
	b := req("GET", "/up/100", "cookie", "a=1", "cookie", "b=2", "accept", "*/*")
	seeds = append(seeds, join(settings(h2.SettingHeaderTableSize, 0),
		frame(h2.TypePing, 0, 0, []byte("12345678")),
		frame(h2.TypeHeaders, 0, 1, b[:4]),
		frame(h2.TypeContinuation, h2.FlagEndHeaders, 1, b[4:]),
		frame(h2.TypePriority, 0, 1, []byte{0, 0, 0, 0, 16}),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 3, req("HEAD", "/")),
		frame(h2.TypeRSTStream, 0, 1, u32(uint32(h2.Cancel))),
		frame(h2.TypeGoAway, 0, 0, append(u32(0), u32(0)...))))

	enc = hpack.NewEncoder(&encBuf)
	p := append([]byte{2, 0, 0, 0, 0, 255}, req("POST", "/up/20000")...)
	p = append(p, 0, 0)
	seeds = append(seeds, join(settings(h2.SettingInitialWindowSize, 100),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagPadded|h2.FlagPriority, 1, p),
		frame(h2.TypeData, h2.FlagPadded, 1, []byte("\x01abc\x00")),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 1, block("x-trailer", "1")),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 3, req("GET", "/up/50")),
		settings(h2.SettingInitialWindowSize, 70000),
		frame(h2.TypeWindowUpdate, 0, 0, u32(100000))))

	// Frames larger than the read buffer: DATA within the stream's
	// window and a frame of an unknown type, which are taken.
	enc = hpack.NewEncoder(&encBuf)
	seeds = append(seeds, join(settings(),
		frame(h2.TypeHeaders, h2.FlagEndHeaders, 1, req("POST", "/up/100", "content-length", "33001")),
		frame(h2.TypeData, 0, 1, make([]byte, 33000)),
		frame(0x20, 0, 1, make([]byte, 33000)),
		frame(h2.TypeData, h2.FlagEndStream, 1, []byte("x")),
		frame(h2.TypeHeaders, h2.FlagEndHeaders|h2.FlagEndStream, 3, req("GET", "/"))))

	enc = hpack.NewEncoder(&encBuf)
	var many []byte
	for id := uint32(1); id < 40; id += 2 {
		many = append(many, frame(h2.TypeHeaders, h2.FlagEndHeaders, id, req("POST", "/"))...)
		many = append(many, frame(h2.TypeRSTStream, 0, id, u32(uint32(h2.Cancel)))...)
	}
	seeds = append(seeds, join(settings(), many))
	return seeds
}

// FuzzH2Conn feeds an HTTP/2 connection the preface and any bytes, in
// two pieces split where the input says, then closes the client's side.
// Whatever the bytes, the server must not panic, its loop must go on
// running, what it wrote must be whole frames starting with its SETTINGS,
// with header blocks that decode and nothing after a GOAWAY that reports
// an error, and after the client's close it must close the connection
// and free every slot the connection's streams held.
func FuzzH2Conn(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(s, uint16(len(s)/2+i))
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		var n int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/up/"), &n)
		w.Write([]byte(patternBody(min(max(n, 0), 100000))))
	}))
	f.Cleanup(up.Close)
	fb := newFuzzBench(f, `http2_max_concurrent_streams 8; http2_chunk_size 4k;
		location / { return 200 "ok"; }
		location /up/ { proxy_pass http://`+strings.TrimPrefix(up.URL, "http://")+`; }`)

	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		b := fb.sub(t)
		var left string
		fuzzDo(t, b, func() { left = describeClients(b) })
		if left != "" {
			// An earlier input left slots in use, and failed for it;
			// this one cannot be judged.
			t.Skipf("client slots in use before the input:\n%s", left)
		}
		cut := int(split) % (len(data) + 1)
		c := &h2Client{t: t, m: b.connect()}
		for _, p := range [][]byte{append([]byte(h2.Preface), data[:cut]...), data[cut:]} {
			fuzzDo(t, b, func() {
				m := c.m
				m.mt.in = append(m.mt.in, p...)
				if c.live() {
					m.c.OnRead(m.c)
				}
				if c.live() {
					m.c.OnWrite(m.c)
				}
			})
		}
		// Let the streams in progress answer, for a while: some wait
		// for a window that never opens.
		deadline := time.Now().Add(100 * time.Millisecond)
		for busy := true; busy && time.Now().Before(deadline); {
			fuzzDo(t, b, func() {
				hc, ok := c.m.c.Data.(*h2Conn)
				busy = c.live() && ok && len(hc.streams) > hc.discarding
			})
			if busy {
				time.Sleep(time.Millisecond)
			}
		}
		fuzzDo(t, b, func() {
			m := c.m
			m.mt.eof = true
			if c.live() {
				m.c.OnRead(m.c)
			}
		})
		// The fuzzing engine takes an input that runs for 10 s for a
		// hang; the waits here end sooner, with what they waited for.
		var out []byte
		fuzzWait(t, b, "the server to close the connection after the client's close", func() bool {
			out = bytes.Clone(c.m.mt.out)
			return !c.live()
		})
		checkH2Output(t, out)
		deadline = time.Now().Add(3 * time.Second)
		for {
			fuzzDo(t, b, func() { left = describeClients(b) })
			if left == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("3 s after the connection closed, client slots are still in use:\n%s", left)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// fuzzDo runs fn on the worker's loop and waits for it, for at most 3 s.
func fuzzDo(t *testing.T, b *bench, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if !b.w.loop.Post(func() { fn(); close(done) }) {
		t.Fatal("the worker's loop has ended")
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the worker's loop did not run posted work within 3 s")
	}
}

// fuzzWait polls cond on the worker's loop until it holds, for at most
// 3 s.
func fuzzWait(t *testing.T, b *bench, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var ok bool
		fuzzDo(t, b, func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 3 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkH2Output checks that what the server wrote on a closed HTTP/2
// connection is whole frames: its SETTINGS first, header blocks that
// decode, each ended before another frame starts, stream frames on
// streams, and nothing after a GOAWAY with an error code.
func checkH2Output(t *testing.T, out []byte) {
	t.Helper()
	dec := hpack.NewDecoder(4096, nil)
	var block []byte
	inBlock := false
	first := true
	errorGoAway := false
	for len(out) > 0 {
		if len(out) < 9 {
			t.Fatalf("the server's output ends in a partial frame header % x", out)
		}
		n := int(out[0])<<16 | int(out[1])<<8 | int(out[2])
		if len(out) < 9+n {
			t.Fatalf("the server's output ends in a partial frame: header % x, %d payload bytes of %d", out[:9], len(out)-9, n)
		}
		f := h2Frame{typ: h2.Type(out[3]), flags: out[4], stream: binary.BigEndian.Uint32(out[5:9]) & 0x7fffffff, payload: out[9 : 9+n]}
		out = out[9+n:]
		if errorGoAway {
			t.Fatalf("the server sent %v after a GOAWAY with an error", f)
		}
		if first && (f.typ != h2.TypeSettings || f.has(h2.FlagAck)) {
			t.Fatalf("the server's first frame is %v, not its SETTINGS", f)
		}
		first = false
		if inBlock && f.typ != h2.TypeContinuation {
			t.Fatalf("the server sent %v inside a header block", f)
		}
		switch f.typ {
		case h2.TypeHeaders, h2.TypeContinuation:
			if f.typ == h2.TypeContinuation && !inBlock {
				t.Fatalf("the server sent CONTINUATION without HEADERS")
			}
			if f.typ == h2.TypeHeaders {
				block = block[:0]
			}
			block = append(block, f.payload...)
			inBlock = !f.has(h2.FlagEndHeaders)
			if !inBlock {
				if _, err := dec.DecodeFull(block); err != nil {
					t.Fatalf("the server sent a header block that does not decode: %v", err)
				}
			}
		case h2.TypeGoAway:
			if len(f.payload) != 8 || f.stream != 0 {
				t.Fatalf("malformed GOAWAY %v", f)
			}
			errorGoAway = binary.BigEndian.Uint32(f.payload[4:]) != 0
		case h2.TypeRSTStream, h2.TypeWindowUpdate:
			if len(f.payload) != 4 {
				t.Fatalf("malformed %v", f)
			}
		case h2.TypePing:
			if len(f.payload) != 8 || !f.has(h2.FlagAck) || f.stream != 0 {
				t.Fatalf("the server sent %v, not a PING ack", f)
			}
		case h2.TypeSettings:
			if f.stream != 0 || len(f.payload)%6 != 0 || f.has(h2.FlagAck) && len(f.payload) != 0 {
				t.Fatalf("malformed %v", f)
			}
		case h2.TypeData:
		default:
			t.Fatalf("the server sent a frame of type %d", f.typ)
		}
		switch f.typ {
		case h2.TypeHeaders, h2.TypeData, h2.TypeRSTStream, h2.TypeContinuation:
			if f.stream == 0 {
				t.Fatalf("the server sent %v on stream 0", f)
			}
		}
	}
	if inBlock {
		t.Fatalf("the server's output ends inside a header block")
	}
}
