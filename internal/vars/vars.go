// Package vars compiles nginx-style value templates such as
// "$host:$server_port" or "${scheme}://example" into a list of literal and
// variable parts. Compilation happens once, when the configuration is read;
// evaluation happens per request in the proxy, which knows the values.
package vars

import (
	"fmt"
	"strings"
)

// Part is one piece of a compiled template: either literal text or a
// variable, named (without the leading '$') and resolved in the registry.
type Part struct {
	// Literal holds text copied verbatim when Var is empty.
	Literal string
	// Var names the variable, for example "host" or "http_user_agent".
	Var string
	// Index is the variable's entry in the registry (Unknown for a name
	// headroom cannot evaluate, which the configuration rejects), and
	// Suffix the rest of a family's name ("user_agent" of
	// "http_user_agent").
	Index  Index
	Suffix string
	// Slot is the digit of a capture ("$1" is 1), or the number of a
	// user variable among the configuration's, which the configuration
	// fills in once every declaration is read.
	Slot int
}

// Template is a compiled value: its parts in order. A template without
// variables has a single literal part (or none for the empty string).
type Template struct {
	// Source is the value as written in the configuration.
	Source string
	Parts  []Part
}

// IsLiteral reports whether the template contains no variables, so callers
// can precompute its value.
func (t *Template) IsLiteral() bool {
	for _, p := range t.Parts {
		if p.Var != "" {
			return false
		}
	}
	return true
}

// Vars lists the variable names the template references, in order.
func (t *Template) Vars() []string {
	var names []string
	for _, p := range t.Parts {
		if p.Var != "" {
			names = append(names, p.Var)
		}
	}
	return names
}

// Compile parses s the way nginx's script compiler does: "$1" to "$9" are
// captures (one digit); "$name" takes the longest run of letters, digits
// and underscores; "${name}" delimits a name
// explicitly. A '$' not followed by a name is an error, as in nginx
// ("invalid variable name"), and so is a "${" whose name does not run to
// its closing bracket.
func Compile(s string) (*Template, error) {
	t := &Template{Source: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.Parts = append(t.Parts, Part{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		i++
		if i < len(s) && s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("the closing bracket in \"%s\" variable is missing", s[i+1:])
			}
			name := s[i+1 : i+end]
			if name == "" {
				return nil, fmt.Errorf("invalid variable name")
			}
			if n := nameLen(name); n < len(name) {
				// nginx reads the name up to the first byte that cannot be
				// in one and expects the bracket there.
				return nil, fmt.Errorf("the closing bracket in \"%s\" variable is missing", name[:n])
			}
			flush()
			t.Parts = append(t.Parts, varPart(name))
			i += end + 1
			continue
		}
		if i < len(s) && s[i] >= '1' && s[i] <= '9' {
			// nginx's script compiler reads one digit after '$' as a
			// capture of the last regex match: "$12" is $1 and "2".
			flush()
			t.Parts = append(t.Parts, Part{Var: s[i : i+1], Index: Capture, Slot: int(s[i] - '0')})
			i++
			continue
		}
		j := i
		for j < len(s) && isNameByte(s[j]) {
			j++
		}
		if j == i {
			return nil, fmt.Errorf("invalid variable name")
		}
		flush()
		t.Parts = append(t.Parts, varPart(s[i:j]))
		i = j
	}
	flush()
	return t, nil
}

// varPart is the part for a variable, resolved in the registry.
func varPart(name string) Part {
	idx, suffix := Lookup(name)
	return Part{Var: name, Index: idx, Suffix: suffix}
}

// MustCompile is Compile for values known to be valid, such as built-in
// defaults; it panics on error.
func MustCompile(s string) *Template {
	t, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return t
}

// nameLen is the length of the longest prefix of s that can be a name.
func nameLen(s string) int {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return i
		}
	}
	return len(s)
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
