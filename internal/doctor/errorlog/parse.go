package errorlog

import "strings"

// entry is one error log line taken apart:
//
//	2026/11/26 03:40:03 [alert] 1234#0: *5 message, client: 1.2.3.4,
//	server: x, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:9000/",
//	host: "h"
//
// The context fields after the message are what nginx's HTTP module adds
// to messages about a request; headroom adds the same ones.
type entry struct {
	time   string // "2006/01/02 15:04:05"; "" for "nginx: [warn] ..." lines
	level  string // "alert"
	proc   string // "1234#0": the worker that wrote it
	conn   string // "5": the connection number, if any
	msg    string // the message, up to ", client: "
	client string
	server string
	// upstream is the backend from the upstream field, reduced to its
	// address ("127.0.0.1:9000", "unix:/run/app.sock") or upstream block
	// name ("backend").
	upstream string
	host     string
}

// levels are nginx's error log levels, most severe first.
var levels = [...]string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

// levelRank orders levels, most severe lowest; unknown ones last.
func levelRank(l string) int {
	for i, n := range levels {
		if n == l {
			return i
		}
	}
	return len(levels)
}

// stampShape is the shape of a timestamp, 0 standing for a digit.
const stampShape = "0000/00/00 00:00:00"

// stampLen is the length of a timestamp.
const stampLen = len(stampShape)

// searchStamp is how far into a line the timestamp may start. Logs that
// went through a container runtime or a collector carry a prefix
// ("web-1  | ", "2026-11-26T03:40:03.1Z stderr F "); the search keeps
// those readable without scanning whole long lines.
const searchStamp = 256

// parseLine takes a line apart; ok is false when it is not in the error
// log format.
func parseLine(line string) (e entry, ok bool) {
	rest := ""
	if i := findStamp(line); i >= 0 {
		e.time = line[i : i+stampLen]
		rest = line[i+stampLen+1:] // after the space before '['
	} else {
		// Messages written to the terminal while starting or testing the
		// configuration: "nginx: [warn] 4096 worker_connections exceed
		// open file resource limit: 1024".
		for _, p := range [...]string{"nginx: ", "headroom: "} {
			if strings.HasPrefix(line, p) {
				rest = line[len(p):]
				break
			}
		}
		if rest == "" {
			return e, false
		}
	}
	level, rest, ok := bracketed(rest)
	rank := levelRank(level)
	if !ok || rank == len(levels) {
		return e, false
	}
	e.level = levels[rank] // the constant, not a piece of the line
	rest = strings.TrimPrefix(rest, " ")
	if e.time != "" {
		// "1234#0: "
		i := strings.Index(rest, ": ")
		if i < 0 || !isProc(rest[:i]) {
			return e, false
		}
		e.proc = rest[:i]
		rest = rest[i+2:]
	}
	if strings.HasPrefix(rest, "*") {
		n := digits(rest[1:])
		if n > 0 && len(rest) > n+1 && rest[n+1] == ' ' {
			e.conn = rest[1 : n+1]
			rest = rest[n+2:]
		}
	}
	e.msg = rest
	if i := strings.Index(rest, ", client: "); i >= 0 {
		e.msg = rest[:i]
		parseContext(&e, rest[i:])
	}
	return e, true
}

// findStamp returns where "2006/01/02 15:04:05 [" starts, or -1.
func findStamp(line string) int {
	for i := 0; i <= searchStamp && i+stampLen+2 <= len(line); i++ {
		if line[i] < '0' || line[i] > '9' {
			continue
		}
		if isStamp(line[i:i+stampLen]) && line[i+stampLen] == ' ' && line[i+stampLen+1] == '[' {
			return i
		}
	}
	return -1
}

// isStamp checks the shape "dddd/dd/dd dd:dd:dd".
func isStamp(s string) bool {
	for i := 0; i < len(stampShape); i++ {
		c := s[i]
		if stampShape[i] == '0' {
			if c < '0' || c > '9' {
				return false
			}
		} else if c != stampShape[i] {
			return false
		}
	}
	return true
}

// bracketed reads "[word]" at the start of s.
func bracketed(s string) (word, rest string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", s, false
	}
	i := strings.IndexByte(s, ']')
	if i < 0 || i > 16 {
		return "", s, false
	}
	return s[1:i], s[i+1:], true
}

// isProc checks "pid#tid".
func isProc(s string) bool {
	i := strings.IndexByte(s, '#')
	return i > 0 && digits(s) == i && digits(s[i+1:]) == len(s)-i-1 && i+1 < len(s)
}

// digits returns how many ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// parseContext reads the fields nginx appends to a request's messages.
// The request line and referrer are copied from the client unescaped, so
// a field is looked for only after the fields that come before it.
func parseContext(e *entry, ctx string) {
	v, ctx := plainField(ctx, ", client: ")
	e.client = v
	v, ctx = plainField(ctx, ", server: ")
	e.server = v
	if i := strings.Index(ctx, `, upstream: "`); i >= 0 {
		u := ctx[i+len(`, upstream: "`):]
		if j := strings.IndexByte(u, '"'); j >= 0 {
			e.upstream = upstreamAddr(u[:j])
			ctx = u[j+1:]
		}
	}
	if i := strings.Index(ctx, `, host: "`); i >= 0 {
		h := ctx[i+len(`, host: "`):]
		if j := strings.IndexByte(h, '"'); j >= 0 {
			e.host = h[:j]
		}
	}
}

// plainField reads an unquoted field that must start ctx.
func plainField(ctx, name string) (value, rest string) {
	if !strings.HasPrefix(ctx, name) {
		return "", ctx
	}
	ctx = ctx[len(name):]
	if i := strings.Index(ctx, ", "); i >= 0 {
		return ctx[:i], ctx[i:]
	}
	return ctx, ""
}

// upstreamAddr reduces nginx's upstream field ("http://127.0.0.1:9000/x",
// "fastcgi://unix:/run/php/fpm.sock:", "http://backend/") to the backend
// it names.
func upstreamAddr(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if strings.HasPrefix(u, "unix:") {
		p := u[len("unix:"):]
		if i := strings.IndexByte(p, ':'); i >= 0 {
			p = p[:i]
		}
		return "unix:" + p
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	return u
}
