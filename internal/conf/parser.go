package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Node is one directive of the generic configuration tree: its name, its
// arguments (with escapes applied and variables left verbatim), where it
// was read, and for block directives the directives inside the braces.
type Node struct {
	Name string
	Args []string
	// File is the file the directive was read from; empty for -g
	// directives.
	File string
	// Line is the line of the ";" or "{" that ends the directive, which is
	// the line nginx reports errors at.
	Line int
	// IsBlock is true when the directive was followed by "{ ... }".
	IsBlock bool
	Block   []*Node
	// EndLine is the line of a block's closing "}".
	EndLine int

	cmdline bool
	// err, when set, makes this node a marker for a syntax or include error
	// found at this point of the input. Nodes after it were never read, so
	// interpreting the tree up to the marker reproduces nginx's order of
	// errors: a bad directive before a syntax error is reported first.
	err *Error
}

// maxIncludeDepth bounds include nesting so that a file including itself
// fails cleanly instead of exhausting file descriptors.
const maxIncludeDepth = 64

// reader parses files into a tree, expanding includes as it goes.
type reader struct {
	// confDir is the directory that relative include paths are resolved
	// against: the directory of the main configuration file.
	confDir string
	files   []SourceFile
	seen    map[string]bool
	depth   int
}

// Parse parses one file's contents into a tree without expanding includes
// (they stay as "include" nodes). The error, if any, is an *Error; the
// nodes read before it are returned too.
func Parse(file string, src []byte) ([]*Node, error) {
	r := &reader{seen: map[string]bool{}}
	nodes, _, failed := r.parse(newLexer(src, false), file, false, false, false)
	if failed {
		return stripErr(nodes)
	}
	return nodes, nil
}

// stripErr removes the error marker that ends a failed parse and returns
// the error separately.
func stripErr(nodes []*Node) ([]*Node, error) {
	for i, n := range nodes {
		if n.err != nil {
			return nodes[:i], n.err
		}
		if n.IsBlock {
			if _, err := stripErr(n.Block); err != nil {
				return nodes[:i+1], err
			}
		}
	}
	return nodes, nil
}

// record remembers a file that was read, once, for "-T".
func (r *reader) record(path string, content []byte) {
	if r.seen[path] {
		return
	}
	r.seen[path] = true
	r.files = append(r.files, SourceFile{Path: path, Content: content})
}

// parse reads directives until the end of the block (when inBlock) or of
// the input. It returns the nodes, the line of the closing brace, and
// whether an error marker ends the nodes.
func (r *reader) parse(lx *lexer, file string, inBlock, cmdline, expand bool) ([]*Node, int, bool) {
	var nodes []*Node
	var args []token
	fail := func(line int, format string, a ...any) ([]*Node, int, bool) {
		e := &Error{File: file, Line: line, Msg: fmt.Sprintf(format, a...), CommandLine: cmdline}
		return append(nodes, &Node{File: file, Line: line, cmdline: cmdline, err: e}), 0, true
	}
	for {
		tok, err := lx.next()
		if err != nil {
			var le *lexError
			errors.As(err, &le)
			return fail(le.line, "%s", le.msg)
		}
		switch tok.kind {
		case tokWord:
			args = append(args, tok)
		case tokSemicolon, tokOpen:
			if len(args) == 0 {
				if tok.kind == tokOpen {
					return fail(tok.line, `unexpected "{"`)
				}
				return fail(tok.line, `unexpected ";"`)
			}
			n := &Node{Name: args[0].text, File: file, Line: tok.line, cmdline: cmdline}
			for _, a := range args[1:] {
				n.Args = append(n.Args, a.text)
			}
			args = nil
			if tok.kind == tokOpen {
				if cmdline {
					return fail(tok.line, "block directives are not supported in -g option")
				}
				if expand && n.Name == "include" {
					return fail(tok.line, `directive "include" is not terminated by ";"`)
				}
				n.IsBlock = true
				children, end, failed := r.parse(lx, file, true, cmdline, expand)
				n.Block, n.EndLine = children, end
				nodes = append(nodes, n)
				if failed {
					return nodes, 0, true
				}
				continue
			}
			if expand && n.Name == "include" {
				included, failed := r.include(n)
				nodes = append(nodes, included...)
				if failed {
					return nodes, 0, true
				}
				continue
			}
			nodes = append(nodes, n)
		case tokClose:
			if len(args) > 0 || !inBlock {
				return fail(tok.line, `unexpected "}"`)
			}
			return nodes, tok.line, false
		case tokEOF:
			if len(args) > 0 {
				return fail(tok.line, "%s", lx.eofError())
			}
			if inBlock {
				return fail(tok.line, `unexpected end of file, expecting "}"`)
			}
			return nodes, tok.line, false
		}
	}
}

// include expands an include directive: a file, or a glob pattern whose
// matches are read in sorted order (no match is not an error, as in
// nginx). Relative paths are resolved against the directory of the main
// configuration file, which is nginx's "conf prefix".
func (r *reader) include(n *Node) ([]*Node, bool) {
	marker := func(e *Error) ([]*Node, bool) {
		return []*Node{{File: n.File, Line: n.Line, cmdline: n.cmdline, err: e}}, true
	}
	if len(n.Args) != 1 {
		return marker(errAt(n, `invalid number of arguments in "include" directive`))
	}
	pattern := fullPath(r.confDir, n.Args[0])
	paths := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return marker(errAt(n, `glob() "%s" failed (%v)`, pattern, err))
		}
		paths = matches
	}
	if r.depth >= maxIncludeDepth {
		return marker(errAt(n, `include of "%s" is nested too deeply`, pattern))
	}
	var nodes []*Node
	for _, p := range paths {
		content, err := os.ReadFile(p)
		if err != nil {
			return marker(errAt(n, "%s", fileError(p, err)))
		}
		r.record(p, content)
		r.depth++
		children, _, failed := r.parse(newLexer(content, false), p, false, false, true)
		r.depth--
		nodes = append(nodes, children...)
		if failed {
			return nodes, true
		}
	}
	return nodes, false
}

// fileError words a failure to read a configuration file like nginx,
// which opens the file first and then reads it.
func fileError(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "read" {
		return fmt.Sprintf(`pread() "%s" failed %s`, path, sysErrorText(err))
	}
	return fmt.Sprintf(`open() "%s" failed %s`, path, sysErrorText(err))
}

// fullPath resolves a relative path against a prefix the way nginx does:
// by plain concatenation, without cleaning the result.
func fullPath(prefix, name string) string {
	if filepath.IsAbs(name) || prefix == "" {
		return name
	}
	return strings.TrimSuffix(prefix, "/") + "/" + name
}
