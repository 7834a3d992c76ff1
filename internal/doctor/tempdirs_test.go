package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// defaultLevel is a location with nginx's default buffers and
// temporary file settings.
func defaultLevel() level {
	return level{name: "location /", at: "t.conf:3", bodyBuffer: 8 << 10, bodyToFile: true, maxBody: 1 << 20,
		headBuffer: 4 << 10, spooled: true, buffersNum: 8, buffersSize: 4 << 10, maxTempFile: 1 << 30,
		bodyTemp: "/srv/client_body_temp", proxyTemp: "/srv/proxy_temp"}
}

// TestRequestBuffers checks what a request holds in buffers under each
// server's rules.
func TestRequestBuffers(t *testing.T) {
	big := defaultLevel()
	big.bodyBuffer, big.headBuffer, big.buffersNum, big.buffersSize = 1<<20, 64<<10, 32, 64<<10
	unbuffered := big
	unbuffered.spooled = false
	inFile := defaultLevel()
	inFile.bodyInFile = true
	tests := []struct {
		name   string
		server string
		l      *level
		want   int64
		terms  string
	}{
		{"headroom defaults", headroom, ptr(defaultLevel()), (4*16 + 8 + 32 + 16) << 10,
			"4 x 16 KiB pooled + client_body_buffer_size 8k + proxy_buffers 8 4k + a 16 KiB scratch buffer"},
		{"headroom large buffers", headroom, &big, (3*16 + 64 + 1024 + 2048 + 16) << 10,
			"3 x 16 KiB pooled + proxy_buffer_size 64k + client_body_buffer_size 1m + proxy_buffers 32 64k + a 16 KiB scratch buffer"},
		{"headroom without response buffering", headroom, &unbuffered, (3*16 + 64 + 1024) << 10,
			"3 x 16 KiB pooled + proxy_buffer_size 64k + client_body_buffer_size 1m"},
		{"headroom client_body_in_file_only", headroom, &inFile, (4*16 + 32 + 16) << 10,
			"4 x 16 KiB pooled + proxy_buffers 8 4k + a 16 KiB scratch buffer"},
		{"headroom without proxying", headroom, nil, 4 * 16 << 10, "4 x 16 KiB pooled"},
		{"nginx defaults", nginx, ptr(defaultLevel()), (1 + 4 + 8 + 4 + 32) << 10,
			"client_header_buffer_size 1k + request_pool_size 4k + client_body_buffer_size 8k + proxy_buffer_size 4k + proxy_buffers 8 4k"},
		{"nginx large buffers", nginx, &big, (1 + 4 + 1024 + 64 + 2048) << 10,
			"client_header_buffer_size 1k + request_pool_size 4k + client_body_buffer_size 1m + proxy_buffer_size 64k + proxy_buffers 32 64k"},
		{"nginx without response buffering", nginx, &unbuffered, (1 + 4 + 1024 + 64) << 10,
			"client_header_buffer_size 1k + request_pool_size 4k + client_body_buffer_size 1m + proxy_buffer_size 64k"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, terms := requestBuffers(tc.server, tc.l)
			if got != tc.want || strings.Join(terms, " + ") != tc.terms {
				t.Errorf("requestBuffers = %d (%s)\nwant %d (%s)", got, strings.Join(terms, " + "), tc.want, tc.terms)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestMemoryModel checks that the model takes the location whose
// requests hold the most, for both servers, and adds the connections.
func TestMemoryModel(t *testing.T) {
	small, big := defaultLevel(), defaultLevel()
	big.name, big.at, big.bodyBuffer = "location /upload/", "t.conf:9", 1<<20
	for _, server := range []string{headroom, nginx} {
		p := params{server: server, levels: []level{small, big}}
		mm := memoryModel(p, 2)
		bufs, _ := requestBuffers(server, &big)
		idle := int64(headroomIdleBytes)
		if server == nginx {
			idle = nginxIdleBytes
		}
		if mm.RequestBytes != 2*idle+bufs || mm.IdleBytes != idle {
			t.Errorf("%s: request %d, idle %d; want %d, %d", server, mm.RequestBytes, mm.IdleBytes, 2*idle+bufs, idle)
		}
		if want := "location /upload/ at t.conf:9, the most of the 2 locations that proxy"; mm.BuffersWhere != want {
			t.Errorf("%s: buffers of %q, want %q", server, mm.BuffersWhere, want)
		}
		if !strings.Contains(mm.Buffers, "client_body_buffer_size 1m") {
			t.Errorf("%s: buffers %q lack client_body_buffer_size 1m", server, mm.Buffers)
		}
	}
	if mm := memoryModel(params{server: headroom}, 1); mm.BuffersWhere != "" || mm.RequestBytes != 2*headroomIdleBytes+4*headroomPoolBytes {
		t.Errorf("without proxying: %+v", mm)
	}
}

// TestTempDirs checks the free space readings and the warnings.
func TestTempDirs(t *testing.T) {
	disks := func(m map[string]DiskSpace) statfser {
		return diskHost{disks: m}.Statfs
	}
	fs100 := map[string]DiskSpace{"/": {Free: 100 * gib, Total: 200 * gib}, "/srv": {Free: 100 * gib, Total: 200 * gib}}
	low := map[string]DiskSpace{"/": {Free: gib / 4, Total: gib}, "/srv": {Free: gib / 4, Total: gib}}
	shared := defaultLevel()
	shared.bodyTemp, shared.proxyTemp = "/srv/temp", "/srv/temp"
	shared.maxBody = 3 << 30
	unbounded := defaultLevel()
	unbounded.maxBody = 0
	streaming := defaultLevel()
	streaming.bodyToFile, streaming.maxTempFile = false, 0
	tests := []struct {
		name   string
		levels []level
		statfs statfser
		// per directory: where statfs read, and whether a warning is due
		statfsPath []string
		warn       []bool
		request    []int64 // -1: no bound
		notes      []string
	}{
		{"roomy, not created yet", []level{defaultLevel()}, disks(fs100),
			[]string{"/srv", "/srv"}, []bool{false, false}, []int64{1 << 20, 1 << 30},
			[]string{"room for 102400 at once; not created yet", "room for 100 at once; not created yet"}},
		{"below 1 GiB", []level{defaultLevel()}, disks(low),
			[]string{"/srv", "/srv"}, []bool{true, true}, []int64{1 << 20, 1 << 30}, nil},
		{"one directory for both: a request may write 3 GiB + 1 GiB there", []level{shared}, disks(map[string]DiskSpace{"/srv/temp": {Free: 3 * gib, Total: 8 * gib}}),
			[]string{"/srv/temp"}, []bool{true}, []int64{4 << 30}, []string{"client_max_body_size 3072m + proxy_max_temp_file_size 1024m"}},
		{"bodies without bound", []level{unbounded}, disks(fs100),
			[]string{"/srv", "/srv"}, []bool{false, false}, []int64{-1, 1 << 30}, []string{"no bound"}},
		{"nothing written", []level{streaming}, disks(low),
			[]string{"/srv", "/srv"}, []bool{false, false}, []int64{0, 0}, []string{"no files are written here"}},
		{"unknown machine", []level{defaultLevel()}, nil,
			[]string{"", ""}, []bool{false, false}, []int64{1 << 20, 1 << 30}, []string{"one request writes up to 1.0 MiB"}},
	}
	cfg := &conf.Config{File: "/srv/t.conf"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := tempDirs(cfg, tc.levels, tc.statfs, newNamer(cfg))
			if len(ds) != len(tc.statfsPath) {
				t.Fatalf("%d directories, want %d: %+v", len(ds), len(tc.statfsPath), ds)
			}
			for i, d := range ds {
				if d.StatfsPath != tc.statfsPath[i] || (d.Warning != "") != tc.warn[i] {
					t.Errorf("%s: statfs of %q, warning %q; want %q, warning %v", d.Path, d.StatfsPath, d.Warning, tc.statfsPath[i], tc.warn[i])
				}
				if (tc.statfs == nil) != (d.FreeBytes == nil) || (tc.statfs == nil) != (d.Error != "") {
					t.Errorf("%s: free %v, error %q", d.Path, d.FreeBytes, d.Error)
				}
				switch want := tc.request[i]; {
				case want < 0 && d.RequestBytes != nil:
					t.Errorf("%s: request bytes %d, want no bound", d.Path, *d.RequestBytes)
				case want >= 0 && (d.RequestBytes == nil || *d.RequestBytes != want):
					t.Errorf("%s: request bytes %v, want %d", d.Path, d.RequestBytes, want)
				}
				if i < len(tc.notes) && !strings.Contains(d.Note, tc.notes[i]) {
					t.Errorf("%s: note %q lacks %q", d.Path, d.Note, tc.notes[i])
				}
			}
		})
	}
}

// TestReadFree checks the walk to the nearest existing parent and the
// errors that stop it.
func TestReadFree(t *testing.T) {
	denied := func(path string) (DiskSpace, error) {
		if path == "/srv" {
			return DiskSpace{Free: 1}, nil
		}
		return DiskSpace{}, &fs.PathError{Op: "statfs", Path: path, Err: syscall.EACCES}
	}
	d := TempDir{Path: "/srv/a/b"}
	readFree(&d, denied)
	if d.FreeBytes != nil || d.Error != `statfs() "/srv/a/b" failed (13: Permission denied)` {
		t.Errorf("denied: free %v, error %q", d.FreeBytes, d.Error)
	}
	none := func(path string) (DiskSpace, error) {
		return DiskSpace{}, &fs.PathError{Op: "statfs", Path: path, Err: fs.ErrNotExist}
	}
	d = TempDir{Path: "/srv/a"}
	readFree(&d, none)
	if d.FreeBytes != nil || !strings.Contains(d.Error, `statfs() "/" failed`) {
		t.Errorf("nothing exists: free %v, error %q", d.FreeBytes, d.Error)
	}
	d = TempDir{Path: "/srv/a/"}
	readFree(&d, diskHost{disks: map[string]DiskSpace{"/srv/a": {Free: 7, Total: 9}}}.Statfs)
	if !d.Exists || d.StatfsPath != "/srv/a" || *d.FreeBytes != 7 || *d.TotalBytes != 9 {
		t.Errorf("existing directory: %+v", d)
	}
}

// TestDiskReader checks which hosts give free space: a DiskHost, this
// machine, and no other.
func TestDiskReader(t *testing.T) {
	if diskReader(capacity.FixedHost{}) != nil {
		t.Error("a FixedHost without file systems reads free space")
	}
	if diskReader(diskHost{}) == nil || diskReader(capacity.System) == nil {
		t.Error("a DiskHost or this machine gives no free space")
	}
	ds, err := systemStatfs(t.TempDir())
	if err != nil || ds.Total == 0 || ds.Free > ds.Total {
		t.Errorf("statfs of a temporary directory: %+v, %v", ds, err)
	}
	if _, err := systemStatfs("/nonexistent/doctor/test"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("statfs of a missing directory: %v, want ErrNotExist", err)
	}
}

// TestTempDirsJSON checks the low_disk case's temporary directories in
// the JSON form.
func TestTempDirsJSON(t *testing.T) {
	var c doctorCase
	for _, dc := range doctorCases {
		if dc.name == "low_disk" {
			c = dc
		}
	}
	var b bytes.Buffer
	if err := diagnose(t, c).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Memory struct {
			Buffers      string `json:"buffers"`
			BuffersWhere string `json:"buffers_where"`
		} `json:"memory_model"`
		TempDirs []struct {
			Path           string   `json:"path"`
			For            []string `json:"for"`
			Source         string   `json:"source"`
			Exists         bool     `json:"exists"`
			StatfsPath     string   `json:"statfs_path"`
			FreeBytes      *int64   `json:"free_bytes"`
			RequestBytes   *int64   `json:"request_bytes"`
			WarnBelowBytes int64    `json:"warn_below_bytes"`
			Warning        string   `json:"warning"`
		} `json:"temp_dirs"`
	}
	if err := json.Unmarshal(b.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Memory.Buffers == "" || !strings.HasPrefix(rep.Memory.BuffersWhere, "location / at lowdisk.conf:") {
		t.Errorf("memory_model: %+v", rep.Memory)
	}
	if len(rep.TempDirs) != 3 {
		t.Fatalf("%d temp_dirs, want 3: %s", len(rep.TempDirs), b.String())
	}
	body, resp, live := rep.TempDirs[0], rep.TempDirs[1], rep.TempDirs[2]
	if body.Path != "/var/spool/headroom/body" || body.Exists || body.StatfsPath != "/var/spool" || *body.FreeBytes != 3*gib ||
		*body.RequestBytes != 4*gib || body.WarnBelowBytes != 4*gib || body.Warning == "" || body.Source != "lowdisk.conf:10" {
		t.Errorf("body directory: %+v", body)
	}
	if resp.Path != "/var/cache/headroom/proxy_temp" || !resp.Exists || *resp.FreeBytes != gib/2 || resp.WarnBelowBytes != gib || resp.Warning == "" {
		t.Errorf("response directory: %+v", resp)
	}
	if len(live.For) != 2 || *live.RequestBytes != 0 || live.WarnBelowBytes != 0 || live.Warning != "" {
		t.Errorf("directory without files: %+v", live)
	}
}
