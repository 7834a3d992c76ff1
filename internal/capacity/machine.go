package capacity

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Host is where machine readings come from: files under /proc and /sys,
// the CPU count and the open file limit. Reports read the machine through
// it, so that tests can describe a machine instead of reading this one.
type Host interface {
	// ReadFile returns a file's contents, like os.ReadFile.
	ReadFile(name string) ([]byte, error)
	// NumCPU is the number of CPUs "worker_processes auto" counts.
	NumCPU() int
	// Nofile is the RLIMIT_NOFILE that a process started from here
	// inherits, with where it was read.
	Nofile() (soft, hard uint64, source string, err error)
}

// System is the Host of the machine the process runs on.
var System Host = systemHost{}

type systemHost struct{}

func (systemHost) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (systemHost) NumCPU() int { return runtime.NumCPU() }

// Nofile asks a child process for its limits. The Go runtime raises its
// own process's soft limit to the hard one at start and restores the
// original in the processes it starts, so getrlimit here would report the
// raised figure, not the one a server started from the same shell gets.
func (systemHost) Nofile() (uint64, uint64, string, error) {
	if out, err := exec.Command("cat", "/proc/self/limits").Output(); err == nil {
		if soft, hard, ok := parseNofile(out); ok {
			return soft, hard, "inherited from this shell", nil
		}
	}
	soft, hard, err := Limits()
	return soft, hard, "getrlimit() of this process", err
}

// FixedHost is a Host whose readings are given rather than read: a
// description of a machine, for tests and for reports about a machine
// other than this one.
type FixedHost struct {
	// Files maps paths to contents; other paths do not exist.
	Files map[string]string
	// CPUs is the CPU count.
	CPUs int
	// Soft and Hard are the inherited RLIMIT_NOFILE.
	Soft, Hard uint64
}

// ReadFile returns the given contents or fs.ErrNotExist.
func (h FixedHost) ReadFile(name string) ([]byte, error) {
	s, ok := h.Files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s), nil
}

// NumCPU returns CPUs.
func (h FixedHost) NumCPU() int { return h.CPUs }

// Nofile returns Soft and Hard.
func (h FixedHost) Nofile() (uint64, uint64, string, error) {
	return h.Soft, h.Hard, "inherited from this shell", nil
}

// Unlimited is the value of a limit that has none (RLIM_INFINITY, a
// cgroup's "max").
const Unlimited = math.MaxUint64

// Reading is one figure read from the machine.
type Reading struct {
	// Value is the figure; Unlimited when the limit is "max" or
	// "unlimited".
	Value uint64
	// Source is where it was read, such as /proc/sys/fs/file-max.
	Source string
	// OK is false when the source is missing or unreadable; Value is then
	// zero and Err says why.
	OK  bool
	Err string
}

// Machine is this host's side of a capacity report: every kernel and
// process limit that bounds how many connections a server can hold.
type Machine struct {
	CPUs int
	// NofileSoft and NofileHard are RLIMIT_NOFILE as a server started from
	// here would inherit them.
	NofileSoft, NofileHard Reading
	// Privileged is true when this process may raise its hard limits
	// (CAP_SYS_RESOURCE), as a server started as root may.
	Privileged bool
	// User is the name of the user this process runs as.
	User string

	FileMax Reading // fs.file-max: file handles for the whole system
	FileNr  Reading // the first figure of fs.file-nr: handles allocated now
	NrOpen  Reading // fs.nr_open: the highest RLIMIT_NOFILE allowed

	Somaxconn    Reading // net.core.somaxconn: the cap on listen backlogs
	SynBacklog   Reading // net.ipv4.tcp_max_syn_backlog
	Syncookies   Reading // net.ipv4.tcp_syncookies
	TwReuse      Reading // net.ipv4.tcp_tw_reuse
	PortLow      Reading // net.ipv4.ip_local_port_range, first figure
	PortHigh     Reading // net.ipv4.ip_local_port_range, second figure
	ConntrackMax Reading // net.netfilter.nf_conntrack_max, when loaded
	MemoryMax    Reading // this process's cgroup's memory limit (memory.max)
	MemTotal     Reading // physical memory, from /proc/meminfo
}

// Paths of the kernel's figures.
const (
	pathFileMax      = "/proc/sys/fs/file-max"
	pathFileNr       = "/proc/sys/fs/file-nr"
	pathNrOpen       = "/proc/sys/fs/nr_open"
	pathSomaxconn    = "/proc/sys/net/core/somaxconn"
	pathSynBacklog   = "/proc/sys/net/ipv4/tcp_max_syn_backlog"
	pathSyncookies   = "/proc/sys/net/ipv4/tcp_syncookies"
	pathTwReuse      = "/proc/sys/net/ipv4/tcp_tw_reuse"
	pathPortRange    = "/proc/sys/net/ipv4/ip_local_port_range"
	pathConntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max"
	pathMeminfo      = "/proc/meminfo"
)

// ReadMachine reads every limit from h. A missing file is recorded in its
// Reading, never an error: kernels and containers differ in what they show.
func ReadMachine(h Host) Machine {
	m := Machine{CPUs: h.NumCPU()}
	soft, hard, src, err := h.Nofile()
	if err != nil {
		m.NofileSoft = Reading{Source: src, Err: err.Error()}
		m.NofileHard = m.NofileSoft
	} else {
		m.NofileSoft = Reading{Value: soft, Source: src, OK: true}
		m.NofileHard = Reading{Value: hard, Source: src, OK: true}
	}
	m.Privileged, m.User = readIdentity(h)
	m.FileMax = readNumber(h, pathFileMax, 0)
	m.FileNr = readNumber(h, pathFileNr, 0)
	m.NrOpen = readNumber(h, pathNrOpen, 0)
	m.Somaxconn = readNumber(h, pathSomaxconn, 0)
	m.SynBacklog = readNumber(h, pathSynBacklog, 0)
	m.Syncookies = readNumber(h, pathSyncookies, 0)
	m.TwReuse = readNumber(h, pathTwReuse, 0)
	m.PortLow = readNumber(h, pathPortRange, 0)
	m.PortHigh = readNumber(h, pathPortRange, 1)
	m.ConntrackMax = readNumber(h, pathConntrackMax, 0)
	m.MemoryMax = ReadCgroupMemory(h, "self")
	m.MemTotal = readMeminfo(h)
	return m
}

// DefaultBacklog applies DefaultBacklog's rule to this machine's
// net.core.somaxconn: the kernel's cap, or nginx's 511 when it is unknown.
func (m Machine) DefaultBacklog() int {
	if !m.Somaxconn.OK || m.Somaxconn.Value == 0 || m.Somaxconn.Value > math.MaxInt32 {
		return 511
	}
	return int(m.Somaxconn.Value)
}

// Ports is the number of ephemeral ports, which caps the connections open
// at once from this host to one upstream address; 0 when unknown.
func (m Machine) Ports() int {
	if !m.PortLow.OK || !m.PortHigh.OK || m.PortHigh.Value < m.PortLow.Value {
		return 0
	}
	return int(m.PortHigh.Value - m.PortLow.Value + 1)
}

// readNumber reads the field-th number of a /proc file. "max" and
// "unlimited" read as Unlimited.
func readNumber(h Host, path string, field int) Reading {
	r := Reading{Source: path}
	b, err := h.ReadFile(path)
	if err != nil {
		r.Err = errorText(err)
		return r
	}
	f := strings.Fields(string(b))
	if field >= len(f) {
		r.Err = "empty"
		return r
	}
	v, ok := parseLimit(f[field])
	if !ok {
		r.Err = fmt.Sprintf("invalid number %q", f[field])
		return r
	}
	r.Value, r.OK = v, true
	return r
}

// parseLimit reads a limit as the kernel writes it.
func parseLimit(s string) (uint64, bool) {
	if s == "max" || s == "unlimited" {
		return Unlimited, true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// errorText shortens a file error to its cause, since the path is shown
// beside it.
func errorText(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readMeminfo reads MemTotal, given in kB.
func readMeminfo(h Host) Reading {
	r := Reading{Source: pathMeminfo}
	b, err := h.ReadFile(pathMeminfo)
	if err != nil {
		r.Err = errorText(err)
		return r
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				r.Value, r.OK = v*1024, true
				return r
			}
		}
	}
	r.Err = "no MemTotal line"
	return r
}

// ReadCgroupMemory reads the memory limit of a process's cgroup ("self" or
// a pid): memory.max under cgroup v2, memory.limit_in_bytes under v1. A
// v1 limit near 2^63 is the kernel's way of saying none and reads as
// Unlimited. When the cgroup's own directory is not visible (a container
// that sees only its root), the limit at the mount's root is read.
func ReadCgroupMemory(h Host, pid string) Reading {
	b, err := h.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return Reading{Source: "/proc/" + pid + "/cgroup", Err: errorText(err)}
	}
	var v2, v1 string
	hasV2, hasV1 := false, false
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, hasV2 = parts[2], true
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1, hasV1 = parts[2], true
			}
		}
	}
	var tries []string
	if hasV1 {
		tries = append(tries, joinPath("/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes"))
	}
	if hasV2 {
		tries = append(tries,
			joinPath("/sys/fs/cgroup", v2, "memory.max"),
			joinPath("/sys/fs/cgroup/unified", v2, "memory.max"))
	}
	if hasV1 {
		tries = append(tries, "/sys/fs/cgroup/memory/memory.limit_in_bytes")
	}
	if hasV2 {
		tries = append(tries, "/sys/fs/cgroup/memory.max")
	}
	for _, p := range tries {
		r := readNumber(h, p, 0)
		if !r.OK {
			continue
		}
		if r.Value >= 1<<62 {
			r.Value = Unlimited
		}
		return r
	}
	src := "/sys/fs/cgroup/memory.max"
	if len(tries) > 0 {
		src = tries[0]
	}
	return Reading{Source: src, Err: "absent"}
}

// joinPath joins a mount point, a cgroup path and a file name.
func joinPath(mount, cgroup, file string) string {
	cgroup = strings.Trim(cgroup, "/")
	if cgroup == "" {
		return mount + "/" + file
	}
	return mount + "/" + cgroup + "/" + file
}

// capSysResource is the bit of CAP_SYS_RESOURCE in a capability mask.
const capSysResource = 24

// readIdentity reads whether this process may raise hard limits and the
// name of its user, from /proc/self/status and /etc/passwd.
func readIdentity(h Host) (privileged bool, user string) {
	b, err := h.ReadFile("/proc/self/status")
	if err != nil {
		return false, ""
	}
	uid := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Uid:":
			if len(f) >= 3 {
				uid = f[2]
			}
		case "CapEff:":
			if caps, err := strconv.ParseUint(f[1], 16, 64); err == nil {
				privileged = caps&(1<<capSysResource) != 0
			}
		}
	}
	user = uid
	if pw, err := h.ReadFile("/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(pw), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 2 && f[2] == uid {
				user = f[0]
				break
			}
		}
	}
	return privileged, user
}

// Process is a running server's side of a report: its open file limit,
// and that of its first worker process when it has child processes (nginx
// sets worker_rlimit_nofile only in its workers).
type Process struct {
	PID int
	// Name is the command name from /proc/PID/comm.
	Name string
	// Soft and Hard are its RLIMIT_NOFILE, from /proc/PID/limits.
	Soft, Hard uint64
	// Worker is its first child process, if any.
	Worker *Process
	// MemoryMax is its cgroup's memory limit.
	MemoryMax Reading
}

// ReadProcess reads a running process's limits. The error, in nginx's
// words, says why it could not: no such process, or no access.
func ReadProcess(h Host, pid int) (*Process, error) {
	return readProcess(h, pid, true)
}

func readProcess(h Host, pid int, children bool) (*Process, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := h.ReadFile(dir + "/limits")
	if err != nil {
		return nil, fmt.Errorf("open() \"%s/limits\" failed (%s)", dir, errorText(err))
	}
	soft, hard, ok := parseNofile(b)
	if !ok {
		return nil, fmt.Errorf("no \"Max open files\" line in \"%s/limits\"", dir)
	}
	p := &Process{PID: pid, Soft: soft, Hard: hard}
	if c, err := h.ReadFile(dir + "/comm"); err == nil {
		p.Name = strings.TrimSpace(string(c))
	}
	p.MemoryMax = ReadCgroupMemory(h, strconv.Itoa(pid))
	if !children {
		return p, nil
	}
	if c, err := h.ReadFile(dir + "/task/" + strconv.Itoa(pid) + "/children"); err == nil {
		if f := strings.Fields(string(c)); len(f) > 0 {
			if child, err := strconv.Atoi(f[0]); err == nil && child != pid {
				if w, err := readProcess(h, child, false); err == nil {
					p.Worker = w
				}
			}
		}
	}
	return p, nil
}

// parseNofile finds the "Max open files" line of a /proc/PID/limits file.
func parseNofile(b []byte) (soft, hard uint64, ok bool) {
	for _, line := range strings.Split(string(b), "\n") {
		rest, found := strings.CutPrefix(line, "Max open files")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return 0, 0, false
		}
		s, ok1 := parseLimit(f[0])
		h, ok2 := parseLimit(f[1])
		return s, h, ok1 && ok2
	}
	return 0, 0, false
}
