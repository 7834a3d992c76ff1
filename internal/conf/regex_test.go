package conf

import "testing"

// TestRegexStartCheck checks the literal a Regex refuses subjects by
// before matching: found only for patterns anchored at the start (not
// multi-line, not an alternation; a caseless one's only up to its first
// letter), and never changing an
// outcome: Match, MatchString and FindSubmatchIndex agree with the
// matcher's own for every pattern and subject.
func TestRegexStartCheck(t *testing.T) {
	for _, tc := range []struct {
		src      string
		caseless bool
		start    string
	}{
		{`^/r0/(\d+)/(\w+)$`, false, "/r0/"},
		{`^/app/item/(?<id>\d+)$`, false, "/app/item/"},
		// Caseless: only what has no case can be part of it.
		{`^/API/`, true, "/"},
		{`\.php$`, false, ""},
		{`^a|b`, false, ""},
		{`(?m)^abc`, false, ""},
		{`^\d+abc`, false, ""},
		{`^ab(c|d)`, false, "ab"},
		{`^$`, false, ""},
		{`^/x*y`, false, ""},
	} {
		re, err := compileRegex(tc.src, tc.caseless)
		if err != nil {
			t.Fatal(err)
		}
		r := newRegex(re, tc.src)
		if r.start != tc.start {
			t.Errorf("%q: start %q, want %q", tc.src, r.start, tc.start)
		}
		for _, subj := range []string{"", "/", "/r0/1/a", "/r0/x/a", "/r1/1/a", "/app/item/12", "/App/item/12",
			"/api/v1", "/API/v1", "x.php", "a", "b", "xb", "x\nabc", "12abc", "abd", "abc", "/y", "/xxy", "/z"} {
			if got, want := r.Match([]byte(subj)), re.Match([]byte(subj)); got != want {
				t.Errorf("%q on %q: Match %v, want %v", tc.src, subj, got, want)
			}
			if got, want := r.MatchString(subj), re.MatchString(subj); got != want {
				t.Errorf("%q on %q: MatchString %v, want %v", tc.src, subj, got, want)
			}
			if got, want := r.FindSubmatchIndex([]byte(subj)), re.FindSubmatchIndex([]byte(subj)); !equalInts(got, want) {
				t.Errorf("%q on %q: FindSubmatchIndex %v, want %v", tc.src, subj, got, want)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
