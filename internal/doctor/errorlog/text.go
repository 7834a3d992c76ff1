package errorlog

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// textWidth is the width the explanations are wrapped to, so that the
// report reads in an ordinary terminal and in an e-mail.
const textWidth = 78

// textExample bounds the example line in the text form; the JSON form
// keeps the longer one.
const textExample = 160

// labelWidth is the indent of the wrapped text after "   cause    ".
const labelWidth = 12

// WriteText writes the report for a person: one summary line, a table of
// the groups (most serious, then most frequent, first) to take in at a
// glance, then each group with an example line, its cause and its fix.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "error log: %s; %d about capacity in %s, %d about other things, %d not in the error log format\n",
		plural(r.Lines, "line"), r.Recognised, plural(len(r.Groups), "group"), r.Other, r.Unparsed)
	// When the whole log is one day, the table shows times only.
	oneDay := sameDay(r.First, r.Last)
	switch {
	case oneDay:
		fmt.Fprintf(bw, "from %s to %s\n", r.First, r.Last[11:])
	case r.First != "":
		fmt.Fprintf(bw, "from %s to %s\n", r.First, r.Last)
	}
	if len(r.Groups) == 0 {
		fmt.Fprintln(bw, "\nNo capacity-related lines found.")
		return bw.Flush()
	}
	fmt.Fprintln(bw)
	numWidth, countWidth := len("#"), len("COUNT")
	whatWidth, whereWidth := len("WHAT"), len("WHERE")
	for i := range r.Groups {
		g := &r.Groups[i]
		numWidth = max(numWidth, len(strconv.Itoa(i+1)))
		countWidth = max(countWidth, len(strconv.Itoa(g.Count)))
		whatWidth = max(whatWidth, utf8.RuneCountInString(g.Title))
		whereWidth = max(whereWidth, utf8.RuneCountInString(where(g)))
	}
	stamp := func(s string) string {
		if oneDay && isTimestamp(s) {
			return s[11:]
		}
		return orDash(s)
	}
	stampWidth := len(stampShape)
	if oneDay {
		stampWidth = len("00:00:00")
	}
	row := func(num, count, impact, what, where, first, last string) {
		line := fmt.Sprintf("%*s  %*s  %s  %s  %s  %s  %s", numWidth, num, countWidth, count,
			pad(impact, len("refused")), pad(what, whatWidth), pad(where, whereWidth), pad(first, stampWidth), last)
		fmt.Fprintln(bw, strings.TrimRight(line, " "))
	}
	row("#", "COUNT", "IMPACT", "WHAT", "WHERE", "FIRST", "LAST")
	for i := range r.Groups {
		g := &r.Groups[i]
		row(strconv.Itoa(i+1), strconv.Itoa(g.Count), g.Impact.String(), g.Title, where(g), stamp(g.First), stamp(g.Last))
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		fmt.Fprintf(bw, "\n%d. %s", i+1, g.Title)
		if s := where(g); s != "" {
			fmt.Fprintf(bw, " — %s", s)
		}
		fmt.Fprintln(bw)
		seen := string(g.Kind) + " [" + g.Level + "], " + plural(g.Count, "line")
		// Start-up lines come from the main process, not from workers.
		if g.Workers > 0 && g.Impact != Info {
			seen += " from " + plural(g.Workers, "worker")
		}
		label(bw, "kind", seen+span(g))
		label(bw, "impact", g.Impact.Describe())
		label(bw, "example", clip(g.Example, textExample))
		label(bw, "cause", g.Cause)
		label(bw, "fix", g.Fix)
	}
	return bw.Flush()
}

// where is the group's backend or zone for the table.
func where(g *Group) string {
	switch {
	case g.Zone != "":
		return "zone " + g.Zone
	case g.Upstream != "":
		return g.Upstream
	case g.TempPath != "":
		return g.TempPath
	}
	return ""
}

// span says when the group's lines were written.
func span(g *Group) string {
	switch {
	case g.First == "":
		return ""
	case g.First == g.Last:
		return ", at " + g.First
	case sameDay(g.First, g.Last):
		return ", " + g.First + " to " + g.Last[11:]
	}
	return ", " + g.First + " to " + g.Last
}

// isTimestamp checks that s is a whole timestamp, so that a Report made
// elsewhere (read back from JSON, say) cannot make WriteText cut a short
// string.
func isTimestamp(s string) bool { return len(s) == stampLen && isStamp(s) }

// sameDay reports whether two timestamps fall on the same date.
func sameDay(a, b string) bool { return isTimestamp(a) && isTimestamp(b) && a[:10] == b[:10] }

// label writes "   name     text", the text wrapped under itself. An
// example line is not wrapped: it is shown as the log has it.
func label(w io.Writer, name, text string) {
	prefix := "   " + pad(name, labelWidth-3)
	if name == "example" {
		fmt.Fprintf(w, "%s%s\n", prefix, text)
		return
	}
	for i, line := range wrap(text, textWidth-labelWidth) {
		if i > 0 {
			prefix = strings.Repeat(" ", labelWidth)
		}
		fmt.Fprintf(w, "%s%s\n", prefix, line)
	}
}

// wrap breaks text into lines of at most width characters at spaces; a
// word longer than width gets a line of its own.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		wl := utf8.RuneCountInString(word)
		if n > 0 && n+1+wl > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(word)
		n += wl
	}
	if n > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// pad fills s with spaces to width characters.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// clip shortens s to at most n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n-1 {
			return s[:k] + "…"
		}
		i++
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
