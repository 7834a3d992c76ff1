package subfilter

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// tagRepl replaces a match of string i with "<i>".
func tagRepl(dst []byte, i int) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(i), 10)
	return append(dst, '>')
}

func mustCompile(tb testing.TB, pats []string) *Table {
	tb.Helper()
	bs := make([][]byte, len(pats))
	for i, p := range pats {
		bs[i] = []byte(p)
	}
	t, err := Compile(bs)
	if err != nil {
		tb.Fatalf("Compile(%q): %v", pats, err)
	}
	return t
}

// run feeds body to a fresh Matcher in the pieces given by cuts (increasing
// offsets into body) and returns the output and Done at the end.
func run(t *Table, once bool, body []byte, cuts []int) ([]byte, bool) {
	var m Matcher
	m.Reset(t, once)
	var out []byte
	prev := 0
	for _, c := range cuts {
		out = m.Write(out, body[prev:c], tagRepl)
		prev = c
	}
	out = m.Write(out, body[prev:], tagRepl)
	out = m.End(out, tagRepl)
	return out, m.Done()
}

// reference computes the output of nginx's sub_filter on a whole body in
// the most direct way: at each position the strings are tried in
// configuration order; the first one that matches is replaced, and the
// first one whose beginning runs into the end of the body stops all
// replacing.
func reference(pats []string, once bool, body []byte) []byte {
	fold := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	matches := func(b []byte, p string) bool {
		for j := range b {
			if fold(b[j]) != fold(p[j]) {
				return false
			}
		}
		return true
	}
	used := make([]bool, len(pats))
	nused := 0
	var out []byte
	s := 0
next:
	for s < len(body) {
		if once && nused == len(pats) {
			break
		}
		for i, p := range pats {
			if used[i] {
				continue
			}
			n := min(len(p), len(body)-s)
			if !matches(body[s:s+n], p) {
				continue
			}
			if n < len(p) {
				break next
			}
			out = tagRepl(out, i)
			s += len(p)
			if once {
				used[i] = true
				nused++
			}
			continue next
		}
		out = append(out, body[s])
		s++
	}
	return append(out, body[s:]...)
}

var cases = []struct {
	name string
	pats []string
	once bool
	body string
	want string
	done bool // Done at the end of the body
}{
	{name: "empty body", pats: []string{"a"}, body: "", want: ""},
	{name: "empty body once", pats: []string{"a"}, once: true, body: "", want: ""},
	{name: "no match", pats: []string{"foo"}, body: "bar baz", want: "bar baz"},
	{name: "all", pats: []string{"foo"}, body: "a foo b foo", want: "a <0> b <0>"},
	{name: "once", pats: []string{"foo"}, once: true, body: "a foo b foo", want: "a <0> b foo", done: true},
	{name: "whole body", pats: []string{"foo"}, body: "foo", want: "<0>"},
	{name: "adjacent", pats: []string{"ab"}, body: "ababab", want: "<0><0><0>"},
	{name: "single byte", pats: []string{"a"}, body: "banana", want: "b<0>n<0>n<0>"},

	// Case: ASCII letters fold both in the strings and in the body.
	{name: "case folded", pats: []string{"FoO"}, body: "foo FOO fOo fo0", want: "<0> <0> <0> fo0"},
	{name: "case no fold beyond letters", pats: []string{"@["}, body: "`{ @[", want: "`{ <0>"},

	// Non-ASCII bytes are compared exactly: É (c3 89) and é (c3 a9) differ.
	{name: "utf8 exact", pats: []string{"é"}, body: "é É e", want: "<0> É e"},
	{name: "utf8 with ascii letter", pats: []string{"ÉA"}, body: "Éa ÉA éa", want: "<0> <0> éa"},
	{name: "latin1 not folded", pats: []string{"\xc9"}, body: "\xe9\xc9", want: "\xe9<0>"},
	{name: "utf8 shared lead byte", pats: []string{"é", "ç"}, body: "aéçè", want: "a<0><1>è"},

	// The leftmost match wins, whatever the order of the strings.
	{name: "leftmost", pats: []string{"bc", "abcd"}, body: "abcd", want: "<1>"},
	{name: "leftmost partial loses", pats: []string{"bc", "abcd"}, body: "abce", want: "a<0>e"},
	{name: "overlap non overlapping", pats: []string{"aba"}, body: "ababa", want: "<0>ba"},
	{name: "overlap two strings", pats: []string{"ab", "ba"}, body: "aba", want: "<0>a"},
	{name: "overlap chain", pats: []string{"abc", "cde"}, body: "abcde", want: "<0>de"},

	// At one position the string configured first wins, not the longest.
	{name: "prefix first", pats: []string{"ab", "abc"}, body: "abc", want: "<0>c"},
	{name: "longer first", pats: []string{"abc", "ab"}, body: "abc abd", want: "<0> <1>d"},
	{name: "same start different window", pats: []string{"ax", "abc"}, body: "abc ax", want: "<1> <0>"},
	{name: "one byte and longer", pats: []string{"a", "ab"}, body: "ab", want: "<0>b"},
	{name: "longer and one byte", pats: []string{"ab", "a"}, body: "ab a ", want: "<0> <1> "},
	{name: "same start three", pats: []string{"abcx", "abcy", "ab"}, body: "abcy abcx abcz", want: "<1> <0> <2>cz"},
	{name: "duplicate", pats: []string{"x", "X"}, body: "xxx", want: "<0><0><0>"},

	// sub_filter_once: each string at most once; a replaced string stops
	// competing, so a later one can take its place.
	{name: "once two", pats: []string{"a", "b"}, once: true, body: "abab", want: "<0><1>ab", done: true},
	{name: "once not all", pats: []string{"a", "b"}, once: true, body: "aaa", want: "<0>aa"},
	{name: "once used yields", pats: []string{"ab", "b"}, once: true, body: "abab", want: "<0>a<1>", done: true},
	{name: "once prefix yields", pats: []string{"ab", "abc"}, once: true, body: "ab abc abc", want: "<0> <1> abc", done: true},
	{name: "once duplicate", pats: []string{"x", "X"}, once: true, body: "xxx", want: "<0><1>x", done: true},
	{name: "once order by body", pats: []string{"a", "b", "c"}, once: true, body: "cbcab", want: "<2><1>c<0>b", done: true},
	{name: "once done then text", pats: []string{"a"}, once: true, body: "xaaaa", want: "x<0>aaa", done: true},

	// At the end of the body the bytes held for an incomplete match are
	// written unchanged, even when they contain a complete match of a
	// string configured later.
	{name: "end partial", pats: []string{"abcd"}, body: "xabc", want: "xabc"},
	{name: "end partial after match", pats: []string{"abcd"}, body: "abcdabc", want: "<0>abc"},
	{name: "end partial hides later string", pats: []string{"abcd", "ab"}, body: "xabc", want: "xabc"},
	{name: "end partial hides later start", pats: []string{"xyz", "y"}, body: "axy", want: "axy"},
	{name: "no end partial", pats: []string{"xyz", "y"}, body: "axyb", want: "ax<1>b"},
	{name: "end partial hides one byte string", pats: []string{"ab", "a"}, body: "ab a", want: "<0> a"},
	{name: "end partial long string", pats: []string{strings.Repeat("ab", 150) + "c", "b"}, body: "x" + strings.Repeat("ab", 150) + "c" + "ab", want: "x<0>ab"},
	{name: "end complete before partial", pats: []string{"ab", "abcd"}, body: "xabc", want: "x<0>c"},
	{name: "end partial of used string", pats: []string{"abcd", "ab"}, once: true, body: "abcd xabc", want: "<0> x<1>c", done: true},
	{name: "end short tail", pats: []string{"abcd", "efgh"}, body: "zzabcdz", want: "zz<0>z"},
	{name: "end case partial", pats: []string{"abc"}, body: "xxAB", want: "xxAB"},
	{name: "pattern longer than body", pats: []string{"abcdef"}, body: "abc", want: "abc"},

	{name: "binary", pats: []string{"\x00\xff", "\xff"}, body: "\xff\x00\xff\x00", want: "<1><0>\x00"},
	{name: "long string", pats: []string{strings.Repeat("ab", 150) + "c", "b"}, body: "x" + strings.Repeat("ab", 150) + "c" + "ab!", want: "x<0>a<1>!"},
	{name: "long string end", pats: []string{strings.Repeat("ab", 150) + "c", "b"}, body: "x" + strings.Repeat("ab", 150), want: "x" + strings.Repeat("ab", 150)},
}

// cutsFor returns the ways to cut a body of n bytes that every case is fed
// with: whole, byte by byte, in two at every offset, and in random pieces.
func cutsFor(n int, r *rand.Rand) [][]int {
	all := [][]int{nil}
	var each []int
	for i := 1; i < n; i++ {
		each = append(each, i)
		all = append(all, []int{i})
	}
	all = append(all, each)
	for range 30 {
		var c []int
		for i := 0; i < n; {
			i += r.IntN(5)
			if i < n {
				c = append(c, i) // may repeat: empty pieces
			}
		}
		all = append(all, c)
	}
	return all
}

func TestCases(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := mustCompile(t, tc.pats)
			if ref := reference(tc.pats, tc.once, []byte(tc.body)); string(ref) != tc.want {
				t.Errorf("reference = %q, want %q", ref, tc.want)
			}
			for _, cuts := range cutsFor(len(tc.body), r) {
				got, done := run(tab, tc.once, []byte(tc.body), cuts)
				if string(got) != tc.want || done != tc.done {
					t.Fatalf("cuts %v: got %q done %v, want %q done %v", cuts, got, done, tc.want, tc.done)
				}
			}
		})
	}
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		pats []string
		err  string
	}{
		{nil, "no search patterns"},
		{[]string{"a", ""}, "empty search pattern"},
	} {
		if _, err := Compile(toBytes(tc.pats)); err == nil || err.Error() != tc.err {
			t.Errorf("Compile(%q) = %v, want %q", tc.pats, err, tc.err)
		}
	}
	many := make([]string, MaxPatterns+1)
	for i := range many {
		many[i] = "p" + strconv.Itoa(i)
	}
	if _, err := Compile(toBytes(many[:MaxPatterns])); err != nil {
		t.Errorf("Compile(255 strings) = %v", err)
	}
	if _, err := Compile(toBytes(many)); err == nil || err.Error() != "number of search patterns exceeds 255" {
		t.Errorf("Compile(256 strings) = %v", err)
	}

	in := [][]byte{[]byte("AbC"), []byte("Déf"), []byte("x")}
	tab, err := Compile(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(in[0]) != "AbC" || string(in[1]) != "Déf" {
		t.Errorf("Compile modified its input: %q", in)
	}
	if tab.MaxLen() != 4 || tab.Len() != 3 {
		t.Errorf("MaxLen %d Len %d, want 4 3", tab.MaxLen(), tab.Len())
	}
}

func toBytes(ss []string) [][]byte {
	bs := make([][]byte, len(ss))
	for i, s := range ss {
		bs[i] = []byte(s)
	}
	return bs
}

// TestManyPatterns uses the largest table nginx allows, with the last string
// matching and the others competing.
func TestManyPatterns(t *testing.T) {
	pats := make([]string, MaxPatterns)
	for i := range pats {
		pats[i] = "k" + strconv.Itoa(i) + ";"
	}
	tab := mustCompile(t, pats)
	body := []byte("k254; k1; K25; k3 k100;")
	want := "<254> <1> <25> k3 <100>"
	r := rand.New(rand.NewPCG(3, 4))
	for _, cuts := range cutsFor(len(body), r) {
		if got, _ := run(tab, false, body, cuts); string(got) != want {
			t.Fatalf("cuts %v: got %q, want %q", cuts, got, want)
		}
	}
	if got := reference(pats, false, body); string(got) != want {
		t.Fatalf("reference %q", got)
	}
}

func TestDonePassThrough(t *testing.T) {
	tab := mustCompile(t, []string{"ab"})
	var m Matcher
	if !m.Done() {
		t.Error("zero Matcher not Done")
	}
	if got := m.Write(nil, []byte("ab"), tagRepl); string(got) != "ab" {
		t.Errorf("zero Matcher wrote %q", got)
	}
	m.Reset(tab, true)
	out := m.Write(nil, []byte("xa"), tagRepl)
	if m.Done() || string(out) != "x" {
		t.Fatalf("got %q done %v", out, m.Done())
	}
	out = m.Write(out, []byte("bab"), tagRepl)
	if !m.Done() || string(out) != "x<0>ab" {
		t.Fatalf("got %q done %v", out, m.Done())
	}
	out = m.Write(out, []byte("ab"), tagRepl)
	out = m.End(out, tagRepl)
	if string(out) != "x<0>abab" {
		t.Fatalf("got %q", out)
	}
	// Reset starts afresh with the same hold buffer.
	m.Reset(tab, false)
	out = m.Write(out[:0], []byte("a"), tagRepl)
	out = m.End(out, tagRepl)
	if m.Done() || string(out) != "a" {
		t.Fatalf("after Reset: got %q done %v", out, m.Done())
	}
}

// TestHold checks that only what may begin a match is held between pieces,
// and that pieces passed to Write may be reused afterwards.
func TestHold(t *testing.T) {
	tab := mustCompile(t, []string{"abcd", "xy"})
	var m Matcher
	m.Reset(tab, false)
	p := []byte("zzab")
	out := m.Write(nil, p, tagRepl)
	if string(out) != "zz" {
		t.Fatalf("got %q", out)
	}
	copy(p, "....")
	out = m.Write(out, []byte("c"), tagRepl)
	if string(out) != "zz" {
		t.Fatalf("got %q", out)
	}
	out = m.Write(out, []byte("e"), tagRepl)
	if string(out) != "zzabce" {
		t.Fatalf("got %q", out)
	}
	out = m.Write(out, []byte("x"), tagRepl)
	out = m.Write(out, []byte("yx"), tagRepl)
	if string(out) != "zzabce<1>" {
		t.Fatalf("got %q", out)
	}
	out = m.End(out, tagRepl)
	if string(out) != "zzabce<1>x" {
		t.Fatalf("got %q", out)
	}
}

// randomCase draws strings and a body over a small alphabet so that
// strings overlap, share prefixes and repeat often.
func randomCase(r *rand.Rand) (pats []string, once bool, body []byte) {
	alpha := []string{"aAb", "ab", "aB\xc3\xa9", "xyzXYZ", "\x00\xff\xc9\xe9"}[r.IntN(5)]
	rs := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return b
	}
	np := 1 + r.IntN(6)
	for range np {
		pats = append(pats, string(rs(1+r.IntN(6))))
	}
	n := r.IntN(80)
	for len(body) < n {
		if r.IntN(2) == 0 {
			p := pats[r.IntN(len(pats))]
			body = append(body, p[:r.IntN(len(p)+1)]...)
		} else {
			body = append(body, rs(1+r.IntN(3))...)
		}
	}
	return pats, r.IntN(2) == 0, body
}

func TestRandomAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		pats, once, body := randomCase(r)
		tab := mustCompile(t, pats)
		want := reference(pats, once, body)
		for _, cuts := range cutsFor(len(body), r)[:8] {
			if got, _ := run(tab, once, body, cuts); !bytes.Equal(got, want) {
				t.Fatalf("pats %q once %v body %q cuts %v: got %q, want %q", pats, once, body, cuts, got, want)
			}
		}
	}
}

func FuzzMatcher(f *testing.F) {
	for _, tc := range cases {
		f.Add(strings.Join(tc.pats, "\x00"), []byte(tc.body), tc.once, uint64(len(tc.body)))
	}
	f.Fuzz(func(t *testing.T, joined string, body []byte, once bool, seed uint64) {
		if len(body) > 256 || len(joined) > 256 {
			return // keep every run, and so minimization, fast
		}
		var pats []string
		for _, p := range strings.Split(joined, "\x00") {
			if p != "" && len(pats) < MaxPatterns {
				pats = append(pats, p)
			}
		}
		if len(pats) == 0 {
			return
		}
		tab := mustCompile(t, pats)
		want := reference(pats, once, body)
		r := rand.New(rand.NewPCG(seed, 0))
		var each []int
		for i := 1; i < len(body); i++ {
			each = append(each, i)
		}
		var random []int
		for i := 0; i < len(body); {
			i += r.IntN(2 * tab.MaxLen())
			if i < len(body) {
				random = append(random, i)
			}
		}
		for _, cuts := range [][]int{nil, each, random} {
			if got, _ := run(tab, once, body, cuts); !bytes.Equal(got, want) {
				t.Fatalf("pats %q once %v body %q cuts %v: got %q, want %q", pats, once, body, cuts, got, want)
			}
		}
	})
}

// benchBody is HTML-like text with an occasional match of the benchmark's
// strings.
func benchBody(n int) []byte {
	r := rand.New(rand.NewPCG(7, 8))
	words := []string{"<div class=\"item\">", "lorem", "ipsum", "dolor", "</div>\n", "<a href=\"/x\">", "</a>", "sit", "amet", "Example.COM", "http://", "é"}
	var b []byte
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}

func TestNoAllocs(t *testing.T) {
	tab := mustCompile(t, []string{"http://example.com", "</body>", "lorem ipsum"})
	body := benchBody(1 << 16)
	var m Matcher
	dst := make([]byte, 0, 2*len(body))
	allocs := testing.AllocsPerRun(20, func() {
		m.Reset(tab, false)
		dst = dst[:0]
		for p := body; len(p) > 0; p = p[min(len(p), 1000):] {
			dst = m.Write(dst, p[:min(len(p), 1000)], tagRepl)
		}
		dst = m.End(dst, tagRepl)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per body", allocs)
	}
}

func BenchmarkWrite(b *testing.B) {
	tab := mustCompile(b, []string{"http://example.com", "</body>", "lorem ipsum"})
	const piece = 16 << 10
	body := benchBody(64 * piece)
	repl := func(dst []byte, i int) []byte { return append(dst, "https://example.org"...) }
	var m Matcher
	m.Reset(tab, false)
	dst := make([]byte, 0, 2*piece)
	b.SetBytes(piece)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := (i % 64) * piece
		dst = m.Write(dst[:0], body[off:off+piece], repl)
	}
}
