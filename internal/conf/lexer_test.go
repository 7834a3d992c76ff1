package conf

import (
	"errors"
	"strings"
	"testing"
)

// lexAll returns the tokens of src rendered compactly: words as their
// text in brackets (with a q for quoted ones), punctuation as itself.
func lexAll(src string, param bool) (string, error) {
	lx := newLexer([]byte(src), param)
	var out []string
	for {
		tok, err := lx.next()
		if err != nil {
			return strings.Join(out, " "), err
		}
		switch tok.kind {
		case tokWord:
			q := ""
			if tok.quoted {
				q = "q"
			}
			out = append(out, q+"["+tok.text+"]")
		case tokSemicolon:
			out = append(out, ";")
		case tokOpen:
			out = append(out, "{")
		case tokClose:
			out = append(out, "}")
		case tokEOF:
			return strings.Join(out, " "), nil
		}
	}
}

func TestLexer(t *testing.T) {
	tests := []struct {
		name, src, want, err string
	}{
		{"simple", "a b;", "[a] [b] ;", ""},
		{"block", "http { x 1; }", "[http] { [x] [1] ; }", ""},
		{"comment", "# c\na; # d { }\nb;", "[a] ; [b] ;", ""},
		{"hash inside word", "a#b;", "[a#b] ;", ""},
		{"double quotes", `a "b c";`, "[a] q[b c] ;", ""},
		{"single quotes", `a 'b "c"';`, `[a] q[b "c"] ;`, ""},
		{"empty quotes", `a "";`, "[a] q[] ;", ""},
		{"escaped quote", `a "b\"c";`, `[a] q[b"c] ;`, ""},
		{"escaped single", `a 'it\'s';`, `[a] q[it's] ;`, ""},
		{"escaped backslash", `a "x\\y";`, `[a] q[x\y] ;`, ""},
		{"control escapes", `a "1\t2\n3\r";`, "[a] q[1\t2\n3\r] ;", ""},
		{"other escape kept", `a "\d\.";`, `[a] q[\d\.] ;`, ""},
		{"escape in bare word", `a b\;c;`, `[a] [b\;c] ;`, ""},
		{"escaped space", `a b\ c;`, `[a] [b\ c] ;`, ""},
		{"variables verbatim", `a $host ${host}x;`, "[a] [$host] [${host}x] ;", ""},
		{"brace after dollar", `a x${y}z{`, "[a] [x${y}z] {", ""},
		{"brace ends word", `a b{`, "[a] [b] {", ""},
		{"close brace in word", `a b};`, "[a] [b}] ;", ""},
		{"quote inside word", `a b"c";`, `[a] [b"c"] ;`, ""},
		{"paren after quote", `if ($a = "b") {`, `[if] [($a] [=] q[b] [)] {`, ""},
		{"quote then semicolon", `a "b";c;`, "[a] q[b] ; [c] ;", ""},
		{"newlines in quotes", "a \"b\nc\";", "[a] q[b\nc] ;", ""},
		{"crlf", "a b;\r\nc;\r\n", "[a] [b] ; [c] ;", ""},
		{"junk after quote", `a "b"c;`, "[a]", `unexpected "c"`},
		{"brace after quote", `a "b"};`, "[a]", `unexpected "}"`},
		{"unterminated quote", `a "b;`, "[a]", `unexpected end of file, expecting ";" or "}"`},
		{"word at eof", `a b`, "[a]", `unexpected end of file, expecting ";" or "}"`},
		{"empty", "", "", ""},
		{"only comment", "# x", "", ""},
		{"bare punctuation", "; { }", "; { }", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lexAll(tt.src, false)
			if got != tt.want {
				t.Errorf("tokens = %s, want %s", got, tt.want)
			}
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			if errText != tt.err {
				t.Errorf("error = %q, want %q", errText, tt.err)
			}
		})
	}
}

func TestLexerParamWording(t *testing.T) {
	_, err := lexAll("daemon off", true)
	if err == nil || err.Error() != `unexpected end of parameter, expecting ";"` {
		t.Fatalf("error = %v", err)
	}
}

func TestLexerLines(t *testing.T) {
	lx := newLexer([]byte("a\n\"b\nc\"\n# x\n d\\\ne;"), false)
	var lines []int
	for {
		tok, err := lx.next()
		if err != nil {
			t.Fatal(err)
		}
		if tok.kind == tokEOF {
			break
		}
		lines = append(lines, tok.line)
	}
	want := []int{1, 2, 5, 6}
	if len(lines) != len(want) {
		t.Fatalf("lines = %v, want %v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("lines = %v, want %v", lines, want)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := map[string]string{
		``:          ``,
		`plain`:     `plain`,
		`\"`:        `"`,
		`\'`:        `'`,
		`\\`:        `\`,
		`\n\r\t`:    "\n\r\t",
		`\x`:        `\x`,
		`a\`:        `a\`,
		`\\\"`:      `\"`,
		`$a\$b`:     `$a\$b`,
		`\\n`:       `\n`,
		`x\\\\\\y`:  `x\\\y`,
		`\q\\`:      `\q\`,
		`\'\"\\\t`:  "'\"\\\t",
		`\u00e9`:    `\u00e9`,
		`trailing\`: `trailing\`,
	}
	for in, want := range tests {
		if got := unescape([]byte(in)); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLexer(f *testing.F) {
	seeds := []string{
		"events {}\nhttp { server { listen 80; location / { proxy_pass http://a; } } }",
		`a "b\"c" 'd\'e' f\ g ${h}i;`,
		"# comment\n}{;",
		`if ($a = "b") { return 200 "x"; }`,
		"\"unterminated",
		"a\\",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, param := range []bool{false, true} {
			lx := newLexer([]byte(src), param)
			prevPos := -1
			for i := 0; ; i++ {
				tok, err := lx.next()
				if err != nil || tok.kind == tokEOF {
					break
				}
				if lx.pos <= prevPos {
					t.Fatalf("lexer did not advance at %d", lx.pos)
				}
				prevPos = lx.pos
				if lx.pos > len(src) {
					t.Fatalf("position %d beyond input %d", lx.pos, len(src))
				}
				if tok.line < 1 || tok.line > strings.Count(src, "\n")+1 {
					t.Fatalf("line %d out of range", tok.line)
				}
			}
		}
		// Parse must never panic either, and an error must be an *Error.
		if _, err := Parse("fuzz.conf", []byte(src)); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
		}
	})
}
