package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLI runs the target binary with args (at most 10 s) and returns its
// stdout, its stderr with the program-name prefix of each line
// ("nginx: ", "headroom: ") removed, and the exit code.
func runCLI(t *testing.T, tg *target, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tg.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s %v: %v", tg.bin, args, err)
		}
		code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within 10s", tg.name, args)
	}
	return out.String(), normalizeCLI(errb.String()), code
}

var cliPrefix = regexp.MustCompile(`(?m)^(nginx|headroom): `)

func normalizeCLI(s string) string { return cliPrefix.ReplaceAllString(s, "") }

// TestConfigTest checks "-t": a valid configuration passes with exit code
// 0; errors are reported as nginx does, with the file and line, and exit
// code 1.
func TestConfigTest(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		prefix := makePrefix(t)
		write := func(name, text string) string {
			path := filepath.Join(prefix, "conf", name)
			if err := os.WriteFile(path, []byte(text), 0o666); err != nil {
				t.Fatal(err)
			}
			return path
		}
		head := "daemon off;\npid " + prefix + "/logs/p.pid;\nerror_log " + prefix + "/logs/error.log info;\n"

		t.Run("good", func(t *testing.T) {
			conf := write("good.conf", head+`events { worker_connections 64; }
http {
    access_log `+prefix+`/logs/access.log;
    upstream u { server 127.0.0.1:9 weight=2 max_fails=3 fail_timeout=5s; keepalive 4; }
    server {
        listen 127.0.0.1:9;
        server_name example.test *.example.test;
        location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location = /r { return 301 /x; }
    }
}
`)
			_, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf, "-t")...)
			if code != 0 {
				t.Errorf("exit code %d, want 0\n%s", code, stderr)
			}
			for _, want := range []string{
				"the configuration file " + conf + " syntax is ok\n",
				"configuration file " + conf + " test is successful\n",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})

		t.Run("-T", func(t *testing.T) {
			text := head + "events { }\nhttp {\n    server { listen 127.0.0.1:9; location / { return 200 \"ok\"; } }\n}\n"
			conf := write("dump.conf", text)
			stdout, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf, "-T")...)
			if code != 0 {
				t.Errorf("exit code %d\n%s", code, stderr)
			}
			if want := "# configuration file " + conf + ":\n" + text; !strings.Contains(stdout, want) {
				t.Errorf("stdout:\n%s\nwant it to contain:\n%s", stdout, want)
			}
			if !strings.Contains(stderr, "test is successful") {
				t.Errorf("stderr:\n%s", stderr)
			}
		})

		t.Run("-g", func(t *testing.T) {
			conf := write("g.conf", head+"events { }\nhttp { }\n")
			_, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf, "-t", "-g", "worker_processes 1;")...)
			if code != 0 {
				t.Errorf("-g 'worker_processes 1;': exit code %d\n%s", code, stderr)
			}
			_, stderr, code = runCLI(t, tg, proxyArgs(tg, prefix, conf, "-t", "-g", "worker_processes 1")...)
			if code != 1 || !strings.Contains(stderr, `[emerg] unexpected end of parameter, expecting ";" in command line`) {
				t.Errorf("-g without ';': exit code %d\n%s", code, stderr)
			}
		})

		for _, tc := range []struct {
			name, text, msg string
		}{
			{"unknown directive", head + "events { }\nhttp {\n    server {\n        listen 127.0.0.1:9;\n        foo bar;\n    }\n}\n",
				`[emerg] unknown directive "foo" in FILE:8`},
			{"not allowed here", head + "events { }\nhttp {\n    server {\n        listen 127.0.0.1:9;\n        proxy_pass http://127.0.0.1:9;\n    }\n}\n",
				`[emerg] "proxy_pass" directive is not allowed here in FILE:8`},
			{"arguments", head + "events { }\nhttp {\n    server {\n        listen 127.0.0.1:9;\n        location / { proxy_pass; }\n    }\n}\n",
				`[emerg] invalid number of arguments in "proxy_pass" directive in FILE:8`},
			{"unexpected eof", head + "events { }\nhttp {\n    server {\n        listen 127.0.0.1:9;\n",
				`[emerg] unexpected end of file, expecting "}" in FILE:8`},
			// The missing ';' is noticed at the '}' on the next line.
			{"missing semicolon", head + "events { }\nhttp {\n    server {\n        listen 127.0.0.1:9\n    }\n}\n",
				`[emerg] unexpected "}" in FILE:8`},
			{"extra brace", head + "events { }\nhttp {\n}\n}\n",
				`[emerg] unexpected "}" in FILE:7`},
			{"invalid value", head + "events { }\nhttp {\n    keepalive_timeout abc;\n}\n",
				`[emerg] "keepalive_timeout" directive invalid value in FILE:6`},
			{"invalid parameter", head + "events { }\nhttp {\n    upstream u { server 127.0.0.1:9 weight=0; }\n}\n",
				`[emerg] invalid parameter "weight=0" in FILE:6`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				conf := write(strings.ReplaceAll(tc.name, " ", "_")+".conf", tc.text)
				_, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf, "-t")...)
				if code != 1 {
					t.Errorf("exit code %d, want 1", code)
				}
				want := strings.ReplaceAll(tc.msg, "FILE", conf) + "\n"
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
				}
				if want := "configuration file " + conf + " test failed\n"; !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q", want)
				}
			})
		}

		t.Run("missing file", func(t *testing.T) {
			conf := filepath.Join(prefix, "conf", "missing.conf")
			_, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf, "-t")...)
			want := `[emerg] open() "` + conf + `" failed (2: No such file or directory)`
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant %q", code, stderr, want)
			}
		})
	})
}

// TestStartFailure checks that a configuration error at start-up makes the
// process exit with code 1 and the message in its error output.
func TestStartFailure(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		prefix := makePrefix(t)
		conf := filepath.Join(prefix, "conf", "test.conf")
		text := renderConfig(prefix, proxyConfig{http: "    server {\n        listen 127.0.0.1:9;\n        bogus;\n    }"})
		if err := os.WriteFile(conf, []byte(text), 0o666); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCLI(t, tg, proxyArgs(tg, prefix, conf)...)
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		line := strings.Count(text[:strings.Index(text, "bogus;")], "\n") + 1
		want := fmt.Sprintf(`[emerg] unknown directive "bogus" in %s:%d`, conf, line)
		if got := stderr + normalizeCLI(readFile(filepath.Join(prefix, "logs", "error.log"))); !strings.Contains(got, want) {
			t.Errorf("want %q in stderr or error.log, got:\n%s", want, got)
		}
	})
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
