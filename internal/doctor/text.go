package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the binding limit first, then
// the table of limits, then the fixes, in aligned columns.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	c := r.Capacity
	fmt.Fprintf(&b, "headroom doctor: %s with %s\n", r.Server, r.Config)
	head := [][]string{
		{"server", r.Server + ", because " + r.ServerReason},
		{"limits", "of " + r.LimitsOf},
	}
	if r.Running == nil {
		head = append(head, []string{"running", r.RunningNote})
	}
	writeTable(&b, "  ", head)

	what := "concurrent proxied requests"
	if !c.Proxies {
		what = "concurrent requests"
	}
	fmt.Fprintf(&b, "\nBinding limit: %s\n", r.limitHeadline(c.Binding))
	idleHow := perWorker(c.IdlePerWorker, c.Workers, c.Idle, c.BindingIdle)
	if c.BindingIdle != c.Binding && c.IdlePerWorker*c.Workers == c.Idle {
		idleHow += "; " + c.BindingIdle + " binds"
	}
	rows := [][]string{
		{what, strconv.Itoa(c.Proxied), perWorker(c.ProxiedPerWorker, c.Workers, c.Proxied, c.Binding)},
		{"idle keep-alive connections", strconv.Itoa(c.Idle), idleHow},
		{"past that", c.Beyond},
	}
	if c.BindingIdle != c.Binding || c.BeyondIdle != c.Beyond {
		rows = append(rows, []string{"past the idle figure", c.BeyondIdle})
	}
	rows = append(rows, []string{r.Other.Server + ", same config", otherLine(r.Other, len(r.Unsupported))})
	writeTable(&b, "  ", rows)

	if len(r.Startup) > 0 {
		fmt.Fprintf(&b, "\nAt start %s would log:\n", r.Server)
		for _, s := range r.Startup {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}

	b.WriteString("\nLimits (the figures are what each limit alone allows)\n")
	table := [][]string{{"  LIMIT", "VALUE", "FROM", "PROXIED", "IDLE", "NOTE"}}
	for _, l := range r.Limits {
		name := l.Name
		note := l.Note
		if l.Binds {
			name = "> " + name
			note = join("binds", note)
		} else {
			name = "  " + name
		}
		table = append(table, []string{name, l.Value, shortPath(l.Source), optInt(l.Proxied), optInt(l.Idle), note})
	}
	writeTable(&b, "", table, 3, 4)

	fmt.Fprintf(&b, "\nFixes, in the order that helps most, aiming at %d %s (%s)\n", r.Want, what, r.WantReason)
	if len(r.Fixes) == 0 {
		b.WriteString("  none needed\n")
	}
	for i, f := range r.Fixes {
		a := f.After
		fmt.Fprintf(&b, "  %d. %s %s -> %s: %s\n", i+1, f.Limit, f.From, f.To, f.Why)
		fmt.Fprintf(&b, "     then %d %s, %d idle (%s binds)\n", a.Proxied, what, a.Idle, a.Binding)
		writeChanges(&b, f.Changes)
	}
	if r.Remaining != "" {
		fmt.Fprintf(&b, "  Then %s.\n", r.Remaining)
	}
	if len(r.Advice) > 0 {
		b.WriteString("\nAlso, without changing capacity\n")
		for _, f := range r.Advice {
			fmt.Fprintf(&b, "  - %s %s -> %s: %s\n", f.Limit, f.From, f.To, f.Why)
			writeChanges(&b, f.Changes)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	if r.TLS != nil {
		r.TLS.writeText(&b, r.Server)
	}
	if r.HTTP2 != nil {
		r.HTTP2.writeText(&b, r.Server)
	}
	if r.ZoneSync != nil {
		r.ZoneSync.writeText(&b)
	}
	if len(r.TempDirs) > 0 {
		b.WriteString("\nTemporary files (a request body past client_body_buffer_size; a response past proxy_buffers while the client reads slower than the upstream sends; each open file also takes a descriptor")
		if r.TempFilesPerWorker > 0 {
			fmt.Fprintf(&b, ": headroom keeps %d per worker for them, beyond the slots; a body that finds none free waits for one, a response waits for its client", r.TempFilesPerWorker)
		} else if r.Server == "nginx" {
			b.WriteString(": nginx opens them outside worker_connections, and a request fails when the open file limit is reached")
		}
		b.WriteString(")\n")
		rows := [][]string{{"DIRECTORY", "FOR", "FROM", "FREE", "NOTE"}}
		for _, d := range r.TempDirs {
			free, note := "unknown", d.Note
			if d.FreeBytes != nil {
				free = bytesText(*d.FreeBytes) + " of " + bytesText(*d.TotalBytes)
			} else if note == "" {
				note = d.Error
			} else {
				note = d.Error + "; " + note
			}
			rows = append(rows, []string{d.Path, strings.Join(d.For, ", "), d.Source, free, note})
			if d.Warning != "" {
				rows = append(rows, []string{"  warning: " + d.Warning})
			}
		}
		writeTable(&b, "  ", rows)
	}
	if len(r.Caches) > 0 {
		b.WriteString("\nCaches (proxy_cache_path: answers stored on disk; an answer sent from one takes a slot while it is sent, as a file does)\n")
		rows := [][]string{{"DIRECTORY", "ZONE", "FROM", "FREE", "NOTE"}}
		for _, d := range r.Caches {
			free, note := "unknown", d.Note
			if d.FreeBytes != nil {
				free = bytesText(*d.FreeBytes) + " of " + bytesText(*d.TotalBytes)
			} else {
				note = d.Error + "; " + note
			}
			rows = append(rows, []string{d.Path, d.Zone, d.Source, free, note})
			if d.Warning != "" {
				rows = append(rows, []string{"  warning: " + d.Warning})
			}
		}
		writeTable(&b, "  ", rows)
	}
	if len(r.Unsupported) > 0 {
		fmt.Fprintf(&b, "\nDirectives headroom does not run (%d)\n", len(r.Unsupported))
		var rows [][]string
		for _, u := range r.Unsupported {
			rows = append(rows, []string{u.Where, strings.TrimSpace(u.Name + " " + u.Detail)})
		}
		writeTable(&b, "  ", rows)
	}
	mm := r.Memory
	where := ""
	if mm.BuffersWhere != "" {
		where = " (" + mm.BuffersWhere + ")"
	}
	idle := bytesText(mm.IdleBytes)
	if mm.TLS {
		idle += fmt.Sprintf(" (TLS; %s plain)", bytesText(mm.PlainIdleBytes))
	}
	fmt.Fprintf(&b, "\nMemory estimate for %s: %s per proxied request, %s per idle keep-alive connection, %s for the server;\n  a request's buffers: %s%s;\n  %s\n",
		r.Server, bytesText(mm.RequestBytes), idle, bytesText(mm.BaseBytes), mm.Buffers, where, mm.Source)
	_, err := io.WriteString(w, b.String())
	return err
}

// limitHeadline names a limit with its value and source.
func (r *Report) limitHeadline(name string) string {
	for _, l := range r.Limits {
		if l.Name == name {
			return fmt.Sprintf("%s %s (%s)", l.Name, l.Value, l.Source)
		}
	}
	return name
}

// perWorker explains a total: per worker when the workers' slots set it,
// or machine-wide.
func perWorker(each, workers, total int, binding string) string {
	if each*workers == total && !machineWide(binding) {
		return fmt.Sprintf("%d per worker x %d %s", each, workers, plural(workers, "worker", "workers"))
	}
	return fmt.Sprintf("for the whole machine: %s binds", binding)
}

// machineWide reports whether a limit is the machine's, shared by every
// worker, so that a total it sets is not a per-worker figure even when it
// divides evenly.
func machineWide(name string) bool {
	switch name {
	case limFileMax, limPorts, limConntrack, limMemoryMax, limMemTotal:
		return true
	}
	return false
}

func optInt(v *int) string {
	if v == nil {
		return "-"
	}
	return strconv.Itoa(*v)
}

// writeChanges writes a fix's lines: where, then the text, then how it
// takes effect.
func writeChanges(b *strings.Builder, chs []Change) {
	var rows [][]string
	for _, ch := range chs {
		join := ch.Join
		lines := strings.Split(ch.Line, "\n")
		for i, line := range lines {
			where := ""
			if i == 0 {
				where = ch.Where
			}
			rows = append(rows, []string{join, where, line})
			join = ""
		}
		if ch.Note != "" {
			rows = append(rows, []string{"", "", "(" + ch.Note + ")"})
		}
	}
	writeTable(b, "     ", rows)
}

// writeTable writes rows in columns padded to the widest cell; the
// columns listed in right are aligned right. The last column is not
// padded.
func writeTable(b *strings.Builder, indent string, rows [][]string, right ...int) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			// A row's last cell is not padded, so it sets no width.
			if i < len(row)-1 {
				widths[i] = max(widths[i], utf8.RuneCountInString(cell))
			}
		}
	}
	isRight := map[int]bool{}
	for _, i := range right {
		isRight[i] = true
	}
	for _, row := range rows {
		var line strings.Builder
		line.WriteString(indent)
		for i, cell := range row {
			if widths[i] == 0 && i < len(row)-1 {
				continue
			}
			pad := ""
			if i < len(row)-1 {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			}
			if isRight[i] {
				line.WriteString(pad + cell)
			} else {
				line.WriteString(cell + pad)
			}
			if i < len(row)-1 {
				line.WriteString("  ")
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// shortPath keeps a long path's first three and last elements, so that a
// cgroup's path does not widen the whole table; the JSON has it whole.
func shortPath(s string) string {
	const most = 48
	if utf8.RuneCountInString(s) <= most || !strings.HasPrefix(s, "/") {
		return s
	}
	parts := strings.Split(s, "/")
	if len(parts) <= 5 {
		return s
	}
	return strings.Join(append(parts[:4:4], "...", parts[len(parts)-1]), "/")
}
