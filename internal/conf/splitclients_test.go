package conf

import "testing"

// TestMurmurHash2MatchesNginx checks the hash against values computed by
// nginx's ngx_murmur_hash2, including the tails of one to three bytes and
// bytes with the high bit set.
func TestMurmurHash2MatchesNginx(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"a", 2456313694},
		{"ab", 446775395},
		{"abc", 324500635},
		{"abcd", 646393889},
		{"127.0.0.1", 3054706065},
		{"127.0.0.1AAA", 3053215307},
		{"\xff\xfe\xfd\xfc\xfb", 4209270460},
	} {
		if got := MurmurHash2([]byte(tc.in)); got != tc.want {
			t.Errorf("MurmurHash2(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestParsePercentReadsTwoDecimals checks that percentages are read as
// nginx's ngx_atofp reads them with two decimals.
func TestParsePercentReadsTwoDecimals(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"50%", 5000, true},
		{"0.5%", 50, true},
		{"51.25%", 5125, true},
		{"1.%", 100, true},
		{".5%", 50, true},
		{"100%", 10000, true},
		{"1.234%", 0, false},
		{"1.230%", 0, false},
		{"0%", 0, false},
		{"0.00%", 0, false},
		{"%", 0, false},
		{"10", 0, false},
		{"1.2.3%", 0, false},
		{"-1%", 0, false},
		{"1e2%", 0, false},
	} {
		got, ok := parsePercent(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parsePercent(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSplitClientsPicksByShareOfHashes checks that each part takes its
// share of the hash values in order, that "*" takes the rest, and that
// without "*" the hashes past the last part get no value.
func TestSplitClientsPicksByShareOfHashes(t *testing.T) {
	cfg := loadConfigText(t, `events {}
http {
    split_clients $uri $a { 10% one; 20% two; * rest; }
    split_clients $uri $b { 50% half; }
    server { listen 8080; location / { return 200 "$a$b"; } }
}
`)
	vs := cfg.HTTP.Variables
	a, b := vs[0].SplitClients, vs[1].SplitClients
	for _, tc := range []struct {
		hash uint32
		want string
	}{
		{0, "one"},
		{429496728, "one"},
		{429496729, "two"},
		{1288490187, "two"},
		{1288490188, "rest"},
		{0xffffffff, "rest"},
	} {
		if got, _ := a.Pick(tc.hash); got != tc.want {
			t.Errorf("Pick(%d) = %q, want %q", tc.hash, got, tc.want)
		}
	}
	if v, ok := b.Pick(0x7ffffffe); !ok || v != "half" {
		t.Errorf("Pick below half = %q, %v", v, ok)
	}
	if v, ok := b.Pick(0x7fffffff); ok || v != "" {
		t.Errorf("Pick past the last part = %q, %v; want no value", v, ok)
	}
}

// loadConfigText loads a configuration given as text.
func loadConfigText(t *testing.T, src string) *Config {
	t.Helper()
	dir := t.TempDir()
	cfg, err := Load(LoadOptions{File: dir + "/test.conf", Prefix: dir, Source: []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
