package conf

import (
	"strings"

	"headroom/internal/vars"
)

// IsKnownVariable reports whether headroom evaluates the variable name
// (without "$") without the configuration declaring it: whether the
// registry in internal/vars has it. Names are case-sensitive, as in
// nginx.
func IsKnownVariable(name string) bool {
	idx, _ := vars.Lookup(name)
	return idx != vars.Unknown
}

// KnownVariables lists the variable names and name prefixes (ending in
// "*") that IsKnownVariable accepts, sorted, for documentation.
func KnownVariables() []string { return vars.Known() }

// pendingVar is a template part naming a variable that is neither
// built in nor declared yet: a later set, map or named capture may
// declare it, since nginx resolves variable names only once the whole
// configuration is read.
type pendingVar struct {
	node *Node
	part *vars.Part
}

// template compiles a value with nginx's messages. A variable the
// registry does not know is looked up among the configuration's own
// once everything is read (resolveVars); an undeclared one is an error
// then.
func (b *builder) template(n *Node, s string) (*vars.Template, error) {
	t, err := vars.Compile(s)
	if err != nil {
		return nil, errAt(n, "%s", err.Error())
	}
	for i := range t.Parts {
		p := &t.Parts[i]
		switch {
		case p.Var == "":
		case p.Index == vars.Capture:
			b.capturesUsed = true
		case p.Index == vars.Unknown || p.Suffix != "":
			// A family's name ($http_x) may be declared too, and then
			// names the declared variable, as in nginx.
			b.pendingVars = append(b.pendingVars, pendingVar{node: n, part: p})
		}
	}
	return t, nil
}

// declareVar makes name a variable of the configuration (set, map, a
// named capture) and returns its slot; declaring a name again returns
// the same slot, as nginx's variables are one namespace. bySet marks a
// variable that set gives values to.
func (b *builder) declareVar(name string, bySet bool) int {
	if b.userVars == nil {
		b.userVars = map[string]int{}
	}
	slot, ok := b.userVars[name]
	if !ok {
		slot = len(b.variables)
		b.userVars[name] = slot
		b.variables = append(b.variables, Variable{Name: name})
	}
	if bySet {
		b.variables[slot].Set = true
	}
	return slot
}

// resolveVars gives every template part that names a declared variable
// its slot, and reports the first that names nothing, as nginx's
// ngx_http_variables_init_vars does when the http block is read.
func (b *builder) resolveVars() error {
	for _, pv := range b.pendingVars {
		slot, ok := b.userVars[pv.part.Var]
		if !ok && pv.part.Index != vars.Unknown {
			continue
		}
		if !ok {
			return errAt(pv.node, "unknown \"%s\" variable", pv.part.Var)
		}
		pv.part.Index, pv.part.Slot, pv.part.Suffix = vars.User, slot, ""
	}
	b.pendingVars = nil
	return nil
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
