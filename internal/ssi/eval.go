package ssi

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// Eval appends to dst the value of an SSI parameter with its variables
// replaced, and returns the extended buffer.
//
// "$name" takes the longest run of ASCII letters, digits and "_" after the
// "$"; "${name}" ends at the "}". Names are lowercased before lookup is
// called, so variables are case-insensitive. lookup appends the value of a
// variable to dst and reports whether it has one; a variable without a
// value is replaced by nothing and is not an error. Regular expression
// captures are looked up the same way, under the one-digit names "0" to
// "9".
//
// Outside variables a backslash escapes one of \ ' " $, which stands for
// itself; before any other byte the backslash is kept, and a backslash at
// the very end is dropped.
//
// A "$" that is not followed by a name (at the end, before another byte, or
// as "${}") is an error, and so is a "${" without its "}". Nothing is
// appended then, and the error text is the message nginx logs, which shows
// the text as nginx's evaluation in place left it.
func Eval(dst, text []byte, lookup func(dst, name []byte) ([]byte, bool)) ([]byte, error) {
	if bytes.IndexByte(text, '$') < 0 {
		return appendUnescaped(dst, text), nil
	}
	mark := len(dst)
	out, err := evalVars(dst, text, lookup)
	if err != nil {
		return dst[:mark], err
	}
	return out, nil
}

// EvalPath is Eval for the uri and file parameters of "include": when the
// value does not begin with "/", it is made relative to the directory of
// uri, the URI of the document being processed (everything up to and
// including its last "/"; nothing if it has none).
//
// Like nginx, it decides on the value as written when the text has no
// variables, so that an empty text gets the directory, and on the value
// after evaluation otherwise, so that an empty result stays empty.
func EvalPath(dst, text, uri []byte, lookup func(dst, name []byte) ([]byte, bool)) ([]byte, error) {
	dir := uri[:bytes.LastIndexByte(uri, '/')+1]
	if bytes.IndexByte(text, '$') < 0 {
		if len(text) == 0 || text[0] != '/' {
			dst = append(dst, dir...)
		}
		return appendUnescaped(dst, text), nil
	}
	mark := len(dst)
	out, err := evalVars(dst, text, lookup)
	if err != nil {
		return dst[:mark], err
	}
	v := out[mark:]
	if len(v) == 0 || v[0] == '/' || len(dir) == 0 {
		return out, nil
	}
	// Make room for the directory in front of the value.
	n := len(v)
	out = append(out, dir...)
	copy(out[mark+len(dir):], out[mark:mark+n])
	copy(out[mark:], dir)
	return out, nil
}

// appendUnescaped appends text with its backslash escapes resolved.
func appendUnescaped(dst, text []byte) []byte {
	for {
		k := bytes.IndexByte(text, '\\')
		if k < 0 {
			return append(dst, text...)
		}
		dst = append(dst, text[:k]...)
		if k+1 == len(text) {
			return dst
		}
		c := text[k+1]
		if c != '\\' && c != '\'' && c != '"' && c != '$' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
		text = text[k+2:]
	}
}

// isNameByte reports whether c may be part of a variable name.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// evalVars does the work of Eval for a text that has at least one "$".
func evalVars(dst, text []byte, lookup func(dst, name []byte) ([]byte, bool)) ([]byte, error) {
	i := 0
	for i < len(text) {
		if text[i] != '$' {
			j := literalEnd(text, i)
			dst = appendUnescaped(dst, text[i:j])
			i = j
			continue
		}

		at := i
		i++
		if i == len(text) {
			return dst, invalidName(text, at)
		}
		bracket := text[i] == '{'
		if bracket {
			i++
			if i == len(text) {
				return dst, invalidName(text, at)
			}
		}
		start := i
		for i < len(text) && isNameByte(text[i]) {
			i++
		}
		name := text[start:i]
		if bracket {
			if i == len(text) || text[i] != '}' {
				return dst, errors.New("the closing bracket in \"" + string(name) + "\" variable is missing")
			}
			i++
		}
		if len(name) == 0 {
			return dst, invalidName(text, at)
		}
		var ok bool
		mark := len(dst)
		dst, ok = lookup(dst, lowerASCII(name))
		if !ok {
			dst = dst[:mark]
		}
	}
	return dst, nil
}

// literalEnd returns where the literal part of text that starts at i ends:
// at the next "$" that is not escaped, or at the end.
func literalEnd(text []byte, i int) int {
	for i < len(text) && text[i] != '$' {
		if text[i] == '\\' {
			i++
		}
		i++
	}
	return min(i, len(text))
}

// invalidName is the error for the "$" at text[at]. nginx evaluates the
// text in place, so its message shows the parts before the error the way
// they were left: literal parts unescaped over the start of their own
// bytes and variable names lowercased. The message is built the same way.
func invalidName(text []byte, at int) error {
	b := bytes.Clone(text)
	for i := 0; i < at; {
		if text[i] != '$' {
			j := literalEnd(text, i)
			appendUnescaped(b[i:i], text[i:j])
			i = j
			continue
		}
		i++
		bracket := text[i] == '{'
		if bracket {
			i++
		}
		for ; i < len(text) && isNameByte(text[i]); i++ {
			if c := text[i]; c >= 'A' && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		if bracket {
			i++
		}
	}
	return errors.New("invalid variable name in \"" + string(b) + "\"")
}

// lowerASCII returns b with ASCII capitals lowercased, copying it only if
// it has any.
func lowerASCII(b []byte) []byte {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			l := make([]byte, len(b))
			copy(l, b[:i])
			for j := i; j < len(b); j++ {
				c := b[j]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				l[j] = c
			}
			return l
		}
	}
	return b
}

// isLeftByte reports whether c may be part of the left side of an "if"
// expression.
func isLeftByte(c byte) bool {
	return isNameByte(c) || c == '$' || c == '{' || c == '}' || c == '"' || c == '\''
}

// Condition evaluates the expr parameter of "if" and "elif".
//
// The left side is the longest run of ASCII letters, digits and the bytes
// $ { } _ " ' at the start of expr; its capitals are lowercased, literal
// text included, before it is evaluated with Eval. Alone (after optional
// spaces) it holds when its value is not empty; an empty expr does not
// hold. Otherwise spaces, "=" or "!=", and spaces follow, and then the
// right side, which runs to the end of expr, trailing spaces included.
//
// A right side of the form "/pattern/" is a regular expression: the
// pattern is evaluated with Eval and matched against the left value. A
// pattern Go's regexp cannot compile is an error naming it. When it
// matches, whether the operator is "=" or "!=", setCaptures (if not nil)
// receives the subject (a new slice the caller may keep), the start and
// end offsets of the match and of its groups up to the highest-numbered
// group that took part in it (-1 for groups that did not), and the group
// names from SubexpNames. nginx then answers $0..$9 from the match for the
// digits below len(idx)/2, looking other digits up as ordinary variables,
// and sets every named group as an SSI variable, its name lowercased and
// its value empty when the group did not take part. Any other right side
// is evaluated with Eval and compared byte for byte; a leading "\/" stands
// for "/".
//
// There is no negation in front of an expression: nginx does not have one,
// and "!$x" is an invalid expression.
func Condition(expr []byte, lookup func(dst, name []byte) ([]byte, bool), setCaptures func(subject []byte, idx []int, names []string)) (bool, error) {
	i := 0
	for i < len(expr) && isLeftByte(expr[i]) {
		i++
	}
	left := lowerASCII(expr[:i])
	for i < len(expr) && expr[i] == ' ' {
		i++
	}
	lv, err := Eval(nil, left, lookup)
	if err != nil {
		return false, err
	}
	if i == len(expr) {
		return len(lv) > 0, nil
	}

	var negative bool
	switch {
	case expr[i] == '=':
		i++
	case expr[i] == '!' && i+1 < len(expr) && expr[i+1] == '=':
		negative = true
		i += 2
	default:
		return false, invalidExpr(left, expr)
	}
	for i < len(expr) && expr[i] == ' ' {
		i++
	}

	last := len(expr)
	if i < last-1 && expr[i] == '/' {
		if expr[last-1] != '/' {
			return false, invalidExpr(left, expr)
		}
		pat, err := Eval(nil, expr[i+1:last-1], lookup)
		if err != nil {
			return false, err
		}
		re, err := compileRegexp(pat)
		if err != nil {
			return false, err
		}
		idx := re.FindSubmatchIndex(lv)
		if idx == nil {
			return negative, nil
		}
		if setCaptures != nil {
			n := len(idx) / 2
			for n > 1 && idx[2*(n-1)] < 0 {
				n--
			}
			setCaptures(lv, idx[:2*n], re.SubexpNames())
		}
		return !negative, nil
	}

	if i < last-1 && expr[i] == '\\' && expr[i+1] == '/' {
		i++
	}
	rv, err := Eval(nil, expr[i:], lookup)
	if err != nil {
		return false, err
	}
	return bytes.Equal(lv, rv) != negative, nil
}

// compileRegexp compiles the pattern of an expression. Like PCRE, and
// unlike Go's regexp, it refuses two groups of the same name.
func compileRegexp(pat []byte) (*regexp.Regexp, error) {
	re, err := regexp.Compile(string(pat))
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression \"%s\": %v", pat, err)
	}
	names := re.SubexpNames()
	for i, n := range names {
		if n != "" && slices.Contains(names[i+1:], n) {
			return nil, fmt.Errorf("invalid regular expression \"%s\": two groups are named %q", pat, n)
		}
	}
	return re, nil
}

// invalidExpr is the error for an expression without a valid operator or
// regular expression; like nginx it shows the left side lowercased.
func invalidExpr(left, expr []byte) error {
	return errors.New("invalid expression in \"" + string(left) + string(expr[len(left):]) + "\"")
}
