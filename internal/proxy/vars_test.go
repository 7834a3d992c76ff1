package proxy

import (
	"strings"
	"testing"
	"time"

	"headroom/internal/http1"
	"headroom/internal/vars"
)

// headers builds request fields from name, value pairs.
func headers(kv ...string) []http1.Header {
	var hs []http1.Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, http1.Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return hs
}

func TestAppendSeconds(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		d      time.Duration
		want   string
	}{
		{name: "zero", d: 0, want: "0.000"},
		{name: "milliseconds padded to three digits", d: 5 * time.Millisecond, want: "0.005"},
		{name: "tens of milliseconds", d: 50 * time.Millisecond, want: "0.050"},
		{name: "seconds and milliseconds", d: 1500 * time.Millisecond, want: "1.500"},
		{name: "more than a minute stays in seconds", d: 61*time.Second + 5*time.Millisecond, want: "61.005"},
		{name: "sub-millisecond part is truncated", d: 999999999 * time.Nanosecond, want: "0.999"},
		{name: "negative is clamped to zero", d: -3 * time.Second, want: "0.000"},
		{name: "appends to what is there", prefix: "rt=", d: time.Second, want: "rt=1.000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendSeconds([]byte(tc.prefix), tc.d); string(got) != tc.want {
				t.Errorf("appendSeconds(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

// The escaped forms match what nginx 1.22 writes to access logs for the
// same bytes in $uri.
func TestEscapeLog(t *testing.T) {
	tests := []struct {
		name string
		mode string
		// prefix is in the buffer before the value and is never escaped.
		prefix string
		value  string
		want   string
	}{
		{name: "default leaves printable ASCII", value: "/a b?c=d&e", want: "/a b?c=d&e"},
		{name: "default escapes quote and backslash", value: `a"b\c`, want: `a\x22b\x5Cc`},
		{name: "default escapes control bytes with upper-case hex", value: "\t\n\r\b\f\x01\x1f", want: `\x09\x0A\x0D\x08\x0C\x01\x1F`},
		{name: "default escapes DEL", value: "\x7f", want: `\x7F`},
		{name: "default escapes bytes above ASCII", value: "\xc3\xa9", want: `\xC3\xA9`},
		{name: "default leaves the prefix alone", prefix: `"pre\`, value: `"`, want: `"pre\\x22`},
		{name: "json leaves printable ASCII", mode: "json", value: "/a b", want: "/a b"},
		{name: "json escapes quote and backslash", mode: "json", value: `a"b\c`, want: `a\"b\\c`},
		{name: "json escapes other control bytes as \\u00XX", mode: "json", value: "\x01g\x1f", want: `\u0001g\u001F`},
		{name: "json passes DEL", mode: "json", value: "\x7f", want: "\x7f"},
		{name: "json passes UTF-8", mode: "json", value: "\xc3\xa9", want: "\xc3\xa9"},
		{name: "json leaves the prefix alone", mode: "json", prefix: `{"u":"`, value: `"`, want: `{"u":"\"`},
		{name: "none changes nothing", mode: "none", value: "a\"\\\t\n\x01\x7f\xc3\xa9", want: "a\"\\\t\n\x01\x7f\xc3\xa9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.prefix + tc.value)
			if got := escapeLog(b, len(tc.prefix), tc.mode); string(got) != tc.want {
				t.Errorf("escapeLog(%q, mode %q) = %q, want %q", tc.value, tc.mode, got, tc.want)
			}
		})
	}
}

func TestQueryArg(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		arg    string
		want   string
		wantOK bool
	}{
		{name: "single argument", query: "a=1", arg: "a", want: "1", wantOK: true},
		{name: "later argument", query: "b=2&a=1", arg: "a", want: "1", wantOK: true},
		{name: "name is case-insensitive", query: "A=1", arg: "a", want: "1", wantOK: true},
		{name: "whole name must match", query: "xa=1&a=2", arg: "a", want: "2", wantOK: true},
		{name: "first of repeated arguments", query: "a=1&a=2", arg: "a", want: "1", wantOK: true},
		{name: "empty value is found", query: "a=&b=2", arg: "a", want: "", wantOK: true},
		{name: "value runs to the next ampersand", query: "a=1=2&b", arg: "a", want: "1=2", wantOK: true},
		{name: "value is not decoded", query: "a=%20+x", arg: "a", want: "%20+x", wantOK: true},
		{name: "underscore in name", query: "a_b=3", arg: "a_b", want: "3", wantOK: true},
		{name: "empty parts are skipped", query: "b=1&&a=2", arg: "a", want: "2", wantOK: true},
		{name: "absent argument", query: "b=1", arg: "a", wantOK: false},
		{name: "name as a value is not a match", query: "b=a", arg: "a", wantOK: false},
		{name: "empty query", query: "", arg: "a", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := queryArg([]byte(tc.query), tc.arg)
			if ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("queryArg(%q, %q) = %q, %v; want %q, %v", tc.query, tc.arg, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestCookie(t *testing.T) {
	tests := []struct {
		name   string
		hs     []http1.Header
		cookie string
		want   string
		wantOK bool
	}{
		{name: "only cookie", hs: headers("Cookie", "sid=1"), cookie: "sid", want: "1", wantOK: true},
		{name: "after a semicolon and space", hs: headers("Cookie", "a=1; sid=2"), cookie: "sid", want: "2", wantOK: true},
		{name: "after a semicolon without space", hs: headers("Cookie", "a=1;sid=2"), cookie: "sid", want: "2", wantOK: true},
		{name: "first cookie of several", hs: headers("Cookie", "sid=1; b=2"), cookie: "sid", want: "1", wantOK: true},
		{name: "whole name must match", hs: headers("Cookie", "xsid=1; sid=2"), cookie: "sid", want: "2", wantOK: true},
		{name: "in a second Cookie field", hs: headers("Cookie", "a=1", "Cookie", "sid=2"), cookie: "sid", want: "2", wantOK: true},
		{name: "field name is case-insensitive", hs: headers("cookie", "sid=1"), cookie: "sid", want: "1", wantOK: true},
		// nginx 1.22 takes ',' as a separator too.
		{name: "value ends at a comma", hs: headers("Cookie", "b=1, c=2; d=3"), cookie: "b", want: "1", wantOK: true},
		{name: "cookie after a comma", hs: headers("Cookie", "x=1, sid=2"), cookie: "sid", want: "2", wantOK: true},
		{name: "name is case-insensitive", hs: headers("Cookie", "SID=1"), cookie: "sid", want: "1", wantOK: true},
		{name: "spaces around the equals sign", hs: headers("Cookie", "sid = 1"), cookie: "sid", want: "1", wantOK: true},
		{name: "empty value is found", hs: headers("Cookie", "sid=; a=1"), cookie: "sid", want: "", wantOK: true},
		{name: "absent cookie", hs: headers("Cookie", "a=1; b=2"), cookie: "sid", wantOK: false},
		{name: "other fields are not cookies", hs: headers("X-Cookie", "sid=1", "Set-Cookie", "sid=2"), cookie: "sid", wantOK: false},
		{name: "no fields", hs: nil, cookie: "sid", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cookie(tc.hs, tc.cookie)
			if ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("cookie(%q) = %q, %v; want %q, %v", tc.cookie, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestHeaderByVarName(t *testing.T) {
	tests := []struct {
		name   string
		hs     []http1.Header
		v      string
		want   string
		wantOK bool
	}{
		{name: "hyphen maps to underscore", hs: headers("User-Agent", "curl"), v: "user_agent", want: "curl", wantOK: true},
		{name: "field name case is ignored", hs: headers("X-CUSTOM-header", "v"), v: "x_custom_header", want: "v", wantOK: true},
		{name: "found among others", hs: headers("Accept", "*/*", "Referer", "r"), v: "referer", want: "r", wantOK: true},
		// nginx 1.22 gives the first value of a repeated generic field.
		{name: "first of repeated fields", hs: headers("X-T", "one", "X-T", "two"), v: "x_t", want: "one", wantOK: true},
		{name: "empty value is found", hs: headers("X-T", ""), v: "x_t", want: "", wantOK: true},
		{name: "absent field", hs: headers("Accept", "*/*"), v: "referer", wantOK: false},
		{name: "prefix of a longer name is not a match", hs: headers("X-Tail", "v"), v: "x_t", wantOK: false},
		{name: "longer variable than name is not a match", hs: headers("X-T", "v"), v: "x_tail", wantOK: false},
		{name: "hyphen in the variable name never matches", hs: headers("User-Agent", "curl"), v: "user-agent", wantOK: false},
		{name: "no fields", hs: nil, v: "host", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := headerByVarName(tc.hs, tc.v)
			if ok := got != nil; ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("headerByVarName(%q) = %q (found %v); want %q (found %v)", tc.v, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestJoinedFields(t *testing.T) {
	hs := []http1.Header{
		{Name: []byte("X-Forwarded-For"), Value: []byte("1.1.1.1")},
		{Name: []byte("Cookie"), Value: []byte("sid=1")},
		{Name: []byte("x-forwarded-for"), Value: []byte("2.2.2.2")},
		{Name: []byte("Cookie"), Value: []byte("b=2")},
		{Name: []byte("X_U"), Value: []byte("under")},
	}
	tests := []struct{ name, v, sep, want string }{
		{"forwarded-for lines joined with a comma", "x_forwarded_for", ", ", "1.1.1.1, 2.2.2.2"},
		{"cookie lines joined with a semicolon", "cookie", "; ", "sid=1; b=2"},
		{"a field with an underscore in its name matches it", "x_u", ", ", "under"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendJoined(nil, hs, tc.v, tc.sep)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEveryVariableHasAGetter holds the registry and the getters
// together: a variable added to internal/vars without its getter here
// fails, instead of reaching a request.
func TestEveryVariableHasAGetter(t *testing.T) {
	for i := range getters {
		if getters[i] == nil {
			t.Errorf("no getter for variable index %d", i)
		}
	}
	for _, name := range vars.Known() {
		if prefix, ok := strings.CutSuffix(name, "*"); ok {
			name = prefix + "x"
		}
		if idx, _ := vars.Lookup(name); idx == vars.Unknown {
			t.Errorf("%q is listed but does not resolve", name)
		}
	}
}
