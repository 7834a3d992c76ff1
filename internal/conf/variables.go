package conf

import (
	"strings"

	"headroom/internal/vars"
)

// IsKnownVariable reports whether headroom can evaluate the variable name
// (without "$"): whether the registry in internal/vars has it. A template
// that names any other variable is rejected when the configuration is
// read, as nginx rejects unknown variables, so that the runtime never
// meets a name it cannot resolve. Names are case-sensitive, as in nginx.
func IsKnownVariable(name string) bool {
	idx, _ := vars.Lookup(name)
	return idx != vars.Unknown
}

// KnownVariables lists the variable names and name prefixes (ending in
// "*") that IsKnownVariable accepts, sorted, for documentation.
func KnownVariables() []string { return vars.Known() }

// compileTemplate compiles a value and checks that every variable in it is
// known, with nginx's messages.
func compileTemplate(n *Node, s string) (*vars.Template, error) {
	t, err := vars.Compile(s)
	if err != nil {
		return nil, errAt(n, "%s", err.Error())
	}
	for _, v := range t.Vars() {
		if !IsKnownVariable(v) {
			return nil, errAt(n, "unknown \"%s\" variable", v)
		}
	}
	return t, nil
}

// hasVariables reports whether s would compile to a template with
// variables; values where headroom does not allow variables use it.
func hasVariables(s string) bool {
	t, err := vars.Compile(s)
	if err != nil {
		return strings.Contains(s, "$")
	}
	return !t.IsLiteral()
}
