package conf

import (
	"fmt"
	"slices"
	"strings"
)

// maxPathLevels is nginx's limit on the total of a temporary directory's
// levels: a level takes that many digits from the end of the ten-digit
// file name.
const maxPathLevels = 10

// nginx's default temporary directories, relative to the prefix: request
// bodies directly in client_body_temp (ngx_http_client_temp_path), upstream
// responses in proxy_temp with levels 1 2 (ngx_http_proxy_temp_path).
var (
	defaultClientBodyTemp = TempPath{Path: "client_body_temp"}
	defaultProxyTemp      = TempPath{Path: "proxy_temp", Levels: []int{1, 2}}
)

func bodyDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "proxy_request_buffering", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.proxyRequestBuffering }),
			syntax: "proxy_request_buffering on | off;", def: "on",
			doc: "Reads the whole request body before the request is passed upstream; off passes the body on as it arrives."},
		{name: "client_body_buffer_size", ctx: hsl, args: arg1, set: setClientBodyBufferSize,
			syntax: "client_body_buffer_size size;", def: "8k",
			doc: "Sets how much of a request body is kept in memory; a larger body is written to a temporary file."},
		{name: "client_body_temp_path", ctx: hsl, args: take1234, set: pathSlot(func(r *rawLoc) **TempPath { return &r.clientBodyTempPath }),
			syntax: "client_body_temp_path path [level1 [level2 [level3]]];", def: "client_body_temp",
			doc: "Sets the directory for request body temporary files, relative to the prefix, with up to three levels of subdirectories named by the last digits of the file name."},
		{name: "client_body_in_file_only", ctx: hsl, args: arg1, set: setClientBodyInFileOnly,
			syntax: "client_body_in_file_only on | clean | off;", def: "off",
			doc: "Writes every request body to a temporary file, kept after the request with on and removed with clean."},
		{name: "client_body_in_single_buffer", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.clientBodyInSingleBuf }),
			syntax: "client_body_in_single_buffer on | off;", def: "off",
			doc: "Accepted for compatibility; headroom always keeps a request body held in memory in a single buffer."},
		{name: "proxy_temp_path", ctx: hsl, args: take1234, set: pathSlot(func(r *rawLoc) **TempPath { return &r.proxyTempPath }),
			syntax: "proxy_temp_path path [level1 [level2 [level3]]];", def: "proxy_temp 1 2",
			doc: "Sets the directory for temporary files of responses from upstreams, relative to the prefix, with up to three levels of subdirectories."},
	}
}

// flagSlot makes a handler for an on|off value (nginx's
// ngx_conf_set_flag_slot).
func flagSlot(field func(*rawLoc) **bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		v, err := onOff(n)
		if err != nil {
			return err
		}
		*p = &v
		return nil
	}
}

func setClientBodyBufferSize(b *builder, n *Node, sc *scope) error {
	if sc.raw.clientBodyBufferSize != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	size := int(v)
	sc.raw.clientBodyBufferSize = &size
	return nil
}

// bodyFileModes are client_body_in_file_only's values, compared
// case-insensitively as nginx's ngx_conf_set_enum_slot does.
var bodyFileModes = map[string]BodyFileMode{"off": BodyFileOff, "on": BodyFileKeep, "clean": BodyFileClean}

func setClientBodyInFileOnly(b *builder, n *Node, sc *scope) error {
	if sc.raw.clientBodyInFileOnly != nil {
		return duplicate(n)
	}
	m, ok := bodyFileModes[strings.ToLower(n.Args[0])]
	if !ok {
		return errAt(n, "invalid value \"%s\"", n.Args[0])
	}
	sc.raw.clientBodyInFileOnly = &m
	return nil
}

// pathSlot makes a handler for a temporary directory with optional levels,
// as nginx's ngx_conf_set_path_slot: one trailing slash is dropped, a
// relative path is resolved against the prefix, each level is a positive
// number and the levels total at most 10 digits.
func pathSlot(field func(*rawLoc) **TempPath) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(sc.raw)
		if *p != nil {
			return duplicate(n)
		}
		name := n.Args[0]
		if len(name) > 1 && strings.HasSuffix(name, "/") {
			name = name[:len(name)-1]
		}
		t := TempPath{Path: fullPath(b.cfg.Prefix, name)}
		total := 0
		for _, a := range n.Args[1:] {
			l, ok := atoi(a)
			if !ok || l == 0 {
				return errAt(n, "\"%s\" directive invalid value", n.Name)
			}
			t.Levels = append(t.Levels, l)
			total += min(l, maxPathLevels+1)
		}
		if total > maxPathLevels {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		if err := b.addPath(n, t); err != nil {
			return err
		}
		*p = &t
		return nil
	}
}

// pathEntry is a temporary directory in use: set by a directive, or one
// of nginx's defaults (node is nil).
type pathEntry struct {
	path TempPath
	node *Node
}

// addPath registers a temporary directory as nginx's ngx_add_path does:
// one directory may serve several directives and levels, but only with
// the same levels everywhere, since its files are found by them. A
// directive's path is registered when it is read; a default one when the
// levels are merged and some server inherits it, which is why nginx
// reports that conflict without a position.
func (b *builder) addPath(n *Node, t TempPath) error {
	for _, e := range b.paths {
		if e.path.Path != t.Path {
			continue
		}
		if slices.Equal(e.path.Levels, t.Levels) {
			return nil
		}
		switch {
		case n != nil:
			return errAt(n, "the same path name \"%s\" in %s has the different levels than", t.Path, e.where())
		case e.node == nil:
			return &Error{Msg: fmt.Sprintf("the default path name \"%s\" has the same name as another default path, but the different levels, you need to redefine one of them in http section", t.Path)}
		default:
			return &Error{Msg: fmt.Sprintf("the path name \"%s\" in %s has the same name as default path, but the different levels, you need to define default path in http section", t.Path, e.where())}
		}
	}
	b.paths = append(b.paths, &pathEntry{path: t, node: n})
	return nil
}

func (e *pathEntry) where() string {
	if e.node == nil {
		return "default"
	}
	return fmt.Sprintf("%s:%d", e.node.File, e.node.Line)
}

// tempPath resolves one of nginx's default temporary directories against
// the prefix.
func (b *builder) tempPath(t TempPath) TempPath {
	return TempPath{Path: fullPath(b.cfg.Prefix, t.Path), Levels: t.Levels}
}
