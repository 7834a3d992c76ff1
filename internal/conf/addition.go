package conf

// Addition holds the settings of nginx's addition filter: the answers
// of a location's types get the answers of other URIs before and after
// their body.
type Addition struct {
	// Before and After are add_before_body's and add_after_body's URIs;
	// empty, none.
	Before, After string
	// Types are the lower-cased content types the filter takes besides
	// text/html; AnyType is addition_types "*".
	Types   map[string]bool
	AnyType bool
}

// Adds reports whether addition_types lets the filter take an answer of
// the content type; text/html always is.
func (a *Addition) Adds(ctype []byte) bool {
	return typeListed(ctype, a.Types, a.AnyType)
}

// additionRaw is what one level sets of the addition filter's settings.
type additionRaw struct {
	before, after *string
	types         map[string]bool
	anyType       *bool
}

func additionDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "add_before_body", ctx: hsl, args: arg1, set: setAdditionURI(func(a *additionRaw) **string { return &a.before }),
			syntax: "add_before_body uri;",
			doc:    "Puts the answer of a subrequest to the URI before the body of 200 answers of the addition_types (the main request's only); Content-Length and Accept-Ranges go and the ETag is made weak."},
		{name: "add_after_body", ctx: hsl, args: arg1, set: setAdditionURI(func(a *additionRaw) **string { return &a.after }),
			syntax: "add_after_body uri;",
			doc:    "Puts the answer of a subrequest to the URI after the body, as add_before_body puts one before it."},
		{name: "addition_types", ctx: hsl, args: arg1More, set: setAdditionTypes,
			syntax: "addition_types mime-type ... | *;", def: "text/html",
			doc: "Adds content types the addition filter takes besides text/html; * takes every type."},
	}
}

// setAdditionURI makes a handler for a URI (nginx's ngx_conf_set_str_slot).
func setAdditionURI(field func(*additionRaw) **string) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.addition)
		if *p != nil {
			return duplicate(n)
		}
		v := n.Args[0]
		*p = &v
		return nil
	}
}

func setAdditionTypes(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.addition
	addTypeList(&a.types, &a.anyType, n.Args)
	return nil
}

func mergeAddition(r *additionRaw, p Addition) Addition {
	a := p
	a.Before = pick(r.before, p.Before)
	a.After = pick(r.after, p.After)
	if r.types != nil || r.anyType != nil {
		a.Types, a.AnyType = r.types, r.anyType != nil && *r.anyType
	}
	return a
}
