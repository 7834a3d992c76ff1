package doctor

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the reports as they are now")

// debianMachine describes a 2-CPU machine as Debian 12 sets it up: cgroup
// v2, the kernel's defaults for every sysctl, and the open file limits of
// a login shell (soft 1024, hard 524288), except that soft is given per
// test.
func debianMachine(soft, hard uint64) capacity.FixedHost {
	return capacity.FixedHost{CPUs: 2, Soft: soft, Hard: hard, Files: map[string]string{
		"/proc/sys/fs/file-max":                  "9223372036854775807\n",
		"/proc/sys/fs/file-nr":                   "1568\t0\t9223372036854775807\n",
		"/proc/sys/fs/nr_open":                   "1048576\n",
		"/proc/sys/net/core/somaxconn":           "4096\n",
		"/proc/sys/net/ipv4/tcp_max_syn_backlog": "1024\n",
		"/proc/sys/net/ipv4/tcp_syncookies":      "1\n",
		"/proc/sys/net/ipv4/tcp_tw_reuse":        "2\n",
		"/proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
		"/proc/self/cgroup":                      "0::/user.slice/user-1000.slice/user@1000.service\n",
		"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.max": "max\n",
		"/proc/meminfo":     "MemTotal:        8029852 kB\nMemFree:         6120440 kB\n",
		"/proc/self/status": "Name:\tcat\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000000000\n",
		"/etc/passwd":       "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n",
	}}
}

// with returns h with files added or replaced, and removed where the
// content is empty.
func with(h capacity.FixedHost, files map[string]string) capacity.FixedHost {
	out := h
	out.Files = map[string]string{}
	for k, v := range h.Files {
		out.Files[k] = v
	}
	for k, v := range files {
		if v == "" {
			delete(out.Files, k)
		} else {
			out.Files[k] = v
		}
	}
	return out
}

// limitsFile is a /proc/PID/limits file with an open file limit.
func limitsFile(soft, hard string) string {
	return "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max open files            " + soft + "                 " + hard + "               files     \n"
}

// diskHost is a described machine with file systems: Statfs answers for
// the directories in disks, and fs.ErrNotExist for any other path.
type diskHost struct {
	capacity.FixedHost
	disks map[string]DiskSpace
}

func (h diskHost) Statfs(path string) (DiskSpace, error) {
	if d, ok := h.disks[path]; ok {
		return d, nil
	}
	return DiskSpace{}, &fs.PathError{Op: "statfs", Path: path, Err: fs.ErrNotExist}
}

const gib = 1 << 30

// srvDisks are the file systems of the cases that give none: the prefix
// /srv/proxy on a disk with 40 GiB free of 64, its temporary file
// directories made by an earlier start.
var srvDisks = map[string]DiskSpace{
	"/":                           {Free: 40 * gib, Total: 64 * gib},
	"/srv/proxy":                  {Free: 40 * gib, Total: 64 * gib},
	"/srv/proxy/client_body_temp": {Free: 40 * gib, Total: 64 * gib},
	"/srv/proxy/proxy_temp":       {Free: 40 * gib, Total: 64 * gib},
}

type doctorCase struct {
	name string
	// conf is the file in testdata, loaded under the name file.
	conf, file string
	host       capacity.FixedHost
	// disks are the machine's file systems; srvDisks when nil.
	disks map[string]DiskSpace
	// files are files of the machine read from testdata: path on the
	// machine to the file in testdata (certificates).
	files map[string]string
	opts  Options

	server       string
	proxied      int
	idle         int
	binding      string
	bindingIdle  string
	fixedProxied int // capacity after the last fix; 0 to skip
}

var doctorCases = []doctorCase{
	{
		// The seed: nginx with 1024 slots and one listener runs out at
		// (1024 - 1 - 1) / 2 = 511 proxied requests.
		name: "seed", conf: "seed.conf", file: "nginx.conf",
		host:   debianMachine(65536, 524288),
		server: "nginx", proxied: 511, idle: 1022, binding: limWC, bindingIdle: limWC,
		fixedProxied: widestPorts,
	},
	{
		// The same under a login shell's soft limit: the descriptors run
		// out first, at (1024 - 5 - 2 logs - 1 listener - 1 channel) / 2.
		name: "seed_soft_1024", conf: "seed.conf", file: "nginx.conf",
		host:   debianMachine(1024, 524288),
		server: "nginx", proxied: 507, idle: 1015, binding: limSoft, bindingIdle: limSoft,
	},
	{
		// worker_connections 4096 above soft = hard = 1024: nginx warns at
		// start and fails with EMFILE at 507 proxied requests.
		name: "fd_limit", conf: "fdlimit.conf", file: "nginx.conf",
		host:   debianMachine(1024, 1024),
		server: "nginx", proxied: 507, idle: 1015, binding: limSoft, bindingIdle: limSoft,
	},
	{
		// 33 ephemeral ports: 33 connections to the one upstream address.
		name: "ports", conf: "seed.conf", file: "nginx.conf",
		host:   with(debianMachine(65536, 524288), map[string]string{"/proc/sys/net/ipv4/ip_local_port_range": "32768\t32800\n"}),
		opts:   Options{Want: 500},
		server: "nginx", proxied: 33, idle: 1022, binding: limPorts, bindingIdle: limWC,
		fixedProxied: 511,
	},
	{
		// headroom on 4 CPUs derives its slots from the hard limit; the
		// weighted upstream fills its heavier address's ports first:
		// 28232 * 4 / 3.
		name: "headroom_weighted", conf: "headroom.conf", file: "headroom.conf",
		host:   func() capacity.FixedHost { h := debianMachine(1024, 524288); h.CPUs = 4; return h }(),
		server: "headroom", proxied: 37642, idle: 261992, binding: limPorts, bindingIdle: limHard,
	},
	{
		// A cgroup of 64 MiB holds (64 MiB - 10.9 MiB for 2 workers) /
		// 120.7 KiB = 450 requests: 2 x 344 B for the connections, 4 x
		// 16 KiB pooled, client_body_buffer_size 8k, proxy_buffers 8 4k
		// and 16 KiB of scratch, and (64 MiB - 10.9 MiB) / 344 B =
		// 161744 idle connections, fewer than the slots' (each worker
		// keeps 64 of its share for temporary files: (524288 - 39) / 2 -
		// 64 = 262060 per worker, (262060 - 1) / 2 for clients).
		name: "cgroup_memory", conf: "headroom.conf", file: "headroom.conf",
		host: with(debianMachine(1024, 524288), map[string]string{
			"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.max": "67108864\n"}),
		opts:   Options{Want: 4000},
		server: "headroom", proxied: 450, idle: 161744, binding: limMemoryMax, bindingIdle: limMemoryMax,
		fixedProxied: 4000,
	},
	{
		// 8192 per worker for 4 threads cannot fit in 16384 descriptors:
		// headroom lowers it to (16384 - 43) / 4 - 64 = 4021 (64 kept for
		// temporary files) and says so; clients hold (4021 - 2) / 2 of
		// each.
		name: "headroom_lowered", conf: "lowered.conf", file: "lowered.conf",
		host:   with(debianMachine(16384, 16384), map[string]string{"/proc/sys/net/netfilter/nf_conntrack_max": "65536\n"}),
		opts:   Options{Want: 20000},
		server: "headroom", proxied: 8036, idle: 8036, binding: limHard, bindingIdle: limHard,
		fixedProxied: 20000,
	},
	{
		// A running nginx: its worker's limit (worker_rlimit_nofile 8192)
		// binds, read from /proc through the pid file: 8192 - 5 - 2 logs -
		// 1 channel to the other worker - 1 listener - 1 channel = 8182
		// descriptors per worker for connections.
		name: "running_nginx", conf: "running.conf", file: "nginx.conf",
		host: with(debianMachine(1024, 524288), map[string]string{
			"/run/nginx.pid":    "4242\n",
			"/proc/4242/limits": limitsFile("1024", "524288"),
			"/proc/4242/comm":   "nginx\n",
			"/proc/4242/cgroup": "0::/system.slice/nginx.service\n",
			"/sys/fs/cgroup/system.slice/nginx.service/memory.max": "max\n",
			"/proc/4242/task/4242/children":                        "4243 4244 ",
			"/proc/4243/limits":                                    limitsFile("8192", "8192"),
			"/proc/4243/comm":                                      "nginx\n",
		}),
		server: "nginx", proxied: 8182, idle: 16364, binding: limWorkerSoft, bindingIdle: limWorkerSoft,
	},
	{
		// Directives headroom does not run make the report nginx's: 2
		// workers of (768 - 2 listeners - 1) / 2.
		name: "unsupported", conf: "site.conf", file: "site.conf",
		host:   debianMachine(1024, 524288),
		server: "nginx", proxied: 764, idle: 1530, binding: limWC, bindingIdle: limWC,
	},
	{
		// Large buffers in /upload/: a request there holds 3 x 16 KiB
		// pooled, proxy_buffer_size 64k in place of the fourth,
		// client_body_buffer_size 1m, proxy_buffers 32 64k and 16 KiB of
		// scratch: 3200 KiB + 2 x 344 B. A cgroup of 1 GiB holds (1 GiB -
		// 10.9 MiB) / that = 324 of them; the slots hold 2 x (4096 - 1) / 2
		// idle clients.
		name: "buffers", conf: "buffers.conf", file: "buffers.conf",
		host: with(debianMachine(1024, 524288), map[string]string{
			"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.max": "1073741824\n"}),
		opts:   Options{Want: 2000},
		server: "headroom", proxied: 324, idle: 4094, binding: limMemoryMax, bindingIdle: limWC,
		fixedProxied: 2000,
	},
	{
		// The same for nginx: 1k + 4k + 1m + 64k + 32 x 64k = 3141 KiB +
		// 2 x 545 B per request, (1 GiB - 24.7 MiB for 2 workers) / that
		// = 325; the soft limit of 1024 bounds idle clients at 2 x (1024 -
		// 5 - 2 logs - 1 channel - 1 listener - 1 channel).
		name: "buffers_nginx", conf: "buffers.conf", file: "buffers.conf",
		host: with(debianMachine(1024, 524288), map[string]string{
			"/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/memory.max": "1073741824\n"}),
		opts:   Options{Server: "nginx"},
		server: "nginx", proxied: 325, idle: 2028, binding: limMemoryMax, bindingIdle: limSoft,
	},
	{
		// Temporary files on nearly full file systems: 3 GiB free where a
		// body may take 4 GiB, 512 MiB where a response may take 1 GiB;
		// the directory where nothing is written is not warned about.
		name: "low_disk", conf: "lowdisk.conf", file: "lowdisk.conf",
		host:   debianMachine(65536, 524288),
		disks:  lowDisks,
		server: "headroom", proxied: 511, idle: 511, binding: limWC, bindingIdle: limWC,
	},
	{
		// Three addresses, two with ssl; the certificates are an ECDSA
		// P-256 one, an RSA-2048 one (ECDSA advised beside it) and one
		// not on this machine. 2 workers of (4096 - 3 listeners - 1) / 2
		// clients. Each idle client is counted as a TLS one: 7.5 KiB.
		name: "tls", conf: "tls.conf", file: "tls.conf",
		host: debianMachine(65536, 524288), files: tlsFiles,
		opts:   Options{Now: time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)},
		server: "headroom", proxied: 4092, idle: 4092, binding: limWC, bindingIdle: limWC,
	},
	{
		// The same for nginx a century later: both certificates have
		// expired. nginx's figures: 14.4 KiB per idle TLS connection;
		// 2 x (4096 - 3 - 1) slots, half of them per proxied request,
		// and the soft limit of 65536 does not bind.
		name: "tls_nginx", conf: "tls.conf", file: "tls.conf",
		host: debianMachine(65536, 524288), files: tlsFiles,
		opts:   Options{Server: "nginx", Now: time.Date(2126, 11, 20, 12, 0, 0, 0, time.UTC)},
		server: "nginx", proxied: 4092, idle: 8184, binding: limWC, bindingIdle: limWC,
	},
	{
		// The seed asked for headroom: the same 511, but waiting in the
		// backlog rather than failing.
		name: "seed_as_headroom", conf: "seed.conf", file: "nginx.conf",
		host:   debianMachine(1024, 524288),
		opts:   Options{Server: "headroom"},
		server: "headroom", proxied: 511, idle: 511, binding: limWC, bindingIdle: limWC,
	},
}

// tlsFiles are the certificates of tls.conf that are on the machine.
var tlsFiles = map[string]string{
	"/srv/proxy/certs/ec.crt":  "certs/ec.crt",
	"/srv/proxy/certs/rsa.crt": "certs/rsa.crt",
}

// lowDisks has /var/spool with 3 GiB free and /var/cache/headroom with
// 512 MiB; /var/spool/headroom/body is not made yet.
var lowDisks = map[string]DiskSpace{
	"/":                              {Free: 40 * gib, Total: 64 * gib},
	"/var":                           {Free: 40 * gib, Total: 64 * gib},
	"/var/spool":                     {Free: 3 * gib, Total: 20 * gib},
	"/var/cache":                     {Free: gib / 2, Total: 2 * gib},
	"/var/cache/headroom":            {Free: gib / 2, Total: 2 * gib},
	"/var/cache/headroom/proxy_temp": {Free: gib / 2, Total: 2 * gib},
}

// diagnose loads a case's configuration and reports on it.
func diagnose(t *testing.T, c doctorCase) *Report {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", c.conf))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(conf.LoadOptions{File: c.file, Source: src, Prefix: "/srv/proxy", Lenient: true})
	if err != nil {
		t.Fatalf("load %s: %v", c.conf, err)
	}
	disks := c.disks
	if disks == nil {
		disks = srvDisks
	}
	host := c.host
	if c.files != nil {
		files := map[string]string{}
		for path, name := range c.files {
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			files[path] = string(b)
		}
		host = with(host, files)
	}
	rep, err := Diagnose(cfg, diskHost{host, disks}, c.opts)
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	return rep
}

// TestDiagnose checks the figures of each case against the model's rules
// worked out by hand in the cases' comments.
func TestDiagnose(t *testing.T) {
	for _, c := range doctorCases {
		t.Run(c.name, func(t *testing.T) {
			rep := diagnose(t, c)
			got := rep.Capacity
			if rep.Server != c.server || got.Proxied != c.proxied || got.Idle != c.idle || got.Binding != c.binding || got.BindingIdle != c.bindingIdle {
				t.Errorf("got %s: %d proxied (%s), %d idle (%s)\nwant %s: %d proxied (%s), %d idle (%s)",
					rep.Server, got.Proxied, got.Binding, got.Idle, got.BindingIdle,
					c.server, c.proxied, c.binding, c.idle, c.bindingIdle)
			}
			binds := 0
			for _, l := range rep.Limits {
				if l.Binds {
					binds++
					if l.Name != got.Binding {
						t.Errorf("limit %q marked binding, want %q", l.Name, got.Binding)
					}
				}
			}
			if binds != 1 {
				t.Errorf("%d limits marked binding, want 1", binds)
			}
			if c.fixedProxied > 0 {
				if len(rep.Fixes) == 0 {
					t.Fatalf("no fixes, want capacity %d after them", c.fixedProxied)
				}
				last := rep.Fixes[len(rep.Fixes)-1].After
				if last.Proxied < c.fixedProxied {
					t.Errorf("after the fixes %d proxied, want at least %d", last.Proxied, c.fixedProxied)
				}
			}
			prev := got.Proxied
			for i, f := range rep.Fixes {
				if f.After.Proxied < prev {
					t.Errorf("fix %d (%s) lowers capacity from %d to %d", i+1, f.Limit, prev, f.After.Proxied)
				}
				prev = f.After.Proxied
				if len(f.Changes) == 0 || f.Changes[0].Join != "" || f.Changes[0].Line == "" {
					t.Errorf("fix %d (%s) has no first line to write: %+v", i+1, f.Limit, f.Changes)
				}
			}
		})
	}
}

// TestGolden compares each case's text report with testdata/NAME.golden;
// "go test ./internal/doctor -update" rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range doctorCases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := diagnose(t, c).WriteText(&b); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name, b.String())
		})
	}
}

// checkGolden compares text with testdata/NAME.golden, or writes it there
// under -update.
func checkGolden(t *testing.T, name, text string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if text != string(want) {
		t.Errorf("report differs from %s (run with -update and review the diff):\n%s", path, diffLines(string(want), text))
	}
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out = append(out, "- "+wl, "+ "+gl)
		}
	}
	return strings.Join(out, "\n")
}

// TestJSON checks that the JSON form carries the text's facts under the
// documented names.
func TestJSON(t *testing.T) {
	rep := diagnose(t, doctorCases[0])
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"config", "server", "server_reason", "limits_of", "running", "capacity", "other",
		"startup_messages", "limits", "want", "want_reason", "fixes", "advice", "notes", "unsupported", "memory_model", "temp_dirs", "tls", "http2", "zone_sync"} {
		if _, ok := m[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	capa := m["capacity"].(map[string]any)
	if capa["proxied"] != float64(511) || capa["binding"] != "worker_connections" {
		t.Errorf("capacity = %v, want 511 proxied, binding worker_connections", capa)
	}
	lim := m["limits"].([]any)[0].(map[string]any)
	for _, key := range []string{"name", "value", "source", "proxied", "idle", "binds"} {
		if _, ok := lim[key]; !ok {
			t.Errorf("limit lacks %q: %v", key, lim)
		}
	}
}

// TestChooseServer checks the rule that picks the server to report for.
func TestChooseServer(t *testing.T) {
	tests := []struct {
		name, file, asked string
		unsupported       int
		want              string
	}{
		{"asked", "nginx.conf", "headroom", 3, "headroom"},
		{"unsupported directives", "site.conf", "", 1, "nginx"},
		{"named nginx.conf", "/etc/nginx/nginx.conf", "", 0, "nginx"},
		{"headroom's own", "/srv/proxy.conf", "", 0, "headroom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &conf.Config{File: tc.file, Unsupported: make([]conf.Unsupported, tc.unsupported)}
			got, reason, err := chooseServer(cfg, tc.asked)
			if err != nil || got != tc.want || reason == "" {
				t.Errorf("chooseServer(%s, %q) = %q, %q, %v; want %q", tc.file, tc.asked, got, reason, err, tc.want)
			}
		})
	}
	if _, _, err := chooseServer(&conf.Config{}, "apache"); err == nil {
		t.Error("chooseServer accepted \"apache\"")
	}
}
