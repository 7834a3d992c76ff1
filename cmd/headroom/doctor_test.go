package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"headroom/internal/capacity"
)

// seedConfig is nginx's configuration of the seed failure: one worker,
// 1024 slots, one listener, one upstream address.
const seedConfig = `worker_processes 1;
events {
    worker_connections 1024;
}
http {
    upstream u {
        server 127.0.0.1:9000;
    }
    server {
        listen 127.0.0.1:80;
        location / {
            proxy_pass http://u;
        }
    }
}
`

func writeSeed(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nginx.conf")
	if err := os.WriteFile(path, []byte(seedConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// roomy reports whether a server started from here may open enough
// descriptors for the seed's 1024 slots, so that worker_connections binds
// rather than the open file limit. The figures of every other machine are
// checked in internal/doctor with described machines.
func roomy(t *testing.T) bool {
	soft, hard, _, err := capacity.System.Nofile()
	if err != nil || soft < 2048 || hard < 4096 {
		t.Logf("open file limit %d/%d: figures that depend on it are not checked", soft, hard)
		return false
	}
	return true
}

// TestDoctorReports runs the command on the embedded default and on an
// nginx configuration and checks the lines a reader looks for first. A pid
// file that does not exist keeps a server running here out of the report.
func TestDoctorReports(t *testing.T) {
	seed := writeSeed(t)
	noPID := filepath.Join(t.TempDir(), "none.pid")
	tests := []struct {
		name string
		args []string
		want []string
		// roomy are checked only where the open file limit allows them.
		roomy []string
	}{
		{
			name: "embedded default",
			args: []string{"--pid-file", noPID},
			want: []string{
				"headroom doctor: headroom with (embedded default)",
				"headroom, because headroom runs every directive",
				"Binding limit: ",
				"concurrent proxied requests",
				"worker_connections",
				"listen 127.0.0.1:8080 backlog",
				"nginx, same config",
				"Fixes, in the order that helps most",
			},
		},
		{
			name: "seed nginx.conf",
			args: []string{"-c", seed, "--pid-file", noPID},
			want: []string{
				"headroom doctor: nginx with " + seed,
				"nginx, because the file is named nginx.conf",
				"no running server: open() \"" + noPID + "\" failed (2: No such file or directory)",
				"worker_connections            1024",
				"headroom, same config",
			},
			roomy: []string{
				"Binding limit: worker_connections 1024 (nginx.conf:3)",
				"concurrent proxied requests  511",
				"511 per worker x 1 worker",
				"1024 worker_connections are not enough",
				"worker_connections 1024 -> ",
			},
		},
		{
			name: "seed for headroom",
			args: []string{"-c", seed, "--server", "headroom", "--want", "1000", "--pid-file", noPID},
			want: []string{
				"headroom doctor: headroom with " + seed,
				"headroom, because --server headroom",
				"aiming at 1000 concurrent proxied requests (--want)",
			},
			roomy: []string{
				"concurrent proxied requests  511",
				"worker_connections 1024 -> 2048",
			},
		},
	}
	checkRoomy := roomy(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runDoctor(tc.args, &out, &errb); code != 0 {
				t.Fatalf("runDoctor(%q) = %d, stderr:\n%s", tc.args, code, errb.String())
			}
			want := tc.want
			if checkRoomy {
				want = append(want, tc.roomy...)
			}
			for _, w := range want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestDoctorJSON checks that --json parses and carries the same facts.
func TestDoctorJSON(t *testing.T) {
	seed := writeSeed(t)
	noPID := filepath.Join(t.TempDir(), "none.pid")
	checkRoomy := roomy(t)
	for _, args := range [][]string{{"--json", "--pid-file", noPID}, {"--json", "--pid-file", noPID, "-c", seed}} {
		var out, errb bytes.Buffer
		if code := runDoctor(args, &out, &errb); code != 0 {
			t.Fatalf("runDoctor(%q) = %d, stderr:\n%s", args, code, errb.String())
		}
		var rep struct {
			Server   string `json:"server"`
			Capacity struct {
				Proxied int    `json:"proxied"`
				Binding string `json:"binding"`
			} `json:"capacity"`
			Limits []struct {
				Name string `json:"name"`
			} `json:"limits"`
			Fixes []any `json:"fixes"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("runDoctor(%q): %v\n%s", args, err, out.String())
		}
		if len(rep.Limits) == 0 || rep.Capacity.Binding == "" || rep.Capacity.Proxied <= 0 || rep.Fixes == nil {
			t.Errorf("runDoctor(%q): incomplete report %+v", args, rep)
		}
		if len(args) > 3 && rep.Server != "nginx" {
			t.Errorf("runDoctor(%q): server %q, want nginx", args, rep.Server)
		}
		if len(args) > 3 && checkRoomy && (rep.Capacity.Proxied != 511 || rep.Capacity.Binding != "worker_connections") {
			t.Errorf("runDoctor(%q): %d proxied, binding %q; want 511, worker_connections",
				args, rep.Capacity.Proxied, rep.Capacity.Binding)
		}
	}
}

// TestDoctorErrors checks the failures: usage for unknown flags, nginx's
// [emerg] for a configuration that cannot be read.
func TestDoctorErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nginx.conf")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown flag", []string{"--frobnicate"}, []string{"headroom: invalid option: \"--frobnicate\"", "Usage: headroom doctor"}},
		{"flag without value", []string{"-c"}, []string{"option \"-c\" requires file name", "Usage: headroom doctor"}},
		{"bad server", []string{"--server", "apache"}, []string{"invalid option: \"--server apache\"", "Usage: headroom doctor"}},
		{"bad want", []string{"--want", "0"}, []string{"invalid option: \"--want 0\""}},
		{"missing file", []string{"-c", missing}, []string{"headroom: [emerg] open() \"" + missing + "\" failed (2: No such file or directory)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runDoctor(tc.args, &out, &errb); code != 1 {
				t.Errorf("runDoctor(%q) = %d, want 1", tc.args, code)
			}
			if out.Len() != 0 {
				t.Errorf("runDoctor(%q) wrote to stdout:\n%s", tc.args, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("runDoctor(%q) stderr lacks %q:\n%s", tc.args, w, errb.String())
				}
			}
		})
	}
}

// TestDoctorErrorLog runs "doctor --error-log" on an nginx error log with
// the seed's line and checks that it is explained, in text and in JSON.
func TestDoctorErrorLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "error.log")
	line := "2026/11/26 03:40:03 [alert] 1235#1235: *5107 1024 worker_connections are not enough while connecting to upstream, client: 203.0.113.7, server: x, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:9000/\", host: \"x\"\n"
	if err := os.WriteFile(log, []byte(line+line), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := runDoctor([]string{"--error-log", log}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "1024 worker_connections are not enough") || !strings.Contains(out.String(), "511") {
		t.Errorf("the line is not explained:\n%s", out.String())
	}
	out.Reset()
	if code := runDoctor([]string{"--error-log", log, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep struct {
		Recognised int
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Recognised != 2 {
		t.Errorf("JSON: %v, recognised %d, want 2:\n%s", err, rep.Recognised, out.String())
	}
	if code := runDoctor([]string{"--error-log", filepath.Join(t.TempDir(), "missing")}, &out, &errb); code != 1 {
		t.Errorf("missing log: exit %d, want 1", code)
	}
}
