package capacity

import (
	"strings"
	"testing"
)

// procLimits is a /proc/PID/limits file with the given open file limit.
func procLimits(soft, hard string) string {
	return "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max open files            " + soft + "                 " + hard + "               files     \n" +
		"Max locked memory         8388608              8388608              bytes     \n"
}

func TestReadMachine(t *testing.T) {
	h := FixedHost{CPUs: 8, Soft: 1024, Hard: 524288, Files: map[string]string{
		"/proc/sys/fs/file-max":                                "9223372036854775807\n",
		"/proc/sys/fs/file-nr":                                 "2912\t0\t9223372036854775807\n",
		"/proc/sys/fs/nr_open":                                 "1048576\n",
		"/proc/sys/net/core/somaxconn":                         "4096\n",
		"/proc/sys/net/ipv4/tcp_max_syn_backlog":               "512\n",
		"/proc/sys/net/ipv4/tcp_syncookies":                    "1\n",
		"/proc/sys/net/ipv4/tcp_tw_reuse":                      "2\n",
		"/proc/sys/net/ipv4/ip_local_port_range":               "32768\t60999\n",
		"/proc/self/cgroup":                                    "0::/system.slice/proxy.service\n",
		"/sys/fs/cgroup/system.slice/proxy.service/memory.max": "536870912\n",
		"/proc/meminfo":                                        "MemTotal:        4010000 kB\nMemFree:          100000 kB\n",
		"/proc/self/status":                                    "Name:\tcat\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n",
		"/etc/passwd":                                          "root:x:0:0:root:/root:/bin/bash\n",
	}}
	m := ReadMachine(h)
	checks := []struct {
		name string
		got  Reading
		want uint64
	}{
		{"soft", m.NofileSoft, 1024},
		{"hard", m.NofileHard, 524288},
		{"file-max", m.FileMax, 9223372036854775807},
		{"file-nr", m.FileNr, 2912},
		{"nr_open", m.NrOpen, 1048576},
		{"somaxconn", m.Somaxconn, 4096},
		{"syn backlog", m.SynBacklog, 512},
		{"syncookies", m.Syncookies, 1},
		{"tw_reuse", m.TwReuse, 2},
		{"port low", m.PortLow, 32768},
		{"port high", m.PortHigh, 60999},
		{"memory.max", m.MemoryMax, 512 << 20},
		{"MemTotal", m.MemTotal, 4010000 * 1024},
	}
	for _, c := range checks {
		if !c.got.OK || c.got.Value != c.want {
			t.Errorf("%s = %+v, want %d", c.name, c.got, c.want)
		}
	}
	if m.ConntrackMax.OK || m.ConntrackMax.Err != "absent" {
		t.Errorf("nf_conntrack_max = %+v, want absent", m.ConntrackMax)
	}
	if m.CPUs != 8 || !m.Privileged || m.User != "root" {
		t.Errorf("CPUs %d, privileged %v, user %q; want 8, true, root", m.CPUs, m.Privileged, m.User)
	}
	if m.Ports() != 28232 || m.DefaultBacklog() != 4096 {
		t.Errorf("Ports() = %d, DefaultBacklog() = %d; want 28232, 4096", m.Ports(), m.DefaultBacklog())
	}
}

// TestReadMachineEmpty checks that a machine showing nothing reads as
// unknown everywhere, with nginx's backlog as the default.
func TestReadMachineEmpty(t *testing.T) {
	m := ReadMachine(FixedHost{CPUs: 1})
	if m.FileMax.OK || m.Somaxconn.OK || m.MemoryMax.OK || m.MemTotal.OK || m.Privileged {
		t.Errorf("empty machine read as %+v", m)
	}
	if m.Ports() != 0 || m.DefaultBacklog() != 511 {
		t.Errorf("Ports() = %d, DefaultBacklog() = %d; want 0, 511", m.Ports(), m.DefaultBacklog())
	}
}

func TestReadCgroupMemory(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		want   uint64
		ok     bool
		source string
	}{
		{
			name: "v2 limit",
			files: map[string]string{"/proc/self/cgroup": "0::/a.slice/b.scope\n",
				"/sys/fs/cgroup/a.slice/b.scope/memory.max": "1073741824\n"},
			want: 1 << 30, ok: true, source: "/sys/fs/cgroup/a.slice/b.scope/memory.max",
		},
		{
			name: "v2 no limit",
			files: map[string]string{"/proc/self/cgroup": "0::/a.slice\n",
				"/sys/fs/cgroup/a.slice/memory.max": "max\n"},
			want: Unlimited, ok: true, source: "/sys/fs/cgroup/a.slice/memory.max",
		},
		{
			name: "v2 in a container that sees only its root",
			files: map[string]string{"/proc/self/cgroup": "0::/docker/abc\n",
				"/sys/fs/cgroup/memory.max": "268435456\n"},
			want: 256 << 20, ok: true, source: "/sys/fs/cgroup/memory.max",
		},
		{
			name: "hybrid: v1 memory controller",
			files: map[string]string{"/proc/self/cgroup": "4:memory:/process_api/x\n1:cpu:/\n0::/\n",
				"/sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": "9223372036854771712\n"},
			want: Unlimited, ok: true, source: "/sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes",
		},
		{
			name: "v1 limit with other controllers on the line",
			files: map[string]string{"/proc/self/cgroup": "7:cpuacct,memory:/svc\n",
				"/sys/fs/cgroup/memory/svc/memory.limit_in_bytes": "104857600\n"},
			want: 100 << 20, ok: true, source: "/sys/fs/cgroup/memory/svc/memory.limit_in_bytes",
		},
		{
			name:  "no cgroup file",
			files: map[string]string{},
			ok:    false, source: "/proc/self/cgroup",
		},
		{
			name:  "no memory file",
			files: map[string]string{"/proc/self/cgroup": "0::/a\n"},
			ok:    false, source: "/sys/fs/cgroup/a/memory.max",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ReadCgroupMemory(FixedHost{Files: tc.files}, "self")
			if got.OK != tc.ok || got.Value != tc.want || got.Source != tc.source {
				t.Errorf("got %+v, want value %d ok %v source %s", got, tc.want, tc.ok, tc.source)
			}
		})
	}
}

func TestReadProcess(t *testing.T) {
	h := FixedHost{Files: map[string]string{
		"/proc/100/limits":            procLimits("1024", "524288"),
		"/proc/100/comm":              "nginx\n",
		"/proc/100/task/100/children": "101 102 ",
		"/proc/101/limits":            procLimits("65536", "65536"),
		"/proc/101/comm":              "nginx\n",
		"/proc/200/limits":            procLimits("unlimited", "unlimited"),
	}}
	p, err := ReadProcess(h, 100)
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != 100 || p.Name != "nginx" || p.Soft != 1024 || p.Hard != 524288 {
		t.Errorf("master = %+v", p)
	}
	if p.Worker == nil || p.Worker.PID != 101 || p.Worker.Soft != 65536 || p.Worker.Worker != nil {
		t.Errorf("worker = %+v", p.Worker)
	}
	p, err = ReadProcess(h, 200)
	if err != nil || p.Soft != Unlimited || p.Hard != Unlimited || p.Worker != nil {
		t.Errorf("ReadProcess(200) = %+v, %v; want unlimited, no worker", p, err)
	}
	if _, err := ReadProcess(h, 300); err == nil || !strings.Contains(err.Error(), `open() "/proc/300/limits" failed`) {
		t.Errorf("ReadProcess(300) error = %v", err)
	}
}

func TestParseNofile(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		soft, hard uint64
		ok         bool
	}{
		{"numbers", procLimits("1024", "4096"), 1024, 4096, true},
		{"unlimited", procLimits("unlimited", "unlimited"), Unlimited, Unlimited, true},
		{"missing line", "Limit  Soft Limit  Hard Limit  Units\n", 0, 0, false},
		{"garbage", "Max open files            lots                 more               files\n", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			soft, hard, ok := parseNofile([]byte(tc.in))
			if soft != tc.soft || hard != tc.hard || ok != tc.ok {
				t.Errorf("parseNofile = %d, %d, %v; want %d, %d, %v", soft, hard, ok, tc.soft, tc.hard, tc.ok)
			}
		})
	}
}

// TestSystemMachine reads this machine: the figures reports use must
// agree with what the runtime uses.
func TestSystemMachine(t *testing.T) {
	m := ReadMachine(System)
	if m.DefaultBacklog() != DefaultBacklog() {
		t.Errorf("Machine.DefaultBacklog() = %d, DefaultBacklog() = %d", m.DefaultBacklog(), DefaultBacklog())
	}
	if !m.NofileSoft.OK || !m.NofileHard.OK || m.NofileSoft.Value > m.NofileHard.Value {
		t.Errorf("open file limit %+v / %+v", m.NofileSoft, m.NofileHard)
	}
	if m.CPUs < 1 {
		t.Errorf("CPUs = %d", m.CPUs)
	}
}
