package conf

import "strings"

// SSI holds the settings of nginx's SSI filter: answers of SSITypes in a
// location with "ssi on" have their <!--# ... --> commands carried out
// on the way to the client (echo, set, if, include, config, block).
type SSI struct {
	On bool
	// SilentErrors leaves out the error text where a command failed.
	SilentErrors bool
	// Types are the lower-cased content types processed besides
	// text/html; AnyType is ssi_types "*".
	Types   map[string]bool
	AnyType bool
	// ValueLength is ssi_value_length: the longest parameter value.
	ValueLength int
	// LastModified keeps Last-Modified and a weakened ETag on processed
	// answers (ssi_last_modified).
	LastModified bool
}

// ssiRaw is what one level sets of the SSI settings.
type ssiRaw struct {
	on           *bool
	silentErrors *bool
	types        map[string]bool
	anyType      *bool
	valueLength  *int
	lastModified *bool
	minFileChunk bool
}

func ssiDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "ssi", ctx: hsl | ctxIf, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssi.on }),
			syntax: "ssi on | off;", def: "off",
			doc: "Carries out SSI commands (echo, set, if/elif/else/endif, include virtual and file with wait, set and stub, config errmsg and timefmt, block) in answers of the ssi_types, as a stream; an include is a subrequest whose answer takes the command's place. Content-Length and Accept-Ranges go, and Last-Modified and ETag unless ssi_last_modified."},
		{name: "ssi_silent_errors", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssi.silentErrors }),
			syntax: "ssi_silent_errors on | off;", def: "off",
			doc: "Leaves out \"[an error occurred while processing the directive]\" where a command failed."},
		{name: "ssi_types", ctx: hsl, args: arg1More, set: setSSITypes,
			syntax: "ssi_types mime-type ... | *;", def: "text/html",
			doc: "Adds content types to process besides text/html; * processes every type."},
		{name: "ssi_value_length", ctx: hsl, args: arg1, set: setSSIValueLength,
			syntax: "ssi_value_length length;", def: "256",
			doc: "Sets the longest value a command's parameter may have."},
		{name: "ssi_last_modified", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.ssi.lastModified }),
			syntax: "ssi_last_modified on | off;", def: "off",
			doc: "Keeps the answer's Last-Modified (and its ETag, made weak) when SSI processes it."},
		{name: "ssi_min_file_chunk", ctx: hsl, args: arg1, set: setSSIMinFileChunk,
			syntax: "ssi_min_file_chunk size;", def: "1k",
			doc: "Accepted with its argument checked: it sizes the parts of a file nginx keeps on disk while it parses; headroom parses a buffer at a time and keeps none."},
		{name: "subrequest_output_buffer_size", ctx: hsl, args: arg1, set: sizeSlot(func(r *rawLoc) **int { return &r.subrequestOutputBufferSize }),
			syntax: "subrequest_output_buffer_size size;", def: "4k",
			doc: "Bounds the answer of a subrequest kept in memory (SSI's include set=), read in the included location: a longer one ends the page that includes it, as in nginx (before its head goes out when nothing of the page did)."},
		{name: "postpone_output", ctx: hsl, args: arg1, set: sizeSlot(func(r *rawLoc) **int { return &r.postponeOutput }),
			syntax: "postpone_output size;", def: "1460",
			doc: "Holds back the head and the first output of an answer with SSI until this much of its body is ready or the answer is whole, as nginx holds back output: an include that fails before then ends the answer unanswered. Other answers are written as the event loop has them, a buffer at a time, which needs no threshold."},
	}
}

func setSSITypes(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.ssi
	addTypeList(&s.types, &s.anyType, n.Args)
	return nil
}

// addTypeList reads a list of content types as nginx's
// ngx_http_types_slot does: lower-cased, added to what the level's
// earlier lines listed, and "*" for every type, after which the level's
// lists change nothing.
func addTypeList(types *map[string]bool, any **bool, args []string) {
	if *any != nil {
		return
	}
	if *types == nil {
		*types = map[string]bool{}
	}
	for _, t := range args {
		if t == "*" {
			v := true
			*any = &v
			return
		}
		(*types)[strings.ToLower(t)] = true
	}
}

func setSSIValueLength(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.ssi
	if s.valueLength != nil {
		return duplicate(n)
	}
	v, ok := parseSize(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	l := int(v)
	s.valueLength = &l
	return nil
}

func setSSIMinFileChunk(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.ssi
	if s.minFileChunk {
		return duplicate(n)
	}
	if _, ok := parseSize(n.Args[0]); !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	s.minFileChunk = true
	return nil
}

func mergeSSI(r *ssiRaw, p SSI) SSI {
	s := p
	s.On = pick(r.on, p.On)
	s.SilentErrors = pick(r.silentErrors, p.SilentErrors)
	if r.types != nil || r.anyType != nil {
		s.Types, s.AnyType = r.types, r.anyType != nil && *r.anyType
	}
	s.ValueLength = pick(r.valueLength, p.ValueLength)
	s.LastModified = pick(r.lastModified, p.LastModified)
	return s
}

// Processes reports whether ssi_types lets SSI process an answer of the
// content type (without its parameters, compared in lower case);
// text/html always is.
func (s *SSI) Processes(ctype []byte) bool {
	return typeListed(ctype, s.Types, s.AnyType)
}
