package proxy

import (
	"regexp"
	"testing"

	"headroom/internal/conf"
)

// The expectations in this file were checked against nginx 1.22 with
// equivalent configurations, each location answering
// `return 200 "<name>"`.

func TestNormalizeHost(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{name: "absent host is accepted as empty", in: "", want: "", wantOK: true},
		{name: "lower-cased", in: "Example.COM", want: "example.com", wantOK: true},
		{name: "port stripped", in: "example.com:8080", want: "example.com", wantOK: true},
		{name: "empty port stripped", in: "x:", want: "x", wantOK: true},
		{name: "everything after the first colon dropped", in: "a:b:c", want: "a", wantOK: true},
		{name: "trailing dot stripped", in: "example.com.", want: "example.com", wantOK: true},
		{name: "trailing dot stripped before port", in: "example.com.:80", want: "example.com", wantOK: true},
		{name: "trailing dot stripped before empty port", in: "foo.bar.:", want: "foo.bar", wantOK: true},
		{name: "leading dot kept", in: ".example.com", want: ".example.com", wantOK: true},
		{name: "IPv6 literal", in: "[::1]", want: "[::1]", wantOK: true},
		{name: "IPv6 literal with port", in: "[::1]:8080", want: "[::1]", wantOK: true},
		{name: "IPv6 literal lower-cased", in: "[A::B]", want: "[a::b]", wantOK: true},
		{name: "IPv6 literal with trailing dot", in: "[::1].", want: "[::1]", wantOK: true},
		{name: "IPv4 address with port", in: "127.0.0.1:80", want: "127.0.0.1", wantOK: true},
		{name: "consecutive dots", in: "a..b", wantOK: false},
		{name: "consecutive dots at end", in: "example.com..", wantOK: false},
		{name: "consecutive dots before port", in: "a..b:80", wantOK: false},
		{name: "only a dot", in: ".", wantOK: false},
		{name: "only two dots", in: "..", wantOK: false},
		{name: "only a port", in: ":80", wantOK: false},
		{name: "slash", in: "a/b", wantOK: false},
		{name: "NUL byte", in: "a\x00b", wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizeHost([]byte(tc.in))
			if ok != tc.wantOK {
				t.Fatalf("normalizeHost(%q) ok = %v (%q), want %v", tc.in, ok, got, tc.wantOK)
			}
			if ok && got != tc.want {
				t.Errorf("normalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// locTree builds locations by hand and remembers a name for each, since
// paths repeat (the same regex at two levels, "= /x" next to "/x").
type locTree struct {
	names map[*conf.Location]string
}

func (lt *locTree) add(name string, m conf.LocationMatch, path string, nested ...*conf.Location) *conf.Location {
	l := &conf.Location{Match: m, Path: path, Locations: nested, Loc: &conf.LocConf{}}
	switch m {
	case conf.MatchRegex:
		l.Regex = &conf.Regex{Regexp: regexp.MustCompile(path)}
	case conf.MatchRegexCaseless:
		l.Regex = &conf.Regex{Regexp: regexp.MustCompile("(?i)" + path)}
	}
	lt.names[l] = name
	return l
}

func (lt *locTree) name(l *conf.Location) string {
	if l == nil {
		return "<nil>"
	}
	return lt.names[l]
}

func TestFindLocation(t *testing.T) {
	lt := &locTree{names: map[*conf.Location]string{}}
	pre := func(name, path string, nested ...*conf.Location) *conf.Location {
		return lt.add(name, conf.MatchPrefix, path, nested...)
	}
	noRegex := func(name, path string, nested ...*conf.Location) *conf.Location {
		return lt.add(name, conf.MatchPrefixNoRegex, path, nested...)
	}
	exact := func(name, path string) *conf.Location { return lt.add(name, conf.MatchExact, path) }
	re := func(name, src string, nested ...*conf.Location) *conf.Location {
		return lt.add(name, conf.MatchRegex, src, nested...)
	}
	rei := func(name, src string) *conf.Location { return lt.add(name, conf.MatchRegexCaseless, src) }

	// The order is the configuration order; it matters for regexes only.
	server := []*conf.Location{
		exact("exact", "/exact"),
		pre("prefix-exact", "/exact"),
		pre("root", "/"),
		pre("a", "/a"),
		pre("a/b", "/a/b"),
		noRegex("static-noregex", "/static/"),
		re("php", `\.php$`),
		re("php-or-html", `\.(php|html)$`),
		rei("jpg-caseless", `\.JPG$`),
		pre("nest", "/nest/",
			pre("nest-inner", "/nest/inner/"),
			exact("nest-exact", "/nest/exact.txt"),
			re("nest-txt", `\.txt$`),
		),
		re("outer-txt", `\.txt$`),
		pre("nonest", "/nonest/",
			pre("nonest-pre", "/nonest/pre/"),
		),
		noRegex("rx", "/rx/",
			re("rx-inner-txt", `\.txt$`),
		),
		noRegex("s", "/s/",
			pre("st", "/s/t/"),
		),
		re("outer-css", `\.css$`),
		pre("deep", "/deep/",
			noRegex("deep-stop", "/deep/stop/"),
		),
		re("deep-txt-regex", `^/deep/.*\.log$`),
		re("dtxt", `\.dtxt$`, re("dtxt-deep", `^/d2/`)),
	}
	apiOnly := []*conf.Location{pre("api", "/api/")}

	tests := []struct {
		name      string
		locs      []*conf.Location
		path      string
		want      string
		wantFinal bool
	}{
		{name: "exact beats a prefix of the same path", path: "/exact", want: "exact", wantFinal: true},
		{name: "exact needs the whole path", path: "/exact/", want: "prefix-exact"},
		{name: "prefix need not end at a slash", path: "/exactly", want: "prefix-exact"},
		{name: "root prefix", path: "/", want: "root"},
		{name: "short prefix matches a longer name", path: "/ab", want: "a"},
		{name: "longest prefix wins", path: "/a/b", want: "a/b"},
		{name: "longest prefix wins below it", path: "/a/b/c", want: "a/b"},
		{name: "caret-tilde stops regexes", path: "/static/x.php", want: "static-noregex"},
		{name: "caret-tilde needs its whole prefix", path: "/static", want: "root"},
		{name: "regex beats the longest prefix", path: "/a/x.php", want: "php", wantFinal: true},
		{name: "regex beats a prefix on a shared start", path: "/exact.php", want: "php", wantFinal: true},
		{name: "first matching regex in configuration order", path: "/x.php", want: "php", wantFinal: true},
		{name: "later regex when earlier ones fail", path: "/x.html", want: "php-or-html", wantFinal: true},
		{name: "tilde is case-sensitive", path: "/x.PHP", want: "root"},
		{name: "tilde-star matches other case", path: "/X.JPG", want: "jpg-caseless", wantFinal: true},
		{name: "tilde-star matches same case", path: "/x.jpg", want: "jpg-caseless", wantFinal: true},
		{name: "regex beats prefix with nested locations", path: "/a/b.jpg", want: "jpg-caseless", wantFinal: true},
		{name: "outer prefix when nested ones do not match", path: "/nest/x", want: "nest"},
		{name: "nested prefix", path: "/nest/inner/y", want: "nest-inner"},
		{name: "nested exact", path: "/nest/exact.txt", want: "nest-exact", wantFinal: true},
		{name: "nested regex beats outer regex", path: "/nest/x.txt", want: "nest-txt", wantFinal: true},
		{name: "nested regex beats nested prefix", path: "/nest/inner/x.txt", want: "nest-txt", wantFinal: true},
		{name: "outer regex at top level", path: "/x.txt", want: "outer-txt", wantFinal: true},
		{name: "outer regex beats a nested prefix", path: "/nonest/pre/x.txt", want: "outer-txt", wantFinal: true},
		{name: "nested prefix without regex match", path: "/nonest/pre/x", want: "nonest-pre"},
		{name: "nested regex runs under caret-tilde", path: "/rx/x.txt", want: "rx-inner-txt", wantFinal: true},
		{name: "caret-tilde parent without nested match", path: "/rx/x", want: "rx"},
		{name: "caret-tilde parent keeps outer regexes from a nested prefix", path: "/s/t/x.css", want: "st"},
		{name: "caret-tilde parent keeps outer regexes from itself", path: "/s/x.css", want: "s"},
		{name: "last regex in configuration order", path: "/x.css", want: "outer-css", wantFinal: true},
		// A nested "^~" stops the regexes of its own level only, as in
		// nginx: the enclosing level still tries its own.
		{name: "nested caret-tilde leaves outer regexes", path: "/deep/stop/x.log", want: "deep-txt-regex", wantFinal: true},
		{name: "nested caret-tilde without outer regex match", path: "/deep/stop/x", want: "deep-stop"},
		// Locations nested in a matched regex location are searched too.
		{name: "nested in a regex location", path: "/d2/a.dtxt", want: "dtxt-deep", wantFinal: true},
		{name: "regex location without nested match", path: "/d3/a.dtxt", want: "dtxt", wantFinal: true},
		{name: "nothing matches", locs: apiOnly, path: "/other", want: "<nil>"},
		{name: "no locations", locs: []*conf.Location{}, path: "/", want: "<nil>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			locs := tc.locs
			if locs == nil {
				locs = server
			}
			got, final := findLocation(locs, []byte(tc.path))
			if lt.name(got) != tc.want || final != tc.wantFinal {
				t.Errorf("findLocation(%q) = %s, final %v; want %s, final %v", tc.path, lt.name(got), final, tc.want, tc.wantFinal)
			}
		})
	}
}

func TestVhostsFind(t *testing.T) {
	names := map[*conf.Server]string{}
	srv := func(label string, sn ...conf.ServerName) *conf.Server {
		s := &conf.Server{Names: sn, Loc: &conf.LocConf{}}
		names[s] = label
		return s
	}
	exact := func(n string) conf.ServerName { return conf.ServerName{Kind: conf.NameExact, Name: n} }
	lead := func(n string) conf.ServerName { return conf.ServerName{Kind: conf.NameWildcardPrefix, Name: n} }
	trail := func(n string) conf.ServerName { return conf.ServerName{Kind: conf.NameWildcardSuffix, Name: n} }
	re := func(src string) conf.ServerName {
		return conf.ServerName{Kind: conf.NameRegex, Name: src, Regex: &conf.Regex{Regexp: regexp.MustCompile(src)}}
	}

	def := srv("default", exact("default.test"))
	servers := []*conf.Server{
		def,
		srv("exact", exact("example.com")),
		srv("exact-dup", exact("example.com")),
		srv("noname", exact("")),
		srv("wild-short", lead("*.example.com")),
		srv("wild-long", lead("*.sub.example.com")),
		srv("suffix", trail("www.example.*")),
		srv("regex1", re(`^www\d+\.`)),
		srv("regex2", re(`^www1`)),
	}
	all := newVhosts(servers, def)
	lone := srv("lone")
	unnamed := newVhosts([]*conf.Server{lone}, lone)

	tests := []struct {
		name string
		v    *vhosts
		host string
		want string
	}{
		{name: "exact name, first of duplicates", host: "example.com", want: "exact"},
		{name: "exact name of the default server", host: "default.test", want: "default"},
		{name: "leading wildcard", host: "a.example.com", want: "wild-short"},
		{name: "longest leading wildcard first", host: "a.sub.example.com", want: "wild-long"},
		{name: "shorter leading wildcard when the longer one has no label left", host: "sub.example.com", want: "wild-short"},
		{name: "leading wildcard covers several labels", host: "x.y.example.com", want: "wild-short"},
		{name: "trailing wildcard", host: "www.example.org", want: "suffix"},
		{name: "leading wildcard before trailing wildcard", host: "www.example.com", want: "wild-short"},
		{name: "trailing wildcard needs a label after the dot", host: "www.example", want: "default"},
		{name: "regex", host: "www12.foo", want: "regex1"},
		{name: "later regex when the first fails", host: "www1x.foo", want: "regex2"},
		{name: "first matching regex in configuration order", host: "www1.foo", want: "regex1"},
		{name: "empty host picks the server with the empty name", host: "", want: "noname"},
		{name: "unknown host gets the default", host: "other.test", want: "default"},
		{name: "suffix of an exact name is not a match", host: "example.com.evil", want: "default"},
		{name: "no names at all gives the default", v: unnamed, host: "anything", want: "lone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == nil {
				v = all
			}
			if got := names[first(v.find(tc.host))]; got != tc.want {
				t.Errorf("find(%q) = %s, want %s", tc.host, got, tc.want)
			}
		})
	}
}

// first is the server of a vhost lookup.
func first(s *conf.Server, _ *conf.Regex) *conf.Server { return s }
