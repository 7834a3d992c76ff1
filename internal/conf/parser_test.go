package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// render shows a tree compactly: name(args){children} with line numbers.
func render(nodes []*Node) string {
	var parts []string
	for _, n := range nodes {
		s := n.Name
		if len(n.Args) > 0 {
			s += "(" + strings.Join(n.Args, ",") + ")"
		}
		s += "@" + itoa(n.Line)
		if n.IsBlock {
			s += "{" + render(n.Block) + "}@" + itoa(n.EndLine)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, src, want, err string
	}{
		{"flat", "a 1;\nb 2 3;", "a(1)@1 b(2,3)@2", ""},
		{"block", "http {\n  server {\n    listen 80;\n  }\n}\n", "http@1{server@2{listen(80)@3}@4}@5", ""},
		{"multi-line directive reports its terminator line", "a\nb\nc;", "a(b,c)@3", ""},
		{"include kept as a node", "include x.conf;", "include(x.conf)@1", ""},
		{"quoted name", `"a" b;`, "a(b)@1", ""},
		{"empty block", "events {}", "events@1{}@1", ""},
		{"unexpected close", "a;\n}", "a(1)@1", `unexpected "}" in f.conf:2`},
		{"close with args", "a {\n b }\n", "a@1{}@0", `unexpected "}" in f.conf:2`},
		{"eof in block", "a {\n b;\n", "a@1{b@2}@0", `unexpected end of file, expecting "}" in f.conf:3`},
		{"eof in directive", "a;\nb", "a@1", `unexpected end of file, expecting ";" or "}" in f.conf:2`},
		{"lone semicolon", "a;\n;", "a@1", `unexpected ";" in f.conf:2`},
		{"lone brace", "{", "", `unexpected "{" in f.conf:1`},
		{"junk after quote", "a \"b\"c;", "", `unexpected "c" in f.conf:1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := Parse("f.conf", []byte(tt.src))
			errText := ""
			if err != nil {
				errText = err.Error()
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not *Error", err)
				}
			}
			if errText != tt.err {
				t.Errorf("error = %q, want %q", errText, tt.err)
			}
			if tt.err == "" {
				if got := render(nodes); got != tt.want {
					t.Errorf("tree = %s, want %s", got, tt.want)
				}
			}
		})
	}
}

// TestLoadFromFiles exercises the file-based path: a relative File, the
// default prefix, includes relative to the main file's directory, the list
// of files read for -T, and paths resolved against an explicit prefix.
func TestLoadFromFiles(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(confDir, "sites"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(confDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "events {}\nhttp {\n    include sites/*.conf;\n    include sites/b.conf;\n}\n")
	write("sites/a.conf", "server { listen 127.0.0.1:8080; access_log logs/a.log; }\n")
	write("sites/b.conf", "server { listen 127.0.0.1:8081; }\n")

	t.Chdir(dir)
	cfg, err := Load(LoadOptions{File: "conf/main.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != filepath.Join(confDir, "main.conf") || cfg.Prefix != confDir {
		t.Errorf("file %s prefix %s", cfg.File, cfg.Prefix)
	}
	var read []string
	for _, f := range cfg.Files {
		read = append(read, strings.TrimPrefix(f.Path, confDir+"/"))
	}
	if got := strings.Join(read, " "); got != "main.conf sites/a.conf sites/b.conf" {
		t.Errorf("files read = %s", got)
	}
	if n := len(cfg.HTTP.Servers); n != 3 {
		t.Errorf("%d servers, want 3 (b.conf is included twice)", n)
	}
	if got := cfg.HTTP.Servers[0].Loc.AccessLogs[0].Path; got != confDir+"/logs/a.log" {
		t.Errorf("access log %s", got)
	}

	cfg, err = Load(LoadOptions{File: "conf/main.conf", Prefix: "/srv/h"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PID != "/srv/h/logs/headroom.pid" || cfg.ErrorLogs[0].Path != "/srv/h/logs/error.log" {
		t.Errorf("pid %s error log %s", cfg.PID, cfg.ErrorLogs[0].Path)
	}

	_, err = Load(LoadOptions{File: "conf/missing.conf"})
	want := `open() "` + filepath.Join(confDir, "missing.conf") + `" failed (2: No such file or directory)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}

	_, err = Load(LoadOptions{File: confDir})
	if err == nil || !strings.HasPrefix(err.Error(), `pread() "`+confDir+`" failed (21: Is a directory)`) {
		t.Errorf("directory error = %v", err)
	}
}

func TestIncludeRecursion(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "loop.conf")
	if err := os.WriteFile(file, []byte("include loop.conf;\nevents {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(LoadOptions{File: file})
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("error = %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "/a.conf", Line: 3, Msg: "m"}, "m in /a.conf:3"},
		{Error{Msg: "m"}, "m"},
		{Error{Msg: "m", CommandLine: true}, "m in command line"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v: %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestDirectivesDocumented(t *testing.T) {
	docs := Directives()
	seen := map[string]bool{}
	for _, d := range docs {
		if d.Syntax == "" || d.Doc == "" || len(d.Contexts) == 0 {
			t.Errorf("%s: incomplete doc %+v", d.Name, d)
		}
		if !strings.HasPrefix(d.Syntax, d.Name+" ") && d.Syntax != d.Name+";" {
			t.Errorf("%s: syntax %q does not start with the name", d.Name, d.Syntax)
		}
		if nginxDirectives[d.Name] {
			t.Errorf("%s is both supported and listed as unsupported", d.Name)
		}
		seen[d.Name] = true
	}
	for _, name := range []string{"listen", "proxy_pass", "upstream", "keepalive", "log_format", "worker_connections"} {
		if !seen[name] {
			t.Errorf("%s missing from Directives()", name)
		}
	}
}

func TestKnownVariables(t *testing.T) {
	for _, v := range []string{"host", "http_x_forwarded_for", "arg_page", "cookie_sid", "sent_http_content_type", "upstream_addr",
		"upstream_http_x_len", "upstream_cookie_sid", "upstream_response_length", "upstream_bytes_received",
		"upstream_bytes_sent", "request_body", "request_body_file",
		// A prefix alone names a field with an empty name, as in nginx.
		"http_", "arg_", "upstream_http_"} {
		if !IsKnownVariable(v) {
			t.Errorf("%s should be known", v)
		}
	}
	for _, v := range []string{"foo", "Host", "upstream_trailer_x"} {
		if IsKnownVariable(v) {
			t.Errorf("%s should be unknown", v)
		}
	}
	if len(KnownVariables()) < 40 {
		t.Errorf("only %d known variables", len(KnownVariables()))
	}
}

func TestValues(t *testing.T) {
	times := map[string]string{
		"0": "0s", "30": "30s", "30s": "30s", "500ms": "500ms", "1m": "1m0s",
		"1h 30m": "1h30m0s", "1h30m": "1h30m0s", "1d": "24h0m0s", "1w": "168h0m0s",
		"2m 5s 10ms": "2m5.01s",
	}
	for in, want := range times {
		d, ok := parseTime(in, false)
		if !ok || d.String() != want {
			t.Errorf("parseTime(%q) = %v %v, want %s", in, d, ok, want)
		}
	}
	for _, bad := range []string{"", "s", "10x", "30m 1h", "1s 1s", "1y", "1M", "-1", "99999999999999999999"} {
		if _, ok := parseTime(bad, false); ok {
			t.Errorf("parseTime(%q) should fail", bad)
		}
	}
	if d, ok := parseTime("1y", true); !ok || d.Hours() != 365*24 {
		t.Errorf("seconds parser: 1y = %v %v", d, ok)
	}
	if _, ok := parseTime("10ms", true); ok {
		t.Errorf("seconds parser accepted ms")
	}
	sizes := map[string]int64{"0": 0, "512": 512, "8k": 8192, "8K": 8192, "1m": 1 << 20, "2M": 2 << 20}
	for in, want := range sizes {
		if v, ok := parseSize(in); !ok || v != want {
			t.Errorf("parseSize(%q) = %d %v", in, v, ok)
		}
	}
	if _, ok := parseSize("1g"); ok {
		t.Errorf("parseSize accepted g")
	}
	if v, ok := parseOffset("1g"); !ok || v != 1<<30 {
		t.Errorf("parseOffset(1g) = %d %v", v, ok)
	}
	for _, bad := range []string{"", "k", "1.5m", "-1", "1t"} {
		if _, ok := parseOffset(bad); ok {
			t.Errorf("parseOffset(%q) should fail", bad)
		}
	}
}

func FuzzLoad(f *testing.F) {
	entries, _ := filepath.Glob("testdata/golden/*.conf")
	for _, e := range entries {
		data, err := os.ReadFile(e)
		if err != nil {
			f.Fatal(err)
		}
		src, _, _ := strings.Cut(string(data), expectMarker)
		f.Add([]byte(src), false)
	}
	f.Add([]byte("events{}http{server{location /{proxy_pass http://127.0.0.1:1;}}}"), true)
	dir := f.TempDir()
	// Keep the fuzzer off the network: only localhost resolves.
	saved := lookupHost
	f.Cleanup(func() { lookupHost = saved })
	lookupHost = func(host string) ([]string, error) {
		if host == "localhost" {
			return []string{"127.0.0.1", "::1"}, nil
		}
		return nil, errors.New("no such host")
	}
	f.Fuzz(func(t *testing.T, src []byte, lenient bool) {
		// Includes could name devices that never end; they are covered by
		// the golden and file tests instead.
		if strings.Contains(string(src), "include") {
			t.Skip()
		}
		cfg, err := Load(LoadOptions{File: filepath.Join(dir, "fuzz.conf"), Prefix: dir, Source: src, Lenient: lenient})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		_ = Dump(cfg)
	})
}

func TestSourceWithoutName(t *testing.T) {
	_, err := Load(LoadOptions{Source: []byte("events {}\nbogus;\n")})
	if err == nil || err.Error() != `unknown directive "bogus" in <source>:2` {
		t.Fatalf("error = %v", err)
	}
}

func TestServerNameHostname(t *testing.T) {
	cfg, err := Load(LoadOptions{Source: []byte("events {}\nhttp { server { server_name $hostname; } }\n"), Prefix: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.HTTP.Servers[0].Names[0]
	if n.Kind != NameExact || n.Name != hostname {
		t.Fatalf("name %+v, want %q", n, hostname)
	}
}

// TestSplitListenRange checks how a listen address with a port range is
// read, and that a '-' in a host name is not taken for one.
func TestSplitListenRange(t *testing.T) {
	for _, tc := range []struct {
		in         string
		host       string
		port, last int
		err        string
	}{
		{"127.0.0.1:8182-8184", "127.0.0.1", 8182, 8184, ""},
		{"9000-9001", "*", 9000, 9001, ""},
		{"[::1]:80-81", "[::1]", 80, 81, ""},
		{"my-host:8080", "my-host", 8080, 8080, ""},
		{"my-host", "my-host", 80, 80, ""},
		{"127.0.0.1:8184-8182", "", 0, 0, "invalid port range"},
		{"127.0.0.1:80-70000", "", 0, 0, "invalid port"},
	} {
		host, port, last, err := splitListenRange(tc.in)
		if host != tc.host || port != tc.port || last != tc.last || err != tc.err {
			t.Errorf("splitListenRange(%q) = %q %d %d %q, want %q %d %d %q", tc.in, host, port, last, err, tc.host, tc.port, tc.last, tc.err)
		}
	}
}
