package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"headroom/internal/conf"
)

// The error texts are nginx's (nginx prefixes them with "nginx: ").
func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *options
		wantErr string
	}{
		{name: "no arguments", args: nil, want: &options{}},
		{name: "test", args: []string{"-t"}, want: &options{test: true}},
		{name: "test and dump", args: []string{"-T"}, want: &options{test: true, dump: true}},
		{name: "grouped flags", args: []string{"-tq"}, want: &options{test: true, quiet: true}},
		{name: "grouped dump and quiet", args: []string{"-Tq"}, want: &options{test: true, dump: true, quiet: true}},
		{name: "flags in separate arguments", args: []string{"-t", "-q"}, want: &options{test: true, quiet: true}},
		{name: "version", args: []string{"-v"}, want: &options{version: true}},
		{name: "version and configure", args: []string{"-V"}, want: &options{version: true, configure: true}},
		{name: "help with h", args: []string{"-h"}, want: &options{help: true}},
		{name: "help with question mark", args: []string{"-?"}, want: &options{help: true}},
		{name: "separate file name", args: []string{"-c", "/etc/x.conf"}, want: &options{conf: "/etc/x.conf"}},
		{name: "attached file name", args: []string{"-cfile.conf"}, want: &options{conf: "file.conf"}},
		{name: "value letter last in a group", args: []string{"-tc", "file.conf"}, want: &options{test: true, conf: "file.conf"}},
		{name: "attached value after a group", args: []string{"-tqcfile.conf"}, want: &options{test: true, quiet: true, conf: "file.conf"}},
		{name: "attached value ends the group", args: []string{"-cqt"}, want: &options{conf: "qt"}},
		{name: "separate value may start with a dash", args: []string{"-c", "-t"}, want: &options{conf: "-t"}},
		{
			name: "all value options",
			args: []string{"-p", "/srv/", "-e", "err.log", "-g", "daemon off;", "-c", "h.conf"},
			want: &options{prefix: "/srv/", errorLog: "err.log", directives: "daemon off;", conf: "h.conf"},
		},
		{name: "signal stop", args: []string{"-s", "stop"}, want: &options{signal: "stop"}},
		{name: "signal quit", args: []string{"-s", "quit"}, want: &options{signal: "quit"}},
		{name: "signal reopen", args: []string{"-s", "reopen"}, want: &options{signal: "reopen"}},
		{name: "attached signal reload", args: []string{"-sreload"}, want: &options{signal: "reload"}},
		{name: "missing file name for -c", args: []string{"-c"}, wantErr: `option "-c" requires file name`},
		{name: "missing file name for -e", args: []string{"-t", "-e"}, wantErr: `option "-e" requires file name`},
		{name: "missing directory name for -p", args: []string{"-p"}, wantErr: `option "-p" requires directory name`},
		{name: "missing parameter for -g", args: []string{"-g"}, wantErr: `option "-g" requires parameter`},
		{name: "missing parameter for -s", args: []string{"-s"}, wantErr: `option "-s" requires parameter`},
		{name: "missing value after a group", args: []string{"-tc"}, wantErr: `option "-c" requires file name`},
		{name: "invalid signal", args: []string{"-s", "restart"}, wantErr: `invalid option: "-s restart"`},
		{name: "invalid attached signal", args: []string{"-sfoo"}, wantErr: `invalid option: "-s foo"`},
		{name: "signal names are case-sensitive", args: []string{"-s", "STOP"}, wantErr: `invalid option: "-s STOP"`},
		{name: "unknown flag", args: []string{"-x"}, wantErr: `invalid option: "x"`},
		{name: "unknown flag after a known one", args: []string{"-tx"}, wantErr: `invalid option: "x"`},
		{name: "argument without a dash", args: []string{"foo"}, wantErr: `invalid option: "foo"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("parseArgs(%q) error = %v, want %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q) error: %v", tc.args, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseArgs(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.conf", "events {}\nhttp {\n    server {\n        listen 127.0.0.1:8080;\n        location / {\n            return 200 \"ok\";\n        }\n    }\n}\n")
	bad := write("bad.conf", "events {}\nhttp {\n    foo bar;\n}\n")
	missing := filepath.Join(dir, "missing.conf")
	versionLine := "nginx version: nginx/1.22.1 (headroom " + Version + ")"

	tests := []struct {
		name     string
		args     []string
		wantCode int
		// wantLines are lines that must appear in stderr, in this order
		// though not necessarily adjacent; wantFirst, when set, is the
		// exact first line; wantEmpty requires no output at all.
		wantFirst string
		wantLines []string
		// wantIn lists substrings that the output must contain;
		// wantLineWith pairs a line prefix with a substring that same line
		// must contain; wantOut, when set, is the whole output.
		wantIn       []string
		wantLineWith [][2]string
		wantOut      string
		wantEmpty    bool
	}{
		{
			name:     "version",
			args:     []string{"-v"},
			wantCode: 0,
			wantOut:  versionLine + "\n",
		},
		{
			name:      "version and configure arguments",
			args:      []string{"-V"},
			wantCode:  0,
			wantFirst: versionLine,
			wantLineWith: [][2]string{
				{"configure arguments: ", " --without-http_userid_module"},
				{"configure arguments: ", " --with-http_stub_status_module"},
			},
		},
		{
			name:     "test of a valid configuration",
			args:     []string{"-t", "-c", good},
			wantCode: 0,
			wantLines: []string{
				"headroom: the configuration file " + good + " syntax is ok",
				"headroom: configuration file " + good + " test is successful",
			},
		},
		{
			name:      "quiet test of a valid configuration",
			args:      []string{"-tq", "-c", good},
			wantCode:  0,
			wantEmpty: true,
		},
		{
			name:     "unknown directive",
			args:     []string{"-t", "-c", bad},
			wantCode: 1,
			wantLines: []string{
				`headroom: [emerg] unknown directive "foo" in ` + bad + ":3",
				"headroom: configuration file " + bad + " test failed",
			},
		},
		{
			name:     "unknown directive reported under -q too",
			args:     []string{"-tq", "-c", bad},
			wantCode: 1,
			wantIn:   []string{`[emerg] unknown directive "foo" in ` + bad + ":3"},
		},
		{
			name:     "relative configuration path is taken from the prefix",
			args:     []string{"-t", "-p", dir, "-c", "good.conf"},
			wantCode: 0,
			wantLines: []string{
				"headroom: the configuration file " + good + " syntax is ok",
			},
		},
		{
			name:     "missing configuration file",
			args:     []string{"-t", "-c", missing},
			wantCode: 1,
			wantLines: []string{
				`headroom: [emerg] open() "` + missing + `" failed (2: No such file or directory)`,
				"headroom: configuration file " + missing + " test failed",
			},
		},
		{
			name:      "help",
			args:      []string{"-h"},
			wantCode:  0,
			wantIn:    []string{"Usage: headroom [-?hvVtTq] [-s signal] [-p prefix]"},
			wantFirst: "headroom version: headroom/" + Version + " (nginx/1.22.1)",
		},
		{
			name:      "invalid option",
			args:      []string{"-x"},
			wantCode:  1,
			wantFirst: `headroom: invalid option: "x"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, &stderr)
			out := stderr.String()
			if code != tc.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, code, tc.wantCode, out)
			}
			if tc.wantOut != "" && out != tc.wantOut {
				t.Errorf("run(%q) wrote %q, want %q", tc.args, out, tc.wantOut)
			}
			if tc.wantEmpty && out != "" {
				t.Errorf("run(%q) wrote %q, want nothing", tc.args, out)
			}
			if !tc.wantEmpty && !strings.HasSuffix(out, "\n") {
				t.Errorf("run(%q) output %q does not end in a newline", tc.args, out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if tc.wantFirst != "" && lines[0] != tc.wantFirst {
				t.Errorf("first line = %q, want %q", lines[0], tc.wantFirst)
			}
			i := 0
			for _, l := range lines {
				if i < len(tc.wantLines) && l == tc.wantLines[i] {
					i++
				}
			}
			if i < len(tc.wantLines) {
				t.Errorf("run(%q) stderr lacks line %q (in order); got:\n%s", tc.args, tc.wantLines[i], out)
			}
			for _, w := range tc.wantLineWith {
				found := false
				for _, l := range lines {
					if strings.HasPrefix(l, w[0]) && strings.Contains(l, w[1]) {
						found = true
					}
				}
				if !found {
					t.Errorf("run(%q) has no line starting %q containing %q; got:\n%s", tc.args, w[0], w[1], out)
				}
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(out, s) {
					t.Errorf("run(%q) stderr lacks %q; got:\n%s", tc.args, s, out)
				}
			}
		})
	}
}

// TestConfigureArgumentsMatchDirectives checks that "-V" does not claim a
// module is missing while headroom runs its directives: tools decide what
// a server can do from that line.
func TestConfigureArgumentsMatchDirectives(t *testing.T) {
	// A directive of each module that "--without-…" could name.
	moduleDirective := map[string]string{
		"--without-http_access_module":             "allow",
		"--without-http_limit_conn_module":         "limit_conn",
		"--without-http_limit_req_module":          "limit_req",
		"--without-http_proxy_module":              "proxy_pass",
		"--without-http_upstream_keepalive_module": "keepalive",
		"--without-http_gzip_module":               "gzip",
		"--without-http_map_module":                "map",
		"--without-http_geo_module":                "geo",
		"--without-http_split_clients_module":      "split_clients",
		"--without-http_referer_module":            "valid_referers",
		"--without-http_autoindex_module":          "autoindex",
	}
	supported := map[string]bool{}
	for _, d := range conf.Directives() {
		supported[d.Name] = true
	}
	without := map[string]bool{}
	for _, opt := range withoutModules {
		without[opt] = true
	}
	for opt, d := range moduleDirective {
		if supported[d] && without[opt] {
			t.Errorf("-V says %s, but headroom runs %q", opt, d)
		}
		if !supported[d] && !without[opt] {
			t.Errorf("-V does not say %s, but headroom does not run %q", opt, d)
		}
	}
}
