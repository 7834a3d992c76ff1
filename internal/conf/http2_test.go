package conf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// nginxBin is the nginx binary the HTTP/2 messages are compared with
// when it is installed and is version 1.22.
const nginxBin = "/usr/sbin/nginx"

// nginxLogLine matches one message of "nginx -t": the level and the text
// after the log prefix, with or without a timestamp.
var nginxLogLine = regexp.MustCompile(`\[(warn|emerg)\] (?:\d+#\d+: )?(.*)$`)

// TestHTTP2Messages checks the errors and warnings of the HTTP/2
// directives and of "listen ... http2" against the texts nginx 1.22
// prints for the same configuration, located the same way. When nginx is
// installed, it is also run on each configuration (nginx -t) and its
// messages must be these, except where headroom refuses what nginx
// accepts (server push), which the case marks.
func TestHTTP2Messages(t *testing.T) {
	tests := []struct {
		name string
		// http is the body of the http block, which starts on line 3.
		http string
		// err is the error without its location (line 4 unless
		// line says otherwise); warns are the warnings likewise.
		err   string
		line  int
		warns []string
		// headroomOnly marks an error nginx does not give.
		headroomOnly bool
	}{
		{name: "recv buffer too small", http: "http2_recv_buffer_size 32;",
			err: `"http2_recv_buffer_size" directive value is too small`},
		{name: "recv buffer zero", http: "http2_recv_buffer_size 0;",
			err: `"http2_recv_buffer_size" directive value is too small`},
		{name: "recv buffer smallest", http: "http2_recv_buffer_size 33;"},
		{name: "recv buffer invalid", http: "http2_recv_buffer_size 1g;",
			err: `"http2_recv_buffer_size" directive invalid value`},
		{name: "recv buffer overflow", http: "http2_recv_buffer_size 9007199254740992k;",
			err: `"http2_recv_buffer_size" directive invalid value`},
		{name: "recv buffer duplicate", http: "http2_recv_buffer_size 1m;\nhttp2_recv_buffer_size 1m;",
			err: `"http2_recv_buffer_size" directive is duplicate`, line: 5},
		{name: "recv buffer in server", http: "server { http2_recv_buffer_size 1m; }",
			err: `"http2_recv_buffer_size" directive is not allowed here`},
		{name: "chunk size zero", http: "http2_chunk_size 0;",
			err: `the http2 chunk size cannot be zero`},
		{name: "chunk size invalid", http: "server { location / { http2_chunk_size 2g; } }",
			err: `"http2_chunk_size" directive invalid value`},
		{name: "chunk size duplicate", http: "server { http2_chunk_size 1k; http2_chunk_size 2k; }",
			err: `"http2_chunk_size" directive is duplicate`},
		{name: "chunk size in if", http: "server { location / { if ($uri) { http2_chunk_size 1k; } } }",
			err: `"http2_chunk_size" directive is not allowed here`},
		{name: "chunk size in limit_except", http: "server { location / { limit_except GET { http2_chunk_size 1k; } } }",
			err: `"http2_chunk_size" directive is not allowed here`},
		{name: "preread too large", http: "http2_body_preread_size 2147483648;",
			err: `the maximum body preread buffer size is 2147483647`},
		{name: "preread too large in megabytes", http: "server { http2_body_preread_size 3000m; }",
			err: `the maximum body preread buffer size is 2147483647`},
		{name: "preread largest", http: "http2_body_preread_size 2147483647;"},
		{name: "preread invalid", http: "http2_body_preread_size 2g;",
			err: `"http2_body_preread_size" directive invalid value`},
		{name: "preread in location", http: "server { location / { http2_body_preread_size 1k; } }",
			err: `"http2_body_preread_size" directive is not allowed here`},
		{name: "streams index zero", http: "http2_streams_index_size 0;",
			err: `"http2_streams_index_size" directive must be a power of two`},
		{name: "streams index not power of two", http: "server { http2_streams_index_size 48; }",
			err: `"http2_streams_index_size" directive must be a power of two`},
		{name: "streams index invalid", http: "http2_streams_index_size 32k;",
			err: `"http2_streams_index_size" directive invalid number`},
		{name: "streams index duplicate", http: "http2_streams_index_size 64; http2_streams_index_size 64;",
			err: `"http2_streams_index_size" directive is duplicate`},
		{name: "streams index one", http: "http2_streams_index_size 1;"},
		{name: "concurrent streams invalid", http: "http2_max_concurrent_streams -1;",
			err: `"http2_max_concurrent_streams" directive invalid number`},
		{name: "concurrent streams overflow", http: "http2_max_concurrent_streams 9223372036854775808;",
			err: `"http2_max_concurrent_streams" directive invalid number`},
		{name: "concurrent streams duplicate", http: "server { http2_max_concurrent_streams 1; http2_max_concurrent_streams 1; }",
			err: `"http2_max_concurrent_streams" directive is duplicate`},
		{name: "concurrent streams in location", http: "server { location / { http2_max_concurrent_streams 1; } }",
			err: `"http2_max_concurrent_streams" directive is not allowed here`},
		{name: "concurrent streams arguments", http: "http2_max_concurrent_streams 1 2;",
			err: `invalid number of arguments in "http2_max_concurrent_streams" directive`},
		{name: "concurrent pushes invalid", http: "http2_max_concurrent_pushes x;",
			err: `"http2_max_concurrent_pushes" directive invalid number`},
		{name: "concurrent pushes duplicate", http: "http2_max_concurrent_pushes 1; http2_max_concurrent_pushes 2;",
			err: `"http2_max_concurrent_pushes" directive is duplicate`},
		{name: "pool size too small", http: "http2_pool_size 100;",
			err: `the pool size must be no less than 112`},
		{name: "pool size alignment", http: "server { http2_pool_size 120; }",
			err: `the pool size must be a multiple of 16`},
		{name: "pool size invalid", http: "http2_pool_size x;",
			err: `"http2_pool_size" directive invalid value`},
		{name: "pool size smallest", http: "http2_pool_size 112;"},
		{name: "push off duplicate", http: "http2_push off; http2_push off;",
			err: `"http2_push" directive is duplicate`},
		{name: "push URI after off", http: "server { location / { http2_push off; http2_push /style.css; } }",
			err: `"http2_push" directive URI cannot be used with "off" parameter`},
		{name: "push URI", http: "server { location / { http2_push /style.css; } }",
			err: `HTTP/2 server push ("http2_push" with a URI) is not supported by headroom`, headroomOnly: true},
		{name: "push OFF is a URI", http: "http2_push OFF;",
			err: `HTTP/2 server push ("http2_push" with a URI) is not supported by headroom`, headroomOnly: true},
		{name: "push preload on", http: "server { http2_push_preload on; }",
			err: `HTTP/2 server push ("http2_push_preload on") is not supported by headroom`, headroomOnly: true},
		{name: "push preload value", http: "http2_push_preload yes;",
			err: `invalid value "yes" in "http2_push_preload" directive, it must be "on" or "off"`},
		{name: "push preload duplicate", http: "http2_push_preload off; http2_push_preload on;",
			err: `"http2_push_preload" directive is duplicate`},
		{name: "obsolete", http: "http2_idle_timeout 3m;\nserver { http2_recv_timeout 30s; http2_max_requests 1000; }\nhttp2_max_field_size 4k;\nhttp2_max_header_size 16k;",
			warns: []string{
				`the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" directive instead in FILE:4`,
				`the "http2_recv_timeout" directive is obsolete, use the "client_header_timeout" directive instead in FILE:5`,
				`the "http2_max_requests" directive is obsolete, use the "keepalive_requests" directive instead in FILE:5`,
				`the "http2_max_field_size" directive is obsolete, use the "large_client_header_buffers" directive instead in FILE:6`,
				`the "http2_max_header_size" directive is obsolete, use the "large_client_header_buffers" directive instead in FILE:7`,
			}},
		{name: "obsolete value not read", http: "http2_idle_timeout forever; http2_idle_timeout again;",
			warns: []string{
				`the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" directive instead in FILE:4`,
				`the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" directive instead in FILE:4`,
			}},
		{name: "obsolete in location", http: "server { location / { http2_idle_timeout 1s; } }",
			err: `"http2_idle_timeout" directive is not allowed here`},
		{name: "obsolete arguments", http: "http2_max_requests;",
			err: `invalid number of arguments in "http2_max_requests" directive`},
		{name: "listen http2 value", http: "server { listen 127.0.0.1:8080 http2=on; }",
			err: `invalid parameter "http2=on"`},
		{name: "listen http2 twice", http: "server { listen 127.0.0.1:8080 http2 http2; }"},
	}
	// Other nginx versions read these directives differently (1.25
	// made server push obsolete), so only 1.22 is compared with.
	version, _ := exec.Command(nginxBin, "-v").CombinedOutput()
	haveNginx := strings.Contains(string(version), "nginx/1.22.")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "nginx.conf")
			src := "pid logs/nginx.pid;\nevents {}\nhttp {\n" + tt.http + "\n}\n"
			line := tt.line
			if line == 0 {
				line = 4
			}
			want := ""
			if tt.err != "" {
				want = tt.err + " in " + file + ":" + itoa(line)
			}
			var wantWarns []string
			for _, w := range tt.warns {
				wantWarns = append(wantWarns, strings.ReplaceAll(w, "FILE", file))
			}

			cfg, err := Load(LoadOptions{File: file, Prefix: dir, Source: []byte(src)})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("headroom: error %q, want %q", got, want)
			}
			if err == nil {
				var warns []string
				for _, w := range cfg.Warnings {
					warns = append(warns, w.Error())
				}
				if strings.Join(warns, "\n") != strings.Join(wantWarns, "\n") {
					t.Errorf("headroom: warnings\n%s\nwant\n%s", strings.Join(warns, "\n"), strings.Join(wantWarns, "\n"))
				}
			}

			if !haveNginx || tt.headroomOnly {
				return
			}
			if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command(nginxBin, "-t", "-q", "-p", dir+"/", "-c", file).CombinedOutput()
			var nginxErr string
			var nginxWarns []string
			for _, l := range strings.Split(string(out), "\n") {
				m := nginxLogLine.FindStringSubmatch(l)
				switch {
				case m == nil:
				case m[1] == "emerg":
					nginxErr = m[2]
				default:
					nginxWarns = append(nginxWarns, m[2])
				}
			}
			if nginxErr != want {
				t.Errorf("nginx: error %q, want %q", nginxErr, want)
			}
			if want == "" && strings.Join(nginxWarns, "\n") != strings.Join(wantWarns, "\n") {
				t.Errorf("nginx: warnings\n%s\nwant\n%s", strings.Join(nginxWarns, "\n"), strings.Join(wantWarns, "\n"))
			}
		})
	}
}

// TestHTTP2Values checks the typed HTTP/2 settings: nginx's defaults,
// inheritance from http to server to location, the chunk size lowered to
// the largest frame, and "listen ... http2" holding for the whole
// address whichever listen says it.
func TestHTTP2Values(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    http2_recv_buffer_size 1m;
    http2_max_concurrent_streams 64;
    http2_chunk_size 16k;
    server {
        listen 127.0.0.1:8080;
        listen 127.0.0.1:8081;
        location / {}
    }
    server {
        listen 127.0.0.1:8080 http2;
        server_name b;
        http2_body_preread_size 1m;
        http2_streams_index_size 64;
        http2_max_concurrent_pushes 5;
        http2_push off;
        http2_push_preload off;
        location / {
            http2_chunk_size 32m;
        }
    }
}
`)
	h := cfg.HTTP
	if h.HTTP2RecvBufferSize != 1<<20 {
		t.Errorf("HTTP2RecvBufferSize %d", h.HTTP2RecvBufferSize)
	}
	a, b := h.Servers[0], h.Servers[1]
	for _, l := range a.Listens {
		if want := l.Addr == "127.0.0.1:8080"; l.HTTP2 != want {
			t.Errorf("first server: %s http2=%v, want %v", l.Addr, l.HTTP2, want)
		}
	}
	if !b.Listens[0].HTTP2 {
		t.Errorf("second server: %s without http2", b.Listens[0].Addr)
	}
	for _, tc := range []struct {
		name string
		lc   *LocConf
		want []int
	}{
		{"first server", a.Loc, []int{64, 16 << 10, 64 << 10, 32, 10}},
		{"its location", a.Locations[0].Loc, []int{64, 16 << 10, 64 << 10, 32, 10}},
		{"second server", b.Loc, []int{64, 16 << 10, 1 << 20, 64, 5}},
		{"its location", b.Locations[0].Loc, []int{64, 1<<24 - 1, 1 << 20, 64, 5}},
	} {
		lc := tc.lc
		got := []int{lc.HTTP2MaxConcurrentStreams, lc.HTTP2ChunkSize, lc.HTTP2BodyPrereadSize, lc.HTTP2StreamsIndexSize, lc.HTTP2MaxConcurrentPushes}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: streams, chunk, preread, index, pushes = %v, want %v", tc.name, got, tc.want)
		}
	}

	def := loadConfigText(t, "events {}\nhttp { server { listen 127.0.0.1:8080; } }\n")
	lc := def.HTTP.Servers[0].Loc
	if def.HTTP.HTTP2RecvBufferSize != 256<<10 || lc.HTTP2MaxConcurrentStreams != 128 || lc.HTTP2ChunkSize != 8<<10 ||
		lc.HTTP2BodyPrereadSize != 64<<10 || lc.HTTP2StreamsIndexSize != 32 || lc.HTTP2MaxConcurrentPushes != 10 {
		t.Errorf("defaults: recv %d streams %d chunk %d preread %d index %d pushes %d", def.HTTP.HTTP2RecvBufferSize,
			lc.HTTP2MaxConcurrentStreams, lc.HTTP2ChunkSize, lc.HTTP2BodyPrereadSize, lc.HTTP2StreamsIndexSize, lc.HTTP2MaxConcurrentPushes)
	}
	if def.HTTP.Servers[0].Listens[0].HTTP2 {
		t.Error("a listen without http2 speaks HTTP/2")
	}
}
