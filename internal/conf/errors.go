package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
)

// Error is a configuration error located the way nginx locates them: the
// message, then "in FILE:LINE", or "in command line" for -g directives, or
// nothing at all for errors nginx reports without a position (such as a
// missing events section). The CLI adds the "headroom: [emerg] " prefix.
type Error struct {
	File string
	Line int
	Msg  string
	// CommandLine marks errors in the -g directives.
	CommandLine bool
}

// Error formats the message as nginx prints it after the log prefix.
func (e *Error) Error() string {
	switch {
	case e.CommandLine:
		return e.Msg + " in command line"
	case e.File == "":
		return e.Msg
	default:
		return fmt.Sprintf("%s in %s:%d", e.Msg, e.File, e.Line)
	}
}

// errAt builds an error located at a directive.
func errAt(n *Node, format string, args ...any) *Error {
	return &Error{File: n.File, Line: n.Line, Msg: fmt.Sprintf(format, args...), CommandLine: n.cmdline}
}

// sysErrorText renders an operating-system error the way nginx appends
// errno to its messages, "(2: No such file or directory)", so that file
// errors read the same as nginx's.
func sysErrorText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			s = strings.ToUpper(s[:1]) + s[1:]
		}
		return fmt.Sprintf("(%d: %s)", int(errno), s)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "(" + pe.Err.Error() + ")"
	}
	return "(" + err.Error() + ")"
}
