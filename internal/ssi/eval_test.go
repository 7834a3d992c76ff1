package ssi

import (
	"fmt"
	"testing"
)

var testVars = map[string]string{
	"foo":   "FooVal",
	"empty": "",
	"1":     "one",
	"a_b":   "AB",
	"slash": "/",
	"pat":   "^F(o+)",
}

func testLookup(dst, name []byte) ([]byte, bool) {
	v, ok := testVars[string(name)]
	if !ok {
		return append(dst, "garbage"...), false
	}
	return append(dst, v...), true
}

func TestEval(t *testing.T) {
	tests := []struct {
		text, want, err string
	}{
		{``, ``, ``},
		{`plain text`, `plain text`, ``},
		{`a\"b\\c\qd\'e`, `a"b\c\qd'e`, ``},
		{`a\"b\\c\qd\$e\'f`, `a"b\c\qd$e'f`, ``},
		{`ab\`, `ab`, ``},
		{`$foo\`, `FooVal`, ``},
		{`$foo`, `FooVal`, ``},
		{`${foo}x`, `FooValx`, ``},
		{`$FOO ${FoO}`, `FooVal FooVal`, ``},
		{`$foo.bar`, `FooVal.bar`, ``},
		{`$foox|`, `|`, ``},
		{`$empty|`, `|`, ``},
		{`x$nope-y`, `x-y`, ``},
		{`$1$a_b`, `oneAB`, ``},
		{`$foo$foo`, `FooValFooVal`, ``},
		{`\$foo=$foo`, `$foo=FooVal`, ``},
		{`$a}`, `}`, ``},
		{`$`, ``, `invalid variable name in "$"`},
		{`a$`, ``, `invalid variable name in "a$"`},
		{`$-`, ``, `invalid variable name in "$-"`},
		{`$foo $ x`, ``, `invalid variable name in "$foo $ x"`},
		{`${}`, ``, `invalid variable name in "${}"`},
		{`${`, ``, `invalid variable name in "${"`},
		{`${foo`, ``, `the closing bracket in "foo" variable is missing`},
		{`a${fo-o}`, ``, `the closing bracket in "fo" variable is missing`},
		// nginx evaluates in place, and its message shows it.
		{`\$f$`, ``, `invalid variable name in "$ff$"`},
		{`$FOO_O$FOO$${foo}$`, ``, `invalid variable name in "$foo_o$foo$${foo}$"`},
		{`\\./FOO${`, ``, `invalid variable name in "\./FOOO${"`},
	}
	for _, tc := range tests {
		got, err := Eval([]byte("pre:"), []byte(tc.text), testLookup)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Eval(%q) error %v, want %q", tc.text, err, tc.err)
			}
			if string(got) != "pre:" {
				t.Errorf("Eval(%q) left %q in dst", tc.text, got)
			}
			continue
		}
		if err != nil || string(got) != "pre:"+tc.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tc.text, got, err, tc.want)
		}
	}
}

func TestEvalPath(t *testing.T) {
	tests := []struct {
		text, uri, want string
	}{
		{`a.html`, `/dir/doc.html`, `/dir/a.html`},
		{`/abs`, `/dir/doc.html`, `/abs`},
		{``, `/dir/doc.html`, `/dir/`},
		{`\x`, `/dir/doc.html`, `/dir/\x`},
		{`$foo`, `/dir/doc.html`, `/dir/FooVal`},
		{`$slash$foo`, `/dir/doc.html`, `/FooVal`},
		{`$nope`, `/dir/doc.html`, ``},
		{`${nope}/abs`, `/dir/doc.html`, `/abs`},
		{`$nope\/abs`, `/dir/doc.html`, `/dir/\/abs`},
		{`a`, `nodir`, `a`},
		{`a$foo`, `/`, `/aFooVal`},
	}
	for _, tc := range tests {
		got, err := EvalPath([]byte("pre:"), []byte(tc.text), []byte(tc.uri), testLookup)
		if err != nil || string(got) != "pre:"+tc.want {
			t.Errorf("EvalPath(%q, %q) = %q, %v; want %q", tc.text, tc.uri, got, err, tc.want)
		}
	}
	if got, err := EvalPath(nil, []byte("a$"), []byte("/d/"), testLookup); err == nil || len(got) != 0 {
		t.Errorf("EvalPath error: %q %v", got, err)
	}
}

func TestCondition(t *testing.T) {
	tests := []struct {
		expr string
		want bool
		err  string
	}{
		{``, false, ``},
		{`$foo`, true, ``},
		{`$nope`, false, ``},
		{`$empty`, false, ``},
		{`foo`, true, ``},
		{`$foo  `, true, ``},
		{`$foo = FooVal`, true, ``},
		{`$foo=FooVal`, true, ``},
		{`$foo != FooVal`, false, ``},
		{`$foo!=x`, true, ``},
		{`$foo = fooval`, false, ``},
		{`$foo = FooVal `, false, ``},
		{`ABC = abc`, true, ``},
		{`$FOO = FooVal`, true, ``},
		{`$foo = $foo`, true, ``},
		{`'$foo' = 'FooVal'`, true, ``},
		{`$foo == x`, false, ``},
		{`$foo == FooVal`, false, ``},
		{` = `, true, ``},
		{`!= x`, true, ``},
		{`$slash = \/`, true, ``},
		{`$slash = /`, true, ``},
		{`$foo = /^Foo/`, true, ``},
		{`$foo != /^Foo/`, false, ``},
		{`$foo = /^foo/`, false, ``},
		{`$foo = /(?i)^foo/`, true, ``},
		{`$foo = //`, true, ``},
		{`$foo = /$pat/`, true, ``},
		{`$foo = /F\\./`, false, ``},
		{`$foo = /F\\w/`, true, ``},
		{`$foo = /F\w/`, true, ``},
		{`!$foo`, false, `invalid expression in "!$foo"`},
		{`$FOO > x`, false, `invalid expression in "$foo > x"`},
		{`$foo = /a`, false, `invalid expression in "$foo = /a"`},
		{`$foo = /F/ `, false, `invalid expression in "$foo = /F/ "`},
		{`$foo = $`, false, `invalid variable name in "$"`},
		{`$ = x`, false, `invalid variable name in "$"`},
		{`$foo = /(/`, false, `invalid regular expression "(": error parsing regexp: missing closing ): ` + "`(`"},
		{`$foo = /(?P<n>o)(?P<n>o)/`, false, `invalid regular expression "(?P<n>o)(?P<n>o)": two groups are named "n"`},
	}
	for _, tc := range tests {
		got, err := Condition([]byte(tc.expr), testLookup, nil)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Condition(%q) error %v, want %q", tc.expr, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Condition(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestConditionCaptures(t *testing.T) {
	tests := []struct {
		expr string
		want bool
		caps string // "" when setCaptures must not be called
	}{
		{`$foo = /^(F)(o+)(x)?/`, true, `[Foo F oo] ["" "" "" ""]`},
		{`$foo = /^(F)(x)?(o+)/`, true, `[Foo F - oo] ["" "" "" ""]`},
		{`$foo != /^(F)(o+)(x)?/`, false, `[Foo F oo] ["" "" "" ""]`},
		{`$foo = /(?P<First>F)(?P<n>o)(?P<z>z)?/`, true, `[Fo F o] ["" "First" "n" "z"]`},
		{`$foo = /x(y)/`, false, ``},
		{`$foo != /x(y)/`, true, ``},
		{`$foo = FooVal`, true, ``},
	}
	for _, tc := range tests {
		caps := ""
		got, err := Condition([]byte(tc.expr), testLookup, func(subject []byte, idx []int, names []string) {
			var parts []string
			for g := 0; 2*g < len(idx); g++ {
				if idx[2*g] < 0 {
					parts = append(parts, "-")
				} else {
					parts = append(parts, string(subject[idx[2*g]:idx[2*g+1]]))
				}
			}
			caps = fmt.Sprintf("%v %q", parts, names)
		})
		if err != nil || got != tc.want {
			t.Errorf("Condition(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
		if caps != tc.caps {
			t.Errorf("Condition(%q) captures %s, want %s", tc.expr, caps, tc.caps)
		}
	}
}
