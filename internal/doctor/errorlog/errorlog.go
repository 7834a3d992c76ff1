// Package errorlog reads an nginx or headroom error log and explains the
// lines about capacity: connection slots, open files, local ports,
// upstream servers that could not keep up, and configured limits. A log
// of a bad hour holds thousands of such lines; what a person needs is how
// many there were of each, when, against which backend, why they happen
// and what to change, so Scan groups and counts them and WriteText prints
// the groups with their cause and fix, most serious first.
//
// Both programs write the same line format ("2026/11/26 03:40:03 [alert]
// 1234#0: *5 message, client: ..., upstream: ..."), and headroom keeps
// nginx's wording wherever it has a counterpart, so one reader serves both.
package errorlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxLine is how much of one line is kept. Lines longer than this (a
// huge request line, a dump) are read to their end but classified by
// their first maxLine bytes: every message Scan recognises starts the
// line, and a megabyte is far more than the context fields need.
const maxLine = 1 << 20

// maxExample bounds the example line kept per group, so that one
// pathological line cannot make the report unreadable.
const maxExample = 512

// maxDistinct bounds the sets used to count distinct workers and clients
// per group, so that memory stays bounded on a log of any size; a count
// that reached the bound is reported as the bound.
const maxDistinct = 10000

// Report is what Scan found. Lines = Recognised + Other + Unparsed.
type Report struct {
	// Lines is the number of lines read.
	Lines int `json:"lines"`
	// Recognised counts the lines about capacity, each in one group.
	Recognised int `json:"recognised"`
	// Other counts lines in the error log format that are not about
	// capacity (bad requests, upstream errors of other kinds).
	Other int `json:"other"`
	// Unparsed counts lines not in the error log format: blank lines,
	// continuation lines and anything else.
	Unparsed int `json:"unparsed"`
	// First and Last are the earliest and latest timestamps of lines in
	// the format, as written ("2006/01/02 15:04:05", local time of the
	// machine that wrote the log, which the log does not record).
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	// Headroom is true when the log holds lines only headroom writes;
	// the fixes then speak of headroom's behaviour rather than nginx's.
	Headroom bool `json:"headroom"`
	// Groups are the recognised lines grouped by kind (and by zone or
	// upstream where that tells the reader where to look), most serious
	// impact first, then most frequent first.
	Groups []Group `json:"groups"`
}

// Group is one kind of capacity message, counted, with its explanation.
type Group struct {
	// Kind names the condition; see the Kind constants.
	Kind Kind `json:"kind"`
	// Title is a one-line description with the group's figures.
	Title string `json:"title"`
	// Impact says what the condition did to requests.
	Impact Impact `json:"impact"`
	// Count is the number of lines in the group.
	Count int `json:"count"`
	// First and Last are the timestamps of the earliest and latest line
	// ("" for lines without one, such as "nginx: [warn] ..." on stderr).
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	// Level is the most severe level among the lines.
	Level string `json:"level"`
	// Upstream is the backend (address, or upstream block name) for
	// conditions that belong to one backend.
	Upstream string `json:"upstream,omitempty"`
	// Zone is the limit_conn or limit_req zone.
	Zone string `json:"zone,omitempty"`
	// Workers is the number of distinct workers (pid#tid) that logged the
	// group: one worker out of many points at uneven load.
	Workers int `json:"workers"`
	// Clients is the number of distinct client addresses in the lines
	// that carry one; for a limit it tells one abuser from a crowd.
	Clients int `json:"clients,omitempty"`

	// Figures taken from the messages; zero when the lines do not say.

	// WorkerConnections is the number of connection slots per worker.
	WorkerConnections int `json:"worker_connections,omitempty"`
	// Allowed is the worker_connections the open file limit allows
	// (headroom says it in its capacity messages).
	Allowed int `json:"allowed_worker_connections,omitempty"`
	// FileLimit is the open file limit (RLIMIT_NOFILE) a message named.
	FileLimit int `json:"file_limit,omitempty"`
	// WorkerProcesses is the number of workers a message named.
	WorkerProcesses int `json:"worker_processes,omitempty"`
	// Errno is the system error number ("24" in "(24: Too many open
	// files)").
	Errno int `json:"errno,omitempty"`
	// MaxExcess is the largest limit_req excess seen, in requests.
	MaxExcess float64 `json:"max_excess,omitempty"`
	// QueueSize is the size of an upstream queue that was full.
	QueueSize int `json:"queue_size,omitempty"`
	// MaxQueued is the largest number of waiting requests a message named.
	MaxQueued int `json:"max_queued,omitempty"`
	// Waited is how long a request waited before its 503, as logged.
	Waited string `json:"waited,omitempty"`
	// Closed is the number of connections headroom's lines say a worker
	// closed for being slow while clients waited for a slot, summed over
	// the lines. A worker writes at most one such line a second, so this
	// is a lower bound; headroom_slow_clients_closed_total counts them all.
	Closed int `json:"closed,omitempty"`
	// Grace is how long a connection had sent no complete request head
	// before headroom closed it for waiting clients, as logged ("250ms").
	Grace string `json:"grace,omitempty"`
	// TempPath is the temporary file directory (client_body_temp_path,
	// proxy_temp_path) the lines are about, without its level
	// subdirectories.
	TempPath string `json:"temp_path,omitempty"`

	// Example is the first line of the group, cleaned of control
	// characters and shortened to a readable length.
	Example string `json:"example"`
	// Cause explains why the condition happens, with the figures above.
	Cause string `json:"cause"`
	// Fix says what to change.
	Fix string `json:"fix"`
}

// groupKey separates groups. The slot count is part of the key for the
// worker_connections messages, so that a log spanning a configuration
// change shows "512 ..." and "1024 ..." apart instead of one figure that
// is true of only some of the lines.
type groupKey struct {
	kind     Kind
	upstream string
	zone     string
	slots    int
	path     string
	errno    int
}

// acc collects one group while the log is read.
type acc struct {
	g       Group
	excess  int64 // thousandths, as nginx counts it
	workers map[string]struct{}
	clients map[string]struct{}
}

// scanner holds the state of one Scan.
type scanner struct {
	rep    Report
	groups map[groupKey]*acc
}

// Scan reads an error log and groups the capacity-related lines it
// recognises. Lines it cannot parse are counted, never an error; the
// error is the reader's, and the report then covers what was read.
func Scan(r io.Reader) (*Report, error) {
	s := &scanner{groups: map[groupKey]*acc{}}
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	var err error
	for {
		var ok bool
		buf, ok, err = readLine(br, buf[:0])
		if ok {
			s.line(string(buf))
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return s.report(), err
}

// readLine appends the next line to buf without its line ending, keeping
// at most maxLine bytes of it and reading the rest away. ok is false when
// there was no line left; err is io.EOF at the end of the input.
func readLine(br *bufio.Reader, buf []byte) (line []byte, ok bool, err error) {
	read := 0
	for {
		frag, e := br.ReadSlice('\n')
		read += len(frag)
		if room := maxLine - len(buf); room > 0 {
			buf = append(buf, frag[:min(room, len(frag))]...)
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		buf = trimEOL(buf)
		if e != nil {
			if read == 0 {
				return buf, false, e
			}
			return buf, true, e
		}
		return buf, true, nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// line classifies one line and counts it.
func (s *scanner) line(text string) {
	s.rep.Lines++
	e, ok := parseLine(text)
	if !ok {
		s.rep.Unparsed++
		return
	}
	if e.time != "" {
		if s.rep.First == "" || e.time < s.rep.First {
			s.rep.First = strings.Clone(e.time)
		}
		if e.time > s.rep.Last {
			s.rep.Last = strings.Clone(e.time)
		}
	}
	m, ok := classify(e)
	if !ok {
		s.rep.Other++
		return
	}
	s.rep.Recognised++
	if m.headroom {
		s.rep.Headroom = true
	}
	s.add(e, text, m)
}

// add counts a recognised line in its group.
func (s *scanner) add(e entry, text string, m match) {
	info := kinds[m.kind]
	k := groupKey{kind: m.kind}
	if info.perUpstream {
		k.upstream = m.upstream
	}
	if info.perZone {
		k.zone = m.zone
	}
	if info.perSlots {
		k.slots = m.slots
	}
	if info.perPath {
		k.path = m.tempPath
	}
	if info.perErrno {
		k.errno = m.errno
	}
	a := s.groups[k]
	if a == nil {
		// Strings kept past this line are copied, so that they do not
		// hold on to the whole line (up to maxLine bytes) they came from.
		k.upstream, k.zone, k.path = strings.Clone(k.upstream), strings.Clone(k.zone), strings.Clone(k.path)
		a = &acc{
			g: Group{
				Kind:     m.kind,
				Impact:   info.impact,
				Upstream: k.upstream,
				Zone:     k.zone,
				TempPath: k.path,
				First:    strings.Clone(e.time),
				Level:    e.level,
				Example:  example(text),
			},
			workers: map[string]struct{}{},
			clients: map[string]struct{}{},
		}
		s.groups[k] = a
	}
	g := &a.g
	g.Count++
	if e.time != "" {
		if g.First == "" || e.time < g.First {
			g.First = strings.Clone(e.time)
		}
		if g.Last == "" || e.time > g.Last {
			g.Last = strings.Clone(e.time)
		}
	}
	if levelRank(e.level) < levelRank(g.Level) {
		g.Level = e.level
	}
	if e.proc != "" && len(a.workers) < maxDistinct {
		if _, seen := a.workers[e.proc]; !seen {
			a.workers[strings.Clone(e.proc)] = struct{}{}
		}
	}
	if e.client != "" && len(a.clients) < maxDistinct {
		if _, seen := a.clients[e.client]; !seen {
			a.clients[strings.Clone(e.client)] = struct{}{}
		}
	}
	// Figures: the latest value for settings (a restart may have changed
	// them), the largest for measures of pressure.
	setLatest(&g.WorkerConnections, m.slots)
	setLatest(&g.Allowed, m.allowed)
	setLatest(&g.FileLimit, m.fileLimit)
	setLatest(&g.WorkerProcesses, m.workers)
	setLatest(&g.QueueSize, m.queueSize)
	if g.Errno == 0 {
		g.Errno = m.errno
	}
	g.MaxQueued = max(g.MaxQueued, m.queued)
	a.excess = max(a.excess, m.excess)
	if m.waited != "" && m.waited != g.Waited {
		g.Waited = strings.Clone(m.waited)
	}
	if m.grace != "" && m.grace != g.Grace {
		g.Grace = strings.Clone(m.grace)
	}
	g.Closed = addCapped(g.Closed, m.closed)
}

// addCapped adds two counts, stopping at a billion rather than
// overflowing on a log of nonsense figures.
func addCapped(a, b int) int {
	const most = 1_000_000_000
	if b >= most-a {
		return most
	}
	return a + b
}

func setLatest(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

// report finishes the groups: distinct counts, explanations, order.
func (s *scanner) report() *Report {
	rep := s.rep
	rep.Groups = make([]Group, 0, len(s.groups))
	for _, a := range s.groups {
		g := a.g
		g.Workers = len(a.workers)
		g.Clients = len(a.clients)
		g.MaxExcess = float64(a.excess) / 1000
		g.Title = title(&g)
		g.Cause, g.Fix = explain(&g, rep.Headroom)
		if rep.Headroom && (g.Kind == KindSocketFiles || g.Kind == KindEphemeralPorts) {
			// headroom holds such a request and tries again instead of
			// failing it.
			g.Impact = Slowed
		}
		rep.Groups = append(rep.Groups, g)
	}
	crossReference(rep.Groups)
	sort.Slice(rep.Groups, func(i, j int) bool {
		a, b := &rep.Groups[i], &rep.Groups[j]
		if a.Impact != b.Impact {
			return a.Impact < b.Impact
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.First != b.First {
			return a.First < b.First
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Upstream != b.Upstream {
			return a.Upstream < b.Upstream
		}
		if a.Zone != b.Zone {
			return a.Zone < b.Zone
		}
		if a.TempPath != b.TempPath {
			return a.TempPath < b.TempPath
		}
		if a.Errno != b.Errno {
			return a.Errno < b.Errno
		}
		return a.WorkerConnections < b.WorkerConnections
	})
	return &rep
}

// crossReference adds to a cause what other groups say about it. The
// warning that worker_connections exceed the open file limit is written
// once at start and sorts last, but it is the reason for the "Too many
// open files" failures that sort first; the reader should not have to
// connect the two.
func crossReference(groups []Group) {
	var exceed *Group
	for i := range groups {
		g := &groups[i]
		if g.Kind == KindExceedFileLimit && g.Allowed == 0 && g.WorkerConnections > 0 && g.FileLimit > 0 {
			exceed = g
		}
	}
	if exceed == nil {
		return
	}
	for i := range groups {
		g := &groups[i]
		switch g.Kind {
		case KindAcceptFiles, KindSocketFiles, KindOtherFiles:
			g.Cause += fmt.Sprintf(" This log also says that worker_connections %d exceed the open file limit %d: "+
				"that is the likely cause.", exceed.WorkerConnections, exceed.FileLimit)
		}
	}
}

// example cleans a line for display: invalid UTF-8 and control
// characters (which could drive a terminal) are replaced, and the line
// is cut at maxExample bytes on a character boundary.
func example(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxExample {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			// An invalid byte and a written U+FFFD look the same.
			b.WriteRune(utf8.RuneError)
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
