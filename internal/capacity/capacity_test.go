package capacity

import (
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The expected figures below follow Compute's rule: the descriptor limit
// is the hard RLIMIT_NOFILE (capped at 1<<30) unless worker_rlimit_nofile
// is set; Reserve (32), the log files and two descriptors per worker are
// set aside; the rest is divided evenly between the workers, rounding
// down; each worker's share keeps MinTempFiles (64) for temporary files
// and gives the rest to slots, never fewer than 2 plus the number of
// listeners; what the slots leave of the share is for temporary files.
func TestCompute(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want Plan
	}{
		{
			// fixed = 32 + 3 + 2*4 = 43; (4096 - 43) / 4 = 1013; 1013 - 64 = 949.
			name: "derived from the hard limit and workers",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, Workers: 4, Listeners: 2, LogFiles: 3},
			want: Plan{Nofile: 4096, WorkerConnections: 949, Derived: true, Allowed: 949, TempFiles: 64},
		},
		{
			// fixed = 32 + 1 + 2*3 = 39; 961 / 3 = 320.33; 320 - 64 = 256.
			name: "derived figure rounds down",
			in:   Input{NofileSoft: 1000, NofileHard: 1000, Workers: 3, Listeners: 1, LogFiles: 1},
			want: Plan{Nofile: 1000, WorkerConnections: 256, Derived: true, Allowed: 256, TempFiles: 64},
		},
		{
			// workers = 1; fixed = 32 + 0 + 2 = 34; 1024 - 34 - 64 = 926.
			name: "zero workers count as one",
			in:   Input{NofileSoft: 1024, NofileHard: 1024, Workers: 0},
			want: Plan{Nofile: 1024, WorkerConnections: 926, Derived: true, Allowed: 926, TempFiles: 64},
		},
		{
			// An unlimited hard limit is capped: 1<<30 - 34 - 64 = 1073741726.
			name: "infinite hard limit is capped at 1<<30",
			in:   Input{NofileSoft: 1024, NofileHard: math.MaxUint64, Workers: 1},
			want: Plan{Nofile: 1 << 30, WorkerConnections: 1073741726, Derived: true, Allowed: 1073741726, TempFiles: 64},
		},
		{
			// 2048 - 34 - 64 = 1950.
			name: "soft limit above hard limit is used",
			in:   Input{NofileSoft: 2048, NofileHard: 1024, Workers: 1},
			want: Plan{Nofile: 2048, WorkerConnections: 1950, Derived: true, Allowed: 1950, TempFiles: 64},
		},
		{
			// open_file_cache's descriptors are set aside per worker like
			// the log files: fixed = 32 + 3 + (2+100)*4 = 443;
			// (4096 - 443) / 4 = 913; 913 - 64 = 849.
			name: "open_file_cache descriptors come out of each worker's share",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, Workers: 4, Listeners: 2, LogFiles: 3, WorkerCachedFiles: 100},
			want: Plan{Nofile: 4096, WorkerConnections: 849, Derived: true, Allowed: 849, TempFiles: 64},
		},
		{
			// The slots leave 1013 - 512 = 501 of each share to files.
			name: "configured below the limit is kept",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, Workers: 4, Listeners: 2, LogFiles: 3, WorkerConnections: 512},
			want: Plan{Nofile: 4096, WorkerConnections: 512, Allowed: 949, TempFiles: 501},
		},
		{
			name: "configured exactly at the limit is kept",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, Workers: 4, Listeners: 2, LogFiles: 3, WorkerConnections: 949},
			want: Plan{Nofile: 4096, WorkerConnections: 949, Allowed: 949, TempFiles: 64},
		},
		{
			name: "configured above the limit is lowered with a warning",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, Workers: 4, Listeners: 2, LogFiles: 3, WorkerConnections: 2000},
			want: Plan{Nofile: 4096, WorkerConnections: 949, Allowed: 949, TempFiles: 64, Warnings: []string{
				"2000 worker_connections exceed open file resource limit: 4096, using 949 per worker for 4 workers",
			}},
		},
		{
			// fixed = 32 + 2 + 2*2 = 38; (65536 - 38) / 2 = 32749; - 64 = 32685.
			name: "worker_rlimit_nofile above the hard limit takes precedence",
			in:   Input{NofileSoft: 1024, NofileHard: 4096, WorkerRlimitNofile: 65536, Workers: 2, LogFiles: 2},
			want: Plan{Nofile: 65536, WorkerConnections: 32685, Derived: true, Allowed: 32685, TempFiles: 64},
		},
		{
			// 200 - 34 - 64 = 102, although the hard limit would allow more.
			name: "worker_rlimit_nofile below the hard limit takes precedence",
			in:   Input{NofileSoft: 1 << 20, NofileHard: 1 << 20, WorkerRlimitNofile: 200, Workers: 1, WorkerConnections: 512},
			want: Plan{Nofile: 200, WorkerConnections: 102, Allowed: 102, TempFiles: 64, Warnings: []string{
				"512 worker_connections exceed open file resource limit: 200, using 102 per worker for 1 workers",
			}},
		},
		{
			// fixed = 32 + 2 + 2*2 = 38 > 16, so the floor 2 + 3 applies
			// and nothing is left for temporary files.
			name: "tiny limit derives the floor of two plus listeners",
			in:   Input{NofileSoft: 16, NofileHard: 16, Workers: 2, Listeners: 3, LogFiles: 2},
			want: Plan{Nofile: 16, WorkerConnections: 5, Derived: true, Allowed: 5},
		},
		{
			name: "tiny limit lowers a configured figure to the floor",
			in:   Input{NofileSoft: 16, NofileHard: 16, Workers: 2, Listeners: 3, LogFiles: 2, WorkerConnections: 1000},
			want: Plan{Nofile: 16, WorkerConnections: 5, Allowed: 5, Warnings: []string{
				"1000 worker_connections exceed open file resource limit: 16, using 5 per worker for 2 workers",
			}},
		},
		{
			// 100 - 34 - 64 = 2 is below 2 + 1; the slot taken from the
			// temporary files' share leaves them 63.
			name: "floor applies just below it",
			in:   Input{NofileSoft: 100, NofileHard: 100, Workers: 1, Listeners: 1},
			want: Plan{Nofile: 100, WorkerConnections: 3, Derived: true, Allowed: 3, TempFiles: 63},
		},
		{
			// 102 - 34 - 64 = 4 is above 2 + 1.
			name: "floor does not apply above it",
			in:   Input{NofileSoft: 102, NofileHard: 102, Workers: 1, Listeners: 1},
			want: Plan{Nofile: 102, WorkerConnections: 4, Derived: true, Allowed: 4, TempFiles: 64},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Compute(%+v)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestClientBudget(t *testing.T) {
	tests := []struct {
		name                   string
		slots, listeners, want int
	}{
		{"nginx's 1024 with one listener", 1024, 1, 511},
		{"two listeners", 1024, 2, 511},
		{"odd remainder rounds down", 12, 1, 5},
		{"never below one", 2, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientBudget(tc.slots, tc.listeners); got != tc.want {
				t.Errorf("ClientBudget(%d, %d) = %d, want %d", tc.slots, tc.listeners, got, tc.want)
			}
		})
	}
}

func TestDefaultBacklogIsTheKernelCap(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Skip("no /proc/sys/net/core/somaxconn here")
	}
	want, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if got := DefaultBacklog(); got != want {
		t.Errorf("DefaultBacklog() = %d, want net.core.somaxconn %d", got, want)
	}
}
