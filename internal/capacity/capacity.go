// Package capacity is headroom's one model of connection budgets: from
// the open-file limit, the number of workers and the configured
// worker_connections it derives how many connection slots each worker
// gets. The runtime sizes its event loops with it; reports about capacity
// use the same function, so the two cannot disagree.
package capacity

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Input is what the plan depends on.
type Input struct {
	// NofileSoft and NofileHard are RLIMIT_NOFILE as found at start.
	NofileSoft, NofileHard uint64
	// WorkerRlimitNofile is the configured worker_rlimit_nofile (0 = unset).
	WorkerRlimitNofile int
	// Workers is the number of event loops.
	Workers int
	// WorkerConnections is the configured figure (0 = derive it).
	WorkerConnections int
	// Listeners is the number of listening sockets each worker holds.
	Listeners int
	// LogFiles is the number of log files kept open.
	LogFiles int
	// WorkerLogFiles is how many descriptors each worker may hold for
	// access logs with variables in their paths (conf's WorkerLogFiles).
	WorkerLogFiles int
	// WorkerCachedFiles is how many descriptors open_file_cache may keep
	// open in each worker between requests (conf's WorkerCachedFiles).
	WorkerCachedFiles int
}

// Reserve is the number of descriptors kept free outside the connection
// slots: standard streams, epoll and eventfd per worker, and a margin for
// name resolution, the pid file and opening logs again.
const Reserve = 32

// MinTempFiles is the number of descriptors each worker keeps for
// temporary files (request bodies beyond client_body_buffer_size,
// responses beyond proxy_buffers) even when its slots take every other
// descriptor. Descriptors left over beyond the slots go to temporary
// files too. A request that needs a file while the worker's are all
// open waits for one rather than making the process run out of
// descriptors: nginx opens temporary files outside worker_connections and
// fails the request with EMFILE when the limit is reached.
const MinTempFiles = 64

// Plan is the outcome.
type Plan struct {
	// Nofile is the RLIMIT_NOFILE the process should run with.
	Nofile int
	// WorkerConnections is the number of slots each worker gets.
	WorkerConnections int
	// Derived is true when worker_connections was not configured.
	Derived bool
	// Allowed is the largest worker_connections the descriptor limit
	// permits with this many workers.
	Allowed int
	// TempFiles is how many temporary files each worker may hold open at
	// once: MinTempFiles and whatever its slots leave of its share.
	TempFiles int
	// Warnings are messages to log at start, in nginx's manner.
	Warnings []string
}

// Compute derives the plan. All workers are threads of one process and
// share its descriptor table, so together they must fit in one
// RLIMIT_NOFILE — unlike nginx, whose workers each have their own.
func Compute(in Input) Plan {
	workers := max(in.Workers, 1)
	nofile := int(min(in.NofileHard, 1<<30))
	if in.NofileSoft > in.NofileHard {
		nofile = int(min(in.NofileSoft, 1<<30))
	}
	if in.WorkerRlimitNofile > 0 {
		nofile = in.WorkerRlimitNofile
	}
	base := Reserve + in.LogFiles + (2+in.WorkerLogFiles+in.WorkerCachedFiles)*workers
	allowed := (nofile-base)/workers - MinTempFiles
	if allowed < 2+in.Listeners {
		allowed = 2 + in.Listeners
	}
	p := Plan{Nofile: nofile, Allowed: allowed}
	switch {
	case in.WorkerConnections == 0:
		p.WorkerConnections = allowed
		p.Derived = true
	case in.WorkerConnections > allowed:
		p.WorkerConnections = allowed
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d worker_connections exceed open file resource limit: %d, using %d per worker for %d workers",
			in.WorkerConnections, nofile, allowed, workers))
	default:
		p.WorkerConnections = in.WorkerConnections
	}
	p.TempFiles = max((nofile-base)/workers-p.WorkerConnections, 0)
	return p
}

// Limits reads RLIMIT_NOFILE.
func Limits() (soft, hard uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	return rl.Cur, rl.Max, nil
}

// Apply sets RLIMIT_NOFILE's soft limit to n (raising the hard limit only
// where the process may).
func Apply(n int) error {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	want := uint64(n)
	if rl.Cur == want {
		return nil
	}
	nl := unix.Rlimit{Cur: want, Max: max(rl.Max, want)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &nl); err != nil {
		nl.Max = rl.Max
		nl.Cur = min(want, rl.Max)
		if err2 := unix.Setrlimit(unix.RLIMIT_NOFILE, &nl); err2 != nil {
			return err
		}
		return fmt.Errorf("setrlimit(RLIMIT_NOFILE, %d) failed (%v), using %d", n, err, nl.Cur)
	}
	return nil
}

// ClientBudget is how many of a worker's slots clients may hold: half of
// those left after its listeners, so that every client's request can have
// an upstream connection — the other half — and a request is never held
// up for lack of a slot for its upstream. Clients beyond the budget wait
// in the kernel's listen backlog, where they cost no slot.
func ClientBudget(slots, listeners int) int {
	return max((slots-listeners)/2, 1)
}

// DefaultBacklog is the listen backlog used when a listen directive gives
// none: the kernel's own cap, net.core.somaxconn, rather than nginx's 511.
// Clients that wait for a slot wait in the backlog; with a short one the
// kernel drops their handshakes and they retry after a second or more.
func DefaultBacklog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 511
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 511
	}
	return n
}
