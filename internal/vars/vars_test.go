package vars

import (
	"reflect"
	"strings"
	"testing"
)

// lit and v build expected parts compactly.
func lit(s string) Part  { return Part{Literal: s} }
func v(name string) Part { return varPart(name) }

func TestCompile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Part
		// fail marks inputs that must not compile; wantErr, when set, is
		// a substring of the error, worded as nginx words it.
		fail    bool
		wantErr string
	}{
		{name: "empty string has no parts", in: "", want: nil},
		{name: "plain literal", in: "plain text", want: []Part{lit("plain text")}},
		{name: "literal with percent and braces", in: "100% {ok}", want: []Part{lit("100% {ok}")}},
		{name: "non-ASCII literal before a variable", in: "é$x", want: []Part{lit("é"), v("x")}},
		{name: "single variable", in: "$host", want: []Part{v("host")}},
		{name: "braced variable", in: "${host}", want: []Part{v("host")}},
		{name: "variables around a literal", in: "$host:$server_port", want: []Part{v("host"), lit(":"), v("server_port")}},
		{name: "braced variable followed by literal", in: "${scheme}://example", want: []Part{v("scheme"), lit("://example")}},
		{name: "adjacent variables", in: "$a$b", want: []Part{v("a"), v("b")}},
		{name: "adjacent braced variables", in: "${a}${b}", want: []Part{v("a"), v("b")}},
		{name: "braces end a name before name bytes", in: "${a}b", want: []Part{v("a"), lit("b")}},
		{name: "unbraced name takes all name bytes", in: "$ab", want: []Part{v("ab")}},
		{name: "dot ends a name", in: "$host.", want: []Part{v("host"), lit(".")}},
		{name: "hyphen ends a name", in: "$http_x-y", want: []Part{v("http_x"), lit("-y")}},
		{name: "name with digits and underscores", in: "x${arg_a1_B}y", want: []Part{lit("x"), v("arg_a1_B"), lit("y")}},
		{name: "closing brace after braced name is literal", in: "${a}}", want: []Part{v("a"), lit("}")}},
		{name: "dollar at end", in: "a$", fail: true, wantErr: "invalid variable name"},
		{name: "lone dollar", in: "$", fail: true, wantErr: "invalid variable name"},
		{name: "double dollar", in: "$$host", fail: true, wantErr: "invalid variable name"},
		{name: "dollar before hyphen", in: "$-x", fail: true, wantErr: "invalid variable name"},
		{name: "dollar before space", in: "$ x", fail: true, wantErr: "invalid variable name"},
		{name: "empty braces", in: "${}", fail: true, wantErr: "invalid variable name"},
		{name: "unclosed brace", in: "${host", fail: true, wantErr: `the closing bracket in "host" variable is missing`},
		{name: "unclosed brace at end", in: "x${", fail: true, wantErr: "the closing bracket"},
		{name: "invalid byte inside braces", in: "${a-b}", fail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compile(tc.in)
			if tc.fail {
				if err == nil {
					t.Fatalf("Compile(%q) = %+v, want an error", tc.in, got.Parts)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Compile(%q) error %q, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q) error: %v", tc.in, err)
			}
			if got.Source != tc.in {
				t.Errorf("Source = %q, want %q", got.Source, tc.in)
			}
			if !reflect.DeepEqual(got.Parts, tc.want) {
				t.Errorf("Compile(%q) parts = %+v, want %+v", tc.in, got.Parts, tc.want)
			}
		})
	}
}

func TestIsLiteral(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty string", "", true},
		{"plain text", "text/plain", true},
		{"only a variable", "$uri", false},
		{"variable after literal", "prefix-$uri", false},
		{"braced variable before literal", "${uri}-suffix", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustCompile(tc.in).IsLiteral(); got != tc.want {
				t.Errorf("IsLiteral(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestVars(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"literal has none", "hello", nil},
		{"one variable", "$host", []string{"host"}},
		{"in order of appearance", "$remote_addr - ${status} $uri", []string{"remote_addr", "status", "uri"}},
		{"repeats are kept", "$a$a", []string{"a", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustCompile(tc.in).Vars(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Vars(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestLookup checks the registry's resolution of names: plain names,
// families with their suffix (the longest prefix wins), and names
// headroom cannot evaluate.
func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		index  Index
		suffix string
	}{
		{"host", Host, ""},
		{"server_port", ServerPort, ""},
		{"http_user_agent", HTTP, "user_agent"},
		{"sent_http_content_type", SentHTTP, "content_type"},
		{"arg_a1_B", Arg, "a1_B"},
		{"cookie_sid", Cookie, "sid"},
		{"http_", HTTP, ""},
		{"Host", Unknown, ""},
		{"nosuch", Unknown, ""},
	}
	for _, tc := range tests {
		idx, suffix := Lookup(tc.name)
		if idx != tc.index || suffix != tc.suffix {
			t.Errorf("Lookup(%q) = %d %q, want %d %q", tc.name, idx, suffix, tc.index, tc.suffix)
		}
	}
	// Every plain name resolves to a distinct index.
	seen := map[Index]string{}
	for name, idx := range names {
		if other, ok := seen[idx]; ok {
			t.Errorf("%q and %q share index %d", name, other, idx)
		}
		seen[idx] = name
	}
}
