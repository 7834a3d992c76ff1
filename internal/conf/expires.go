package conf

import (
	"strings"
	"time"

	"headroom/internal/vars"
)

// ExpiresKind is the form of an expires directive.
type ExpiresKind uint8

// The forms of expires.
const (
	// ExpiresOff adds nothing (the default).
	ExpiresOff ExpiresKind = iota
	// ExpiresEpoch and ExpiresMax are the fixed dates of "epoch" and
	// "max".
	ExpiresEpoch
	ExpiresMax
	// ExpiresAccess counts Seconds from the response, ExpiresModified
	// from the file's modification time, ExpiresDaily is "@time", the
	// next such time of day.
	ExpiresAccess
	ExpiresModified
	ExpiresDaily
)

// Expires is the expires directive of nginx's headers module: the
// Expires and Cache-Control fields of successful and redirect answers.
// Var is set instead for a value with variables, read for each response.
type Expires struct {
	Kind    ExpiresKind
	Seconds int64
	Var     *vars.Template
}

func expiresDirectives() []*directive {
	return []*directive{
		{name: "expires", ctx: ctxHTTP | ctxServer | ctxLocation | ctxIf, args: take12, set: setExpires,
			syntax: "expires [modified] time | epoch | max | off;", def: "off",
			doc: "Adds Expires and Cache-Control (max-age, or no-cache for a time in the past) to 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308 answers, replacing an upstream's: time from the response (or from the file's modification with modified), @time of day, epoch, max. The value may have variables."},
	}
}

func setExpires(b *builder, n *Node, sc *scope) error {
	if sc.raw.expires != nil {
		return duplicate(n)
	}
	e := &Expires{Kind: ExpiresAccess}
	v := n.Args[0]
	if len(n.Args) == 2 {
		if v != "modified" {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		e.Kind, v = ExpiresModified, n.Args[1]
	}
	if hasVariables(v) {
		t, err := b.template(n, v)
		if err != nil {
			return err
		}
		e.Var = t
		sc.raw.expires = e
		return nil
	}
	if msg := ParseExpires(v, e); msg != "" {
		return errAt(n, "\"%s\" directive %s", n.Name, msg)
	}
	sc.raw.expires = e
	return nil
}

// ParseExpires reads an expires value into e (whose Kind says whether
// "modified" came before it), as nginx's ngx_http_parse_expires does; it
// returns nginx's complaint, or "" when the value is good.
func ParseExpires(v string, e *Expires) string {
	switch v {
	case "epoch", "max", "off":
		if e.Kind == ExpiresModified {
			return "invalid value"
		}
	}
	switch v {
	case "epoch":
		e.Kind = ExpiresEpoch
		return ""
	case "max":
		e.Kind = ExpiresMax
		return ""
	case "off":
		e.Kind = ExpiresOff
		return ""
	}
	minus := false
	switch {
	case strings.HasPrefix(v, "@"):
		if e.Kind == ExpiresModified {
			return "daily time cannot be used with \"modified\" parameter"
		}
		e.Kind, v = ExpiresDaily, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	case strings.HasPrefix(v, "-"):
		v, minus = v[1:], true
	}
	d, ok := parseTime(v, true)
	if !ok {
		return "invalid value"
	}
	secs := int64(d / time.Second)
	if e.Kind == ExpiresDaily && secs > 24*60*60 {
		return "daily time value must be less than 24 hours"
	}
	if minus {
		secs = -secs
	}
	e.Seconds = secs
	return ""
}
