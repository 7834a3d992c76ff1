package htpasswd

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// systemCrypt runs crypt(3) through perl, whose crypt is the system's
// libxcrypt, the one nginx calls, on each password and setting in one
// process. A failure comes back as nil.
func systemCrypt(t *testing.T, perl string, cases [][2][]byte) [][]byte {
	t.Helper()
	const script = `$| = 0;
while (<STDIN>) {
	chomp;
	my ($p, $s) = map { pack "H*", $_ } split /,/, $_, -1;
	my $r = crypt($p, $s);
	print defined $r ? unpack("H*", $r) : "", "\n";
}`
	var in bytes.Buffer
	for _, c := range cases {
		fmt.Fprintf(&in, "%x,%x\n", c[0], c[1])
	}
	cmd := exec.Command(perl, "-e", script)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl: %v", err)
	}
	var results [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := hex.DecodeString(sc.Text())
		if err != nil {
			t.Fatalf("perl printed %q", sc.Text())
		}
		// libxcrypt reports failure with a token starting with '*'.
		if len(r) == 0 || r[0] == '*' {
			r = nil
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("perl answered %d of %d cases", len(results), len(cases))
	}
	return results
}

// caseGen makes random passwords and settings, mostly well-formed and
// sometimes not, so that both the hashes and libxcrypt's refusals are
// compared.
type caseGen struct{ r *rand.Rand }

func (g caseGen) password() []byte {
	n := g.r.IntN(25)
	if g.r.IntN(8) == 0 {
		n = g.r.IntN(140)
	}
	p := make([]byte, n)
	for i := range p {
		if g.r.IntN(10) == 0 {
			p[i] = byte(0x80 + g.r.IntN(0x80))
		} else {
			p[i] = byte(' ' + g.r.IntN(95))
		}
	}
	return p
}

// saltChars returns n characters, now and then one crypt(3) refuses or one
// that ends a salt.
func (g caseGen) saltChars(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if g.r.IntN(40) == 0 {
			b.WriteByte(":!*; \\$+-\x80\x7f"[g.r.IntN(11)])
		} else {
			b.WriteByte(crypt64[g.r.IntN(64)])
		}
	}
	return b.String()
}

func (g caseGen) rounds() string {
	odd := []string{"999", "1000", "0", "01000", "+1000", "", "1000000000", "12x"}
	if g.r.IntN(10) == 0 {
		return odd[g.r.IntN(len(odd))]
	}
	return fmt.Sprint(1000 + g.r.IntN(1500))
}

func (g caseGen) setting(kind string) string {
	switch kind {
	case "$1$":
		return "$1$" + g.saltChars(g.r.IntN(11)) + "$"[:g.r.IntN(2)]
	case "$5$", "$6$":
		return kind + g.saltChars(g.r.IntN(20)) + "$"[:g.r.IntN(2)]
	case "$5$rounds", "$6$rounds":
		return kind[:3] + "rounds=" + g.rounds() + "$" + g.saltChars(g.r.IntN(20))
	case "des":
		return g.saltChars(2) + g.saltChars(g.r.IntN(12))
	case "bigcrypt":
		return g.saltChars(2) + g.saltChars(12+g.r.IntN(20))
	}
	panic(kind)
}

// TestAgainstSystemCrypt compares, for random passwords and settings, the
// whole crypt output with the system's, refusals included, and checks that
// Verify accepts the system's hash with its password and not with another.
func TestAgainstSystemCrypt(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed, so the system's crypt(3) cannot be asked; the table tests still ran")
	}
	g := caseGen{rand.New(rand.NewPCG(22, 1))}
	var cases [][2][]byte
	var kinds []string
	for _, kind := range []string{"$1$", "$5$", "$5$rounds", "$6$", "$6$rounds", "des", "bigcrypt"} {
		for i := 0; i < 200; i++ {
			cases = append(cases, [2][]byte{g.password(), []byte(g.setting(kind))})
			kinds = append(kinds, kind)
		}
	}
	results := systemCrypt(t, perl, cases)
	refused := map[string]int{}
	for i, c := range cases {
		pw, setting, want := c[0], c[1], results[i]
		got, ok := crypt(nil, setting, pw)
		if want == nil {
			refused[kinds[i]]++
			if ok {
				t.Errorf("crypt(%q, %q) = %q, the system's fails", pw, setting, got)
			}
			continue
		}
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("crypt(%q, %q) = %q, %v; the system's is %q", pw, setting, got, ok, want)
			continue
		}
		if !Verify(want, pw) {
			t.Errorf("Verify(%q, %q) = false", want, pw)
		}
		wrong := append(pw[:len(pw):len(pw)], 'x')
		if kinds[i] == "des" || kinds[i] == "bigcrypt" {
			// DES reads eight bytes and bigcrypt 128, and a bigcrypt
			// setting makes a DES hash of a short password: change the
			// first byte.
			wrong = append([]byte{'x'}, pw...)
		}
		if Verify(want, wrong) {
			t.Errorf("Verify(%q, %q) = true", want, wrong)
		}
	}
	t.Logf("%d cases; refused by the system, and by crypt: %v", len(cases), refused)
}

// TestBcryptAgainstSystemCrypt checks Verify on hashes the system's bcrypt
// made, at the lowest cost to stay quick. $2a$ gets ASCII passwords only:
// for bytes above 0x7f libxcrypt's $2a$ can differ from x/crypto's.
func TestBcryptAgainstSystemCrypt(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed, so the system's crypt(3) cannot be asked; the table tests still ran")
	}
	g := caseGen{rand.New(rand.NewPCG(22, 2))}
	var cases [][2][]byte
	for i := 0; i < 30; i++ {
		prefix := []string{"$2a$", "$2b$", "$2y$"}[i%3]
		pw := g.password()
		if prefix == "$2a$" {
			for j := range pw {
				pw[j] &= 0x7f
				if pw[j] == 0 {
					pw[j] = 'a'
				}
			}
		}
		var salt strings.Builder
		for j := 0; j < 22; j++ {
			salt.WriteByte("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[g.r.IntN(64)])
		}
		cases = append(cases, [2][]byte{pw, []byte(prefix + "04$" + salt.String())})
	}
	results := systemCrypt(t, perl, cases)
	for i, c := range cases {
		pw, want := c[0], results[i]
		if want == nil {
			t.Errorf("the system's crypt(%q, %q) failed", pw, c[1])
			continue
		}
		if !Verify(want, pw) {
			t.Errorf("Verify(%q, %q) = false", want, pw)
		}
		if Verify(want, append([]byte{'x'}, pw...)) {
			t.Errorf("Verify(%q, x+%q) = true", want, pw)
		}
	}
}
