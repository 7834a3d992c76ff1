package ssi

import "bytes"

// opener is what starts a command; any shorter prefix of it at the end of
// the input may still become one and is held back.
const opener = "<!--#"

// state is where the parser stands inside a command.
type state uint8

const (
	inText     state = iota // between commands
	inOpener                // a prefix of opener has been seen
	preCommand              // after "<!--#", before the command name
	inCommand               // inside the command name
	preParam                // before a parameter name or the closing "-->"
	inParam                 // inside a parameter name
	preEqual                // between a parameter name and its "="
	preValue                // between "=" and the opening quote
	inDouble                // inside a "double-quoted" value
	inSingle                // inside a 'single-quoted' value
	inEscape                // right after a backslash inside a value
	postValue               // right after the closing quote of a value
	end0                    // after the first "-" of "-->"
	end1                    // after "--" of "-->"
	skipping                // after an error, looking for "-->"
	skipEnd0                // after an error, one "-" seen
	skipEnd1                // after an error, "--" seen
)

// span locates one parameter in Parser.buf.
type span struct{ name, value, end int }

// Parser splits a body into text and commands. It is fed the body in
// pieces of any size through Next and finds the same text, commands and
// errors however the body is cut; only the pieces the text comes in
// differ. The zero Parser is ready for a body with the default value
// length; Reset readies it for another one.
type Parser struct {
	valueLen int
	ready    bool

	st      state
	looked  int   // bytes of opener held while in inOpener
	quoted  state // inDouble or inSingle, to return to after inEscape
	nameLen int   // the command name is buf[:nameLen]

	// buf holds the command name followed, for each stored parameter, by
	// its name and its value; spans locates the parameters. At most
	// MaxParams+1 parameters are kept, plus the one being read.
	buf    []byte
	spans  []span
	params []Param

	err   string  // the message of the error being skipped
	held  [4]byte // the held opener bytes, when they turn out to be text
	ebyte [1]byte // scratch for one byte of an error message
}

// Reset readies the parser for a new body. valueLen is the longest
// parameter value accepted (ssi_value_length); a negative one counts as 0.
func (p *Parser) Reset(valueLen int) {
	if valueLen < 0 {
		valueLen = 0
	}
	p.valueLen = valueLen
	p.ready = true
	p.st = inText
	p.looked = 0
	p.nameLen = 0
	p.buf = p.buf[:0]
	p.spans = p.spans[:0]
	clear(p.params)
	p.params = p.params[:0]
	p.err = ""
}

// Next parses from in and returns how many bytes of in it consumed and the
// item it found. The caller calls Next again with in[n:] until it returns
// n == len(in) with Kind None; then all of in has been consumed, and a
// construct that is not finished yet (a "<!--" that may start a command, or
// a command without its "-->") is kept in the parser and comes out of a
// later call, as text if it turns out not to be a command. Text items are
// as long as the input allows: one run of text per call, broken only where
// a command starts or where held bytes are let go.
//
// A Text item may come with n == 0 when it is made of bytes held from
// earlier input; Next never returns Kind None with n == 0 unless in is
// empty, so every call either consumes input or returns an item.
func (p *Parser) Next(in []byte) (n int, it Item) {
	if !p.ready {
		p.Reset(DefaultValueLen)
	}
	i := 0
	for i < len(in) {
		switch p.st {
		case inText:
			start := i
			for {
				k := bytes.IndexByte(in[i:], '<')
				if k < 0 {
					return len(in), Item{Kind: Text, Text: in[start:]}
				}
				j := i + k
				m := 1
				for m < len(opener) && j+m < len(in) && in[j+m] == opener[m] {
					m++
				}
				if m == len(opener) {
					p.beginCommand()
					if j > start {
						return j + m, Item{Kind: Text, Text: in[start:j]}
					}
					i = j + m
					break
				}
				if j+m == len(in) {
					// The input ends inside what may become a command:
					// hold those bytes and give out the text before them.
					p.st = inOpener
					p.looked = m
					if j > start {
						return len(in), Item{Kind: Text, Text: in[start:j]}
					}
					return len(in), Item{}
				}
				// Not a command; in[j+m] is looked at again, as it may
				// be the '<' of the next one.
				i = j + m
			}

		case inOpener:
			if in[i] == opener[p.looked] {
				p.looked++
				i++
				if p.looked == len(opener) {
					p.beginCommand()
				}
				continue
			}
			// The held bytes were text after all. in[i] is left for
			// the next call, which reads it as text or as a new '<'.
			t := p.held[:p.looked]
			copy(t, opener)
			p.st = inText
			p.looked = 0
			return i, Item{Kind: Text, Text: t}

		case skipping:
			// Nothing but "-" matters until the end of the comment.
			k := bytes.IndexByte(in[i:], '-')
			if k < 0 {
				return len(in), Item{}
			}
			i += k + 1
			p.st = skipEnd0

		default:
			done, kind := p.step(in[i])
			i++
			if done {
				return i, p.finish(kind)
			}
		}
	}
	return len(in), Item{}
}

// End is called once, at the end of the body, and returns what the parser
// still holds that must go out as text. nginx lets nothing of an unfinished
// construct out at the end of a body: neither a trailing prefix of "<!--#"
// (a lone final "<" included) nor a command without its "-->", so End
// returns nil. It also readies the parser for another body with the same
// value length.
func (p *Parser) End() []byte {
	p.Reset(p.valueLen)
	return nil
}

// PendingErr returns the message of an error found in a command whose
// "-->" has not been read yet, or "" if there is none. nginx logs such a
// message as soon as it finds the error, even when the body ends before
// the "-->"; a caller that wants the same log lines can call PendingErr
// before End and log what it returns.
func (p *Parser) PendingErr() string {
	switch p.st {
	case skipping, skipEnd0, skipEnd1:
		return p.err
	}
	return ""
}

// beginCommand enters the command after a complete opener.
func (p *Parser) beginCommand() {
	p.st = preCommand
	p.looked = 0
	p.nameLen = 0
	p.buf = p.buf[:0]
	p.spans = p.spans[:0]
	p.err = ""
}

// isSpace reports whether c separates the parts of a command.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// step advances the command state machine by the byte c. It reports
// whether the command ended with c, and then whether as Command or Error.
func (p *Parser) step(c byte) (done bool, kind Kind) {
	switch p.st {
	case preCommand:
		if !isSpace(c) {
			// Any other byte starts the name, even "-".
			p.buf = append(p.buf, c)
			p.nameLen = 1
			p.st = inCommand
		}

	case inCommand:
		switch {
		case isSpace(c):
			p.st = preParam
		case c == '-':
			p.st = end0
		case p.nameLen == MaxCommandLen:
			p.fail(skipping, "the \"", p.name(), p.byteStr(c), "...\" SSI command is too long")
		default:
			p.buf = append(p.buf, c)
			p.nameLen++
		}

	case preParam:
		switch {
		case isSpace(c):
		case c == '-':
			p.st = end0
		default:
			p.beginParam(c)
			p.st = inParam
		}

	case inParam:
		sp := &p.spans[len(p.spans)-1]
		switch {
		case isSpace(c):
			p.st = preEqual
		case c == '=':
			p.st = preValue
		case c == '-':
			p.fail(skipEnd0, "unexpected \"-\" symbol after \"", p.paramName(), "\" parameter in \"", p.name(), "\" SSI command")
		case sp.value-sp.name == MaxParamLen:
			p.fail(skipping, "too long \"", p.paramName(), p.byteStr(c), "...\" parameter in \"", p.name(), "\" SSI command")
		default:
			p.buf = append(p.buf, c)
			sp.value++
			sp.end++
		}

	case preEqual:
		switch {
		case isSpace(c):
		case c == '=':
			p.st = preValue
		default:
			p.fail(afterBad(c), "unexpected \"", p.byteStr(c), "\" symbol after \"", p.paramName(), "\" parameter in \"", p.name(), "\" SSI command")
		}

	case preValue:
		switch {
		case isSpace(c):
		case c == '"':
			p.st = inDouble
		case c == '\'':
			p.st = inSingle
		default:
			p.fail(afterBad(c), "unexpected \"", p.byteStr(c), "\" symbol before value of \"", p.paramName(), "\" parameter in \"", p.name(), "\" SSI command")
		}

	case inDouble, inSingle:
		if (c == '"' && p.st == inDouble) || (c == '\'' && p.st == inSingle) {
			p.st = postValue
			break
		}
		if c == '\\' {
			// The backslash stays in the value, and so does the byte
			// after it, whatever it is; only Eval reads escapes.
			p.quoted = p.st
			p.st = inEscape
		}
		p.addValueByte(c)

	case inEscape:
		p.st = p.quoted
		p.addValueByte(c)

	case postValue:
		switch {
		case isSpace(c):
			p.st = preParam
		case c == '-':
			p.st = end0
		default:
			p.fail(skipping, "unexpected \"", p.byteStr(c), "\" symbol after \"", p.paramValue(), "\" value of \"", p.paramName(), "\" parameter in \"", p.name(), "\" SSI command")
		}

	case end0:
		if c == '-' {
			p.st = end1
		} else {
			p.fail(skipping, "unexpected \"", p.byteStr(c), "\" symbol in \"", p.name(), "\" SSI command")
		}

	case end1:
		if c == '>' {
			p.st = inText
			return true, Command
		}
		// A third "-" is an error too, and is not counted towards the
		// "-->" that ends the skipping.
		p.fail(skipping, "unexpected \"", p.byteStr(c), "\" symbol in \"", p.name(), "\" SSI command")

	case skipEnd0:
		if c == '-' {
			p.st = skipEnd1
		} else {
			p.st = skipping
		}

	case skipEnd1:
		if c == '>' {
			p.st = inText
			return true, Error
		}
		// Also for a third "-": after an error, "--->" does not end the
		// comment, only an even run of dashes before ">" does.
		p.st = skipping
	}
	return false, None
}

// afterBad is where the parser goes after an unexpected byte c: a "-" may
// already be the start of the "-->" that ends the comment.
func afterBad(c byte) state {
	if c == '-' {
		return skipEnd0
	}
	return skipping
}

// beginParam starts a new parameter whose name begins with c. Parameters
// beyond MaxParams+1 replace one another in the last slot, so that memory
// stays bounded while their syntax is still checked.
func (p *Parser) beginParam(c byte) {
	if len(p.spans) > MaxParams+1 {
		last := p.spans[len(p.spans)-1]
		p.buf = p.buf[:last.name]
		p.spans = p.spans[:len(p.spans)-1]
	}
	at := len(p.buf)
	p.buf = append(p.buf, c)
	p.spans = append(p.spans, span{name: at, value: at + 1, end: at + 1})
}

// addValueByte appends c to the value being read, or fails if the value
// is already as long as allowed.
func (p *Parser) addValueByte(c byte) {
	sp := &p.spans[len(p.spans)-1]
	if sp.end-sp.value == p.valueLen {
		p.fail(skipping, "too long \"", p.paramValue(), p.byteStr(c), "...\" value of \"", p.paramName(), "\" parameter in \"", p.name(), "\" SSI command")
		return
	}
	p.buf = append(p.buf, c)
	sp.end++
}

// fail records the error message made of parts and moves to next.
func (p *Parser) fail(next state, parts ...string) {
	n := 0
	for _, s := range parts {
		n += len(s)
	}
	b := make([]byte, 0, n)
	for _, s := range parts {
		b = append(b, s...)
	}
	p.err = string(b)
	p.st = next
}

// name returns the command name read so far, as a string for a message.
func (p *Parser) name() string { return string(p.buf[:p.nameLen]) }

func (p *Parser) paramName() string {
	sp := p.spans[len(p.spans)-1]
	return string(p.buf[sp.name:sp.value])
}

func (p *Parser) paramValue() string {
	sp := p.spans[len(p.spans)-1]
	return string(p.buf[sp.value:sp.end])
}

// byteStr returns the single byte c as a string, unchanged even when it is
// not valid UTF-8.
func (p *Parser) byteStr(c byte) string {
	p.ebyte[0] = c
	return string(p.ebyte[:])
}

// finish builds the item for a command that just ended.
func (p *Parser) finish(kind Kind) Item {
	name := p.buf[:p.nameLen:p.nameLen]
	if kind == Error {
		return Item{Kind: Error, Name: name, Err: p.err}
	}
	spans := p.spans
	if len(spans) > MaxParams+1 {
		spans = spans[:MaxParams+1]
	}
	clear(p.params)
	p.params = p.params[:0]
	for _, sp := range spans {
		p.params = append(p.params, Param{
			Name:  p.buf[sp.name:sp.value:sp.value],
			Value: p.buf[sp.value:sp.end:sp.end],
		})
	}
	return Item{Kind: Command, Name: name, Params: p.params}
}
