package ssi

import (
	"math/rand"
	"strings"
	"testing"
)

// feed runs the parser over the body cut into chunks, checks the calling
// contract of Next on the way, and renders what it found: text as it is,
// a command as {name p="v" ...}, an error as {!message}.
func feed(t testing.TB, p *Parser, chunks [][]byte) string {
	t.Helper()
	var b strings.Builder
	for _, c := range chunks {
		stuck := 0
		for {
			n, it := p.Next(c)
			if n < 0 || n > len(c) {
				t.Fatalf("Next consumed %d of %d bytes", n, len(c))
			}
			if it.Kind == None {
				if n != len(c) {
					t.Fatalf("Next returned None after %d of %d bytes", n, len(c))
				}
				break
			}
			if n == 0 {
				if stuck++; stuck > 1 {
					t.Fatalf("Next made no progress twice on %q", c)
				}
			} else {
				stuck = 0
			}
			render(&b, it)
			c = c[n:]
		}
	}
	if rest := p.End(); rest != nil {
		b.Write(rest)
	}
	return b.String()
}

func render(b *strings.Builder, it Item) {
	switch it.Kind {
	case Text:
		if len(it.Text) == 0 {
			b.WriteString("{empty text}")
		}
		b.Write(it.Text)
	case Command:
		b.WriteString("{")
		b.Write(it.Name)
		for _, prm := range it.Params {
			b.WriteString(" ")
			b.Write(prm.Name)
			b.WriteString(`="`)
			b.Write(prm.Value)
			b.WriteString(`"`)
		}
		b.WriteString("}")
	case Error:
		b.WriteString("{!" + it.Err + "}")
	default:
		b.WriteString("{bad kind " + it.Kind.String() + "}")
	}
}

func whole(body string) [][]byte { return [][]byte{[]byte(body)} }

func bytewise(body string) [][]byte {
	var cs [][]byte
	for i := 0; i < len(body); i++ {
		cs = append(cs, []byte(body[i:i+1]))
	}
	return cs
}

func randomSplit(r *rand.Rand, body string) [][]byte {
	var cs [][]byte
	for len(body) > 0 {
		n := r.Intn(len(body)+1) / (1 + r.Intn(4))
		if r.Intn(8) == 0 {
			n = 0 // empty chunks are allowed too
		}
		cs = append(cs, []byte(body[:n]))
		body = body[n:]
	}
	return cs
}

var (
	name32  = strings.Repeat("n", 32)
	param32 = strings.Repeat("p", 32)
)

func params(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" p")
		b.WriteByte(byte('a' + i))
		b.WriteString(`="v"`)
	}
	return b.String()
}

var parserTests = []struct {
	name     string
	valueLen int // 0 means DefaultValueLen
	body     string
	want     string
}{
	{"empty", 0, "", ""},
	{"plain", 0, "plain text, no commands\n", "plain text, no commands\n"},
	{"command only", 0, `<!--#echo var="a" -->`, `{echo var="a"}`},
	{"start middle end", 0, `<!--#a-->x<!--#b -->y<!--#c-->`, `{a}x{b}y{c}`},
	{"adjacent", 0, `<!--#a--><!--#b--><!--#c-->`, `{a}{b}{c}`},
	{"names kept as written", 0, `<!--#ECHO VAR="A" -->`, `{ECHO VAR="A"}`},
	{"plain comment", 0, `a<!-- comment -->b`, `a<!-- comment -->b`},
	{"false starts", 0, `<x <!x <!-x <!--x <!- -# <!-#`, `<x <!x <!-x <!--x <!- -# <!-#`},
	{"lt before opener", 0, `a<<!--#b-->`, `a<{b}`},
	{"broken opener then command", 0, `<!-<!--<!--#b-->`, `<!-<!--{b}`},
	{"trailing lt dropped", 0, `abc<`, `abc`},
	{"trailing opener prefix dropped", 0, `abc<!-`, `abc`},
	{"trailing opener dropped", 0, `abc<!--#`, `abc`},
	{"trailing command dropped", 0, `abc<!--#echo var="x" `, `abc`},
	{"trailing error dropped", 0, `abc<!--#echo x y`, `abc`},
	{"prefix then lt at end", 0, `a<!-<`, `a<!-`},
	{"double quotes", 0, `<!--#a b="x'y" -->`, `{a b="x'y"}`},
	{"single quotes", 0, `<!--#a b='x"y' -->`, `{a b="x"y"}`},
	{"escapes kept", 0, `<!--#a b="x\"y\\z\q" c='it\'s' -->`, `{a b="x\"y\\z\q" c="it\'s"}`},
	{"escaped dash and gt", 0, `<!--#a b="--\>" -->`, `{a b="--\>"}`},
	{"empty value", 0, `<!--#a b="" -->`, `{a b=""}`},
	{"whitespace", 0, "<!--# \t\r\na \t\r\nb \n=\t 'v'\r\n-->", `{a b="v"}`},
	{"no spaces", 0, `<!--#a b="v"c-->`, `{!unexpected "c" symbol after "v" value of "b" parameter in "a" SSI command}`},
	{"value then dashes", 0, `<!--#a b="v"-->`, `{a b="v"}`},
	{"odd names", 0, `<!--#x=y "b"='c' -->`, `{x=y "b"="c"}`},
	{"command name 32", 0, "<!--#" + name32 + " -->", "{" + name32 + "}"},
	{"command name 33", 0, "<!--#" + name32 + "x -->z", `{!the "` + name32 + `x..." SSI command is too long}z`},
	{"param name 32", 0, "<!--#a " + param32 + `="v" -->`, "{a " + param32 + `="v"}`},
	{"param name 33", 0, "<!--#a " + param32 + `q="v" -->z`, `{!too long "` + param32 + `q..." parameter in "a" SSI command}z`},
	{"value at limit", 4, `<!--#a b="abcd" -->`, `{a b="abcd"}`},
	{"value over limit", 4, `<!--#a b="abcde" -->z`, `{!too long "abcde..." value of "b" parameter in "a" SSI command}z`},
	{"escape at limit", 4, `<!--#a b="abc\"" -->z`, `{!too long "abc\"..." value of "b" parameter in "a" SSI command}z`},
	{"backslash over limit", 3, `<!--#a b="abc\"" -->z`, `{!too long "abc\..." value of "b" parameter in "a" SSI command}z`},
	{"zero value length", -1, `<!--#a b="" c="x" -->`, `{!too long "x..." value of "c" parameter in "a" SSI command}`},
	{"params 16", 0, "<!--#a" + params(16) + " -->", "{a" + params(16) + "}"},
	{"params 17", 0, "<!--#a" + params(17) + " -->", "{a" + params(17) + "}"},
	{"params 20 kept 17", 0, "<!--#a" + params(20) + " -->", "{a" + params(17) + "}"},
	{"params 20 then error", 4, "<!--#a" + params(20) + ` pz="12345" -->`, `{!too long "12345..." value of "pz" parameter in "a" SSI command}`},
	{"dash after param", 0, `<!--#a b-->z`, `{!unexpected "-" symbol after "b" parameter in "a" SSI command}z`},
	{"no equal", 0, `<!--#a b c -->z`, `{!unexpected "c" symbol after "b" parameter in "a" SSI command}z`},
	{"no equal dash", 0, `<!--#a b -->z`, `{!unexpected "-" symbol after "b" parameter in "a" SSI command}z`},
	{"unquoted value", 0, `<!--#a b=c -->z`, `{!unexpected "c" symbol before value of "b" parameter in "a" SSI command}z`},
	{"missing value", 0, `<!--#a b=-->z`, `{!unexpected "-" symbol before value of "b" parameter in "a" SSI command}z`},
	{"bad end", 0, `<!--#a -x -->z`, `{!unexpected "x" symbol in "a" SSI command}z`},
	{"bad end gt", 0, `<!--#a - >-->z`, `{!unexpected " " symbol in "a" SSI command}z`},
	{"three dashes", 0, `<!--#a --->x-->z`, `{!unexpected "-" symbol in "a" SSI command}z`},
	{"skip parity", 0, `<!--#a b c--->x---->y----->z`, `{!unexpected "c" symbol after "b" parameter in "a" SSI command}z`},
	{"skip ignores opener", 0, `<!--#a b c <!--#d --> e`, `{!unexpected "c" symbol after "b" parameter in "a" SSI command} e`},
	{"recovery", 0, `<!--#a b c -->x<!--#d e="f"-->`, `{!unexpected "c" symbol after "b" parameter in "a" SSI command}x{d e="f"}`},
	{"raw byte in message", 0, "<!--#a b \xff -->", "{!unexpected \"\xff\" symbol after \"b\" parameter in \"a\" SSI command}"},
	{"space name", 0, `<!--# -->text-->after`, `{!unexpected ">" symbol in "-" SSI command}after`},
	{"dash name", 0, `<!--#-->text-->after`, `{!unexpected ">" symbol in "-" SSI command}after`},
	{"dash name closed", 0, `<!--#--->z`, `{-}z`},
	{"dash name at end", 0, `x<!--#-->`, `x`},
	{"lt inside command", 0, `<!--#a b="<!--#" -->`, `{a b="<!--#"}`},
}

func TestParser(t *testing.T) {
	for _, tc := range parserTests {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			if tc.valueLen != 0 {
				p.Reset(max(tc.valueLen, 0))
			}
			if got := feed(t, &p, whole(tc.body)); got != tc.want {
				t.Errorf("body %q\n got %q\nwant %q", tc.body, got, tc.want)
			}
		})
	}
}

// TestParserSplits feeds every body of the table whole, a byte at a time
// and in random pieces, with one parser reused through Reset, and expects
// the same result each time.
func TestParserSplits(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var p Parser
	for _, tc := range parserTests {
		vl := DefaultValueLen
		if tc.valueLen != 0 {
			vl = max(tc.valueLen, 0)
		}
		splits := [][][]byte{whole(tc.body), bytewise(tc.body)}
		for range 50 {
			splits = append(splits, randomSplit(r, tc.body))
		}
		for _, cs := range splits {
			p.Reset(vl)
			if got := feed(t, &p, cs); got != tc.want {
				t.Fatalf("%s: body %q split as %q\n got %q\nwant %q", tc.name, tc.body, cs, got, tc.want)
			}
		}
	}
}

// TestParserTextItems checks that text comes out in long runs and points
// into the input where it can.
func TestParserTextItems(t *testing.T) {
	var p Parser
	in := []byte(`some text <!- not <!-- a command <!--#c-->more text`)
	n, it := p.Next(in)
	if it.Kind != Text || string(it.Text) != `some text <!- not <!-- a command ` {
		t.Fatalf("first item %v %q", it.Kind, it.Text)
	}
	if &it.Text[0] != &in[0] {
		t.Errorf("text was copied")
	}
	in = in[n:]
	n, it = p.Next(in)
	if it.Kind != Command || string(it.Name) != "c" {
		t.Fatalf("second item %v %q", it.Kind, it.Name)
	}
	in = in[n:]
	n, it = p.Next(in)
	if it.Kind != Text || string(it.Text) != "more text" || n != len(in) {
		t.Fatalf("third item %v %q n=%d", it.Kind, it.Text, n)
	}
	if n, it = p.Next(in[n:]); n != 0 || it.Kind != None {
		t.Fatalf("end: %d %v", n, it.Kind)
	}
}

func TestParserZeroAndEnd(t *testing.T) {
	var p Parser
	// The zero Parser uses the default value length.
	long := strings.Repeat("v", DefaultValueLen)
	if got := feed(t, &p, whole(`<!--#a b="`+long+`"-->`)); got != `{a b="`+long+`"}` {
		t.Errorf("default value length: %q", got)
	}
	// End drops what is held and readies the parser for the next body.
	if got := feed(t, &p, whole(`x<!--#a b="`)); got != "x" {
		t.Errorf("got %q", got)
	}
	if got := feed(t, &p, whole(`-->y`)); got != "-->y" {
		t.Errorf("after End: %q", got)
	}
}

func TestParserAllocs(t *testing.T) {
	body := []byte(`<html><!--#include virtual="/a/b?c=d" set="x" --> text <!-- c --> <!--#echo var="x" encoding='none'-->` + strings.Repeat("abc<d", 50))
	var p Parser
	p.Reset(DefaultValueLen)
	run := func() {
		in := body
		for {
			n, it := p.Next(in)
			in = in[n:]
			if it.Kind == None {
				break
			}
		}
		p.End()
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per body", a)
	}
}

func FuzzParser(f *testing.F) {
	for _, tc := range parserTests {
		f.Add([]byte(tc.body), uint16(tc.valueLen), int64(len(tc.body)))
	}
	f.Fuzz(func(t *testing.T, body []byte, vl uint16, seed int64) {
		valueLen := int(vl % 300)
		var p Parser
		p.Reset(valueLen)
		want := feed(t, &p, whole(string(body)))
		p.Reset(valueLen)
		if got := feed(t, &p, bytewise(string(body))); got != want {
			t.Fatalf("byte at a time:\n got %q\nwant %q", got, want)
		}
		r := rand.New(rand.NewSource(seed))
		for range 4 {
			p.Reset(valueLen)
			if got := feed(t, &p, randomSplit(r, string(body))); got != want {
				t.Fatalf("random split:\n got %q\nwant %q", got, want)
			}
		}
	})
}
