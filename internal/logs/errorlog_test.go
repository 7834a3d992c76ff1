package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name  string
		t     time.Time
		level Level
		pid   int
		tid   int
		msg   string
		want  string
	}{
		{
			name: "warn line as nginx writes it", t: time.Date(2026, 11, 25, 23, 33, 55, 0, time.UTC),
			level: Warn, pid: 1234, tid: 0, msg: "message",
			want: "2026/11/25 23:33:55 [warn] 1234#0: message\n",
		},
		{
			name: "month, day and clock are zero-padded", t: time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC),
			level: Error, pid: 7, tid: 3, msg: "x",
			want: "2026/01/02 03:04:05 [error] 7#3: x\n",
		},
		{
			name: "time is written in its own zone", t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("X", 2*3600)),
			level: Notice, pid: 1, tid: 0, msg: "m",
			want: "2026/06/01 12:00:00 [notice] 1#0: m\n",
		},
		{
			name: "emerg level name", t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
			level: Emerg, pid: 99, tid: 12, msg: `bind() to 0.0.0.0:80 failed (98: Address already in use)`,
			want: "2026/11/25 00:00:00 [emerg] 99#12: bind() to 0.0.0.0:80 failed (98: Address already in use)\n",
		},
		{
			name: "message percent signs are kept", t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
			level: Debug, pid: 1, tid: 1, msg: "100%d",
			want: "2026/11/25 00:00:00 [debug] 1#1: 100%d\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.t, tc.level, tc.pid, tc.tid, tc.msg); got != tc.want {
				t.Errorf("Format = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Level
	}{
		{"emerg", "emerg", Emerg},
		{"alert", "alert", Alert},
		{"crit", "crit", Crit},
		{"error", "error", Error},
		{"warn", "warn", Warn},
		{"notice", "notice", Notice},
		{"info", "info", Info},
		{"debug", "debug", Debug},
		{"unknown name gives error", "verbose", Error},
		{"empty name gives error", "", Error},
		{"names are case-sensitive", "WARN", Error},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseLevel(tc.in)
			if got != tc.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// entry is one Logf call.
type entry struct {
	level Level
	w     int
	msg   string
}

// readLines returns the lines of an error log file with the time stamp
// and pid checked and removed, leaving "[level] #tid: message".
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end in a newline: %q", path, b)
	}
	prefix := regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (\[[a-z]+\]) ` + fmt.Sprint(os.Getpid()) + `(#.*)$`)
	var out []string
	for _, line := range strings.Split(string(b[:len(b)-1]), "\n") {
		m := prefix.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: line %q is not in nginx's error log form", path, line)
		}
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

func TestErrorLogLevels(t *testing.T) {
	tests := []struct {
		name string
		// levels are the sinks' levels; sink i writes to file i.
		levels  []Level
		entries []entry
		// want lists each file's lines as "[level] #tid: message".
		want [][]string
	}{
		{
			name:    "less severe than a sink's level is dropped there",
			levels:  []Level{Error, Warn},
			entries: []entry{{Warn, 0, "w"}},
			want:    [][]string{nil, {"[warn] #0: w"}},
		},
		{
			name:    "exactly the sink's level is written",
			levels:  []Level{Warn},
			entries: []entry{{Warn, 2, "same"}},
			want:    [][]string{{"[warn] #2: same"}},
		},
		{
			name:    "more severe than every level reaches every sink",
			levels:  []Level{Error, Warn, Debug},
			entries: []entry{{Crit, 1, "c"}},
			want:    [][]string{{"[crit] #1: c"}, {"[crit] #1: c"}, {"[crit] #1: c"}},
		},
		{
			name:    "below every level reaches no sink",
			levels:  []Level{Error, Warn},
			entries: []entry{{Notice, 0, "n"}, {Info, 0, "i"}, {Debug, 0, "d"}},
			want:    [][]string{nil, nil},
		},
		{
			name:   "mixed lines keep their order per sink",
			levels: []Level{Error, Info},
			entries: []entry{
				{Emerg, 0, "1"}, {Info, 1, "2"}, {Error, 2, "3"}, {Debug, 3, "4"}, {Notice, 4, "5"},
			},
			want: [][]string{
				{"[emerg] #0: 1", "[error] #2: 3"},
				{"[emerg] #0: 1", "[info] #1: 2", "[error] #2: 3", "[notice] #4: 5"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var targets []Target
			for i, lv := range tc.levels {
				targets = append(targets, Target{Path: filepath.Join(dir, fmt.Sprintf("error%d.log", i)), Level: lv})
			}
			l := NewErrorLog()
			if err := l.Open(targets); err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.entries {
				l.Logf(e.level, e.w, "%s", e.msg)
			}
			for i, tg := range targets {
				got := readLines(t, tg.Path)
				if strings.Join(got, "\n") != strings.Join(tc.want[i], "\n") {
					t.Errorf("sink %d (%v):\n got %q\nwant %q", i, tg.Level, got, tc.want[i])
				}
			}
		})
	}
}

func TestErrorLogEnabled(t *testing.T) {
	tests := []struct {
		name   string
		levels []Level
		level  Level
		want   bool
	}{
		{"above the only sink", []Level{Warn}, Error, true},
		{"at the only sink", []Level{Warn}, Warn, true},
		{"below the only sink", []Level{Warn}, Info, false},
		{"below one sink, at another", []Level{Error, Info}, Info, true},
		{"below every sink", []Level{Crit, Error}, Warn, false},
		{"no sinks", nil, Emerg, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var targets []Target
			for i, lv := range tc.levels {
				targets = append(targets, Target{Path: filepath.Join(dir, fmt.Sprintf("e%d.log", i)), Level: lv})
			}
			l := NewErrorLog()
			if err := l.Open(targets); err != nil {
				t.Fatal(err)
			}
			if got := l.Enabled(tc.level); got != tc.want {
				t.Errorf("Enabled(%v) with sinks %v = %v, want %v", tc.level, tc.levels, got, tc.want)
			}
		})
	}
}

func TestErrorLogOpen(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{
		{
			name: "missing directory is reported in nginx's words",
			run: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "missing", "error.log")
				err := NewErrorLog().Open([]Target{{Path: p, Level: Error}})
				if err == nil || !strings.HasPrefix(err.Error(), `open() "`+p+`" failed (`) {
					t.Errorf("Open error = %v, want open() %q failed (...)", err, p)
				}
			},
		},
		{
			name: "file is created and appended to",
			run: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "error.log")
				if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				l := NewErrorLog()
				if err := l.Open([]Target{{Path: p, Level: Error}}); err != nil {
					t.Fatal(err)
				}
				l.Logf(Error, 0, "new")
				b, _ := os.ReadFile(p)
				if !strings.HasPrefix(string(b), "old\n") || !strings.HasSuffix(string(b), "[error] "+fmt.Sprint(os.Getpid())+"#0: new\n") {
					t.Errorf("file = %q, want the old line then the new one", b)
				}
			},
		},
		{
			name: "opening again replaces the destinations",
			run: func(t *testing.T, dir string) {
				a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
				l := NewErrorLog()
				if err := l.Open([]Target{{Path: a, Level: Error}}); err != nil {
					t.Fatal(err)
				}
				l.Logf(Error, 0, "first")
				if err := l.Open([]Target{{Path: b, Level: Error}}); err != nil {
					t.Fatal(err)
				}
				l.Logf(Error, 0, "second")
				if got := readLines(t, a); len(got) != 1 || got[0] != "[error] #0: first" {
					t.Errorf("a.log = %q, want only the first line", got)
				}
				if got := readLines(t, b); len(got) != 1 || got[0] != "[error] #0: second" {
					t.Errorf("b.log = %q, want only the second line", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, t.TempDir()) })
	}
}
