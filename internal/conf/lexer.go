package conf

import "fmt"

// tokenKind classifies the lexer's output.
type tokenKind int

const (
	tokWord tokenKind = iota
	tokSemicolon
	tokOpen
	tokClose
	tokEOF
)

// token is one lexical element. Words carry their text with nginx's escape
// sequences already applied; "$var" and "${var}" stay verbatim so that the
// directive handlers can compile them into templates.
type token struct {
	kind tokenKind
	text string
	// quoted is true for words written in single or double quotes.
	quoted bool
	// line is where the token starts (for words) or where it is (for
	// punctuation and end of file).
	line int
}

// lexer splits nginx configuration text into tokens. It follows the rules
// of nginx's reader so that a file nginx accepts produces the same words,
// and a file nginx rejects is rejected with the same message:
//
//   - a "#" at the start of a word begins a comment up to the end of line;
//   - a word that begins with a quote runs to the matching quote and must
//     be followed by white space, ";", "{" or ")";
//   - any other word runs to white space, ";" or "{" ("}" and quotes inside
//     a word are ordinary characters), except that "{" right after "$"
//     continues the word so that "${name}" stays whole;
//   - a backslash protects the next character from ending a word or a
//     quoted string; when the word is stored, \" \' \\ become the second
//     character, \n \r \t become control characters, and any other
//     backslash is kept.
type lexer struct {
	src  []byte
	pos  int
	line int
	// param selects the wording nginx uses for -g directives, which have
	// no file to run off the end of.
	param bool
}

func newLexer(src []byte, param bool) *lexer {
	return &lexer{src: src, line: 1, param: param}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// eofError is the message nginx gives when input ends inside a directive.
func (l *lexer) eofError() string {
	if l.param {
		return `unexpected end of parameter, expecting ";"`
	}
	return `unexpected end of file, expecting ";" or "}"`
}

// lexError is a lexical error at the current line; the parser adds the
// file name.
type lexError struct {
	line int
	msg  string
}

func (e *lexError) Error() string { return e.msg }

func (l *lexer) errorf(format string, args ...any) *lexError {
	return &lexError{line: l.line, msg: fmt.Sprintf(format, args...)}
}

// next returns the next token, or a *lexError.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.line++
			l.pos++
		case isSpace(c):
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == ';':
			l.pos++
			return token{kind: tokSemicolon, line: l.line}, nil
		case c == '{':
			l.pos++
			return token{kind: tokOpen, line: l.line}, nil
		case c == '}':
			l.pos++
			return token{kind: tokClose, line: l.line}, nil
		case c == '"' || c == '\'':
			return l.quoted(c)
		default:
			return l.word()
		}
	}
	return token{kind: tokEOF, line: l.line}, nil
}

// quoted reads a word enclosed in quote characters q.
func (l *lexer) quoted(q byte) (token, error) {
	startLine := l.line
	l.pos++ // opening quote
	start := l.pos
	for {
		if l.pos >= len(l.src) {
			return token{}, l.errorf("%s", l.eofError())
		}
		c := l.src[l.pos]
		if c == '\n' {
			l.line++
		}
		if c == '\\' {
			l.pos++
			if l.pos < len(l.src) && l.src[l.pos] == '\n' {
				l.line++
			}
			if l.pos < len(l.src) {
				l.pos++
			}
			continue
		}
		if c == q {
			break
		}
		l.pos++
	}
	text := unescape(l.src[start:l.pos])
	l.pos++ // closing quote
	// nginx insists on a separator after a quoted word; ")" is allowed for
	// the benefit of "if" conditions and then begins a word of its own.
	if l.pos < len(l.src) {
		c := l.src[l.pos]
		if !isSpace(c) && c != ';' && c != '{' && c != ')' {
			return token{}, l.errorf("unexpected \"%c\"", c)
		}
	}
	return token{kind: tokWord, text: text, quoted: true, line: startLine}, nil
}

// word reads an unquoted word.
func (l *lexer) word() (token, error) {
	startLine := l.line
	start := l.pos
	variable := false
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == '{' && variable {
			variable = false
			l.pos++
			continue
		}
		variable = false
		switch {
		case c == '\\':
			l.pos++
			if l.pos < len(l.src) {
				if l.src[l.pos] == '\n' {
					l.line++
				}
				l.pos++
			}
			continue
		case c == '$':
			variable = true
		case isSpace(c) || c == ';' || c == '{':
			return token{kind: tokWord, text: unescape(l.src[start:l.pos]), line: startLine}, nil
		}
		l.pos++
	}
	// A word running into the end of input is incomplete in nginx: it is
	// only stored once a separator follows it.
	return token{}, l.errorf("%s", l.eofError())
}

// unescape applies nginx's escape sequences to a raw word.
func unescape(raw []byte) string {
	hasBackslash := false
	for _, c := range raw {
		if c == '\\' {
			hasBackslash = true
			break
		}
	}
	if !hasBackslash {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			switch raw[i+1] {
			case '"', '\'', '\\':
				out = append(out, raw[i+1])
				i++
				continue
			case 'n':
				out = append(out, '\n')
				i++
				continue
			case 'r':
				out = append(out, '\r')
				i++
				continue
			case 't':
				out = append(out, '\t')
				i++
				continue
			}
		}
		out = append(out, c)
	}
	return string(out)
}
