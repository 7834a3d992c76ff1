package htpasswd

import (
	"strings"
	"testing"
)

// vector is a stored value and a password that matches it (ok) or not.
type vector struct {
	stored   string
	password string
	ok       bool
	scheme   string
}

// The stored values come from the system's tools, named in the comment
// before each group; perl's crypt is the system's libxcrypt crypt(3), the
// one nginx calls.
var vectors = []vector{
	// nginx's own test suite (auth_basic.t).
	{"$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "password", true, SchemeAPR1},
	{"{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0", "password", true, SchemeSSHA},
	{"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password", true, SchemeSHA},
	{"$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "passwore", false, SchemeAPR1},
	{"{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0", "Password", false, SchemeSSHA},
	{"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password ", false, SchemeSHA},
	// Its broken values, which decode to junk or to too few bytes.
	{"{SSHA}_____wQadOA1e+/f+T+H3eCQQhRzYWx0", "password", false, SchemeSSHA},
	{"{SSHA}Zm9vCg==", "password", false, SchemeSSHA},
	{"{SSHA}Zm9vCg==", "", false, SchemeSSHA},
	{"{SHA}_____Mm5Pz8GgiULbPgzG37mj9g=", "password", false, SchemeSHA},
	{"{SHA}Zm9vCg==", "password", false, SchemeSHA},
	{"{SSHA}", "", false, SchemeSSHA},
	{"{SHA}", "", false, SchemeSHA},
	{"$apr1$", "password", false, SchemeAPR1},
	{"$apr1$", "", false, SchemeAPR1},
	{"$1$", "password", false, SchemeMD5Crypt},
	{"$1$", "", false, SchemeMD5Crypt},

	{"{PLAIN}password", "password", true, SchemePlain},
	{"{PLAIN}password", "passwor", false, SchemePlain},
	{"{PLAIN}", "", true, SchemePlain},
	{"{PLAIN}pass word:x", "pass word:x", true, SchemePlain},
	// nginx's prefixes are case-sensitive; crypt(3) then refuses '{'.
	{"{plain}password", "password", false, ""},

	// openssl passwd -apr1 -salt salt password
	{"$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "password", true, SchemeAPR1},
	// openssl passwd -apr1 -salt '' password
	{"$apr1$$qjtLUZpoiD4RwXIYf4qVb0", "password", true, SchemeAPR1},
	{"$apr1$$qjtLUZpoiD4RwXIYf4qVb0", "passwor", false, SchemeAPR1},
	// openssl passwd -apr1 -salt 12345678 password
	{"$apr1$12345678$9pHAGSBYtlmFtid2xxNog0", "password", true, SchemeAPR1},
	// openssl passwd -apr1 -salt 'a:b' password: nginx computes $apr1$
	// itself and takes any salt byte, where crypt(3) refuses ':'.
	{"$apr1$a:b$.oA5Vg9Tq4PANbgLS8Qmi1", "password", true, SchemeAPR1},

	// perl -e 'print crypt("password",q($1$salt$))'
	// (openssl passwd -1 -salt salt password writes the same)
	{"$1$salt$qJH7.N4xYta3aEG/dfqo/0", "password", true, SchemeMD5Crypt},
	{"$1$salt$qJH7.N4xYta3aEG/dfqo/0", "password1", false, SchemeMD5Crypt},
	// perl -e 'print crypt("password",q($1$))'
	{"$1$$I2o9Z7NcvQAKp7wyCTlia0", "password", true, SchemeMD5Crypt},
	// perl -e 'print crypt("password",q($1$12345678$))'
	{"$1$12345678$o2n/JiO/h5VviOInWJ4OQ/", "password", true, SchemeMD5Crypt},
	// The same with a ninth salt character, which crypt(3) drops.
	{"$1$123456789$o2n/JiO/h5VviOInWJ4OQ/", "password", false, SchemeMD5Crypt},
	// perl -e 'print crypt("p\x{e9}ss", q($1$8bit$))'
	{"$1$8bit$JdFNT.EM9HWNOf7UXDO5S/", "p\xe9ss", true, SchemeMD5Crypt},
	{"$1$8bit$JdFNT.EM9HWNOf7UXDO5S/", "péss", false, SchemeMD5Crypt},
	// perl -e 'print crypt("a" x 511, q($1$ab$))'
	{"$1$ab$InbpF0g3iEJ39v3EB5gz9.", strings.Repeat("a", 511), true, SchemeMD5Crypt},
	// The salt of openssl passwd -apr1 -salt 'a:b' under $1$: crypt(3)
	// refuses ':' (perl -e 'print crypt("password",q($1$a:b$))' prints *0).
	{"$1$a:b$.oA5Vg9Tq4PANbgLS8Qmi1", "password", false, SchemeMD5Crypt},

	// perl -e 'print crypt("pass",q($5$rounds=1000$saltsalt$))'
	{"$5$rounds=1000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", true, SchemeSHA256Crypt},
	{"$5$rounds=1000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pas", false, SchemeSHA256Crypt},
	// Rounds below the minimum: a clamping crypt would write rounds=1000,
	// and libxcrypt refuses the setting
	// (perl -e 'print crypt("pass",q($5$rounds=999$saltsalt$))' prints *0).
	{"$5$rounds=999$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", false, SchemeSHA256Crypt},
	{"$5$rounds=1$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", false, SchemeSHA256Crypt},
	{"$5$rounds=01000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", false, SchemeSHA256Crypt},
	{"$5$rounds=+1000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", false, SchemeSHA256Crypt},
	// Above the maximum, and far above it (these must not be computed).
	{"$5$rounds=1000000000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", false, SchemeSHA256Crypt},
	{"$6$rounds=99999999999999999999$ab$x", "pass", false, SchemeSHA512Crypt},
	{"$5$rounds=$ab$x", "pass", false, SchemeSHA256Crypt},
	{"$5$rounds=1000", "pass", false, SchemeSHA256Crypt},
	// openssl passwd -5 -salt saltsalt password
	{"$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4AtC.", "password", true, SchemeSHA256Crypt},
	{"$5$saltsalt$gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4AtC.", "passwor", false, SchemeSHA256Crypt},
	// perl -e 'print crypt("password",q($5$rounds=5000$ab))': the default
	// count, written because it was given.
	{"$5$rounds=5000$ab$qeQJSoyiYLyCNJ4nhnpINuEqxziLz7BmT6ldjwrEtl9", "password", true, SchemeSHA256Crypt},
	// perl -e 'print crypt("password",q($5$ab))': the same hash.
	{"$5$ab$qeQJSoyiYLyCNJ4nhnpINuEqxziLz7BmT6ldjwrEtl9", "password", true, SchemeSHA256Crypt},
	// perl -e 'print crypt("Hello world!",q($5$saltstring))'
	{"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!", true, SchemeSHA256Crypt},
	// perl -e 'print crypt("This is just a test",q($5$rounds=1000$toolongsaltstring))'
	{"$5$rounds=1000$toolongsaltstrin$wpGO18XGV5dzj1x8TEo8nGI4ZKtakadnYP9LHFL4C4A", "This is just a test", true, SchemeSHA256Crypt},
	// perl -e 'print crypt("x" x 200, q($5$rounds=1000$0123456789abcdef$))'
	{"$5$rounds=1000$0123456789abcdef$cwWnaUGcLN.66mrVmLQzbS6dUxIQlvMBL22lgHBEA42", strings.Repeat("x", 200), true, SchemeSHA256Crypt},
	{"$5$rounds=1000$0123456789abcdef$cwWnaUGcLN.66mrVmLQzbS6dUxIQlvMBL22lgHBEA42", strings.Repeat("x", 199), false, SchemeSHA256Crypt},
	// perl -e 'print crypt("pass",q($5$rounds=1000$))'
	{"$5$rounds=1000$$hmQwQGe1N.dyCQ5xCB8rD5oE/QxqPAQ5QHe1rRWGdF8", "pass", true, SchemeSHA256Crypt},
	// perl -e 'print crypt("password",q($5$+ab$))': '+' is a salt
	// character crypt(3) takes though it writes none.
	{"$5$+ab$SX7p.46ou0d6teaWpTRDmtIbXuqzdhMckmtAmupD.D.", "password", true, SchemeSHA256Crypt},

	// perl -e 'print crypt("pass",q($6$abc$))'
	{"$6$abc$dCZAbKbeBK7T0hukxi7enUZp/94Lft5t19M7i5KuPRB7fbWvBRbIYAWY22u9tH90kN7HD..U6kgPLsfSP1Rl0/", "pass", true, SchemeSHA512Crypt},
	{"$6$abc$dCZAbKbeBK7T0hukxi7enUZp/94Lft5t19M7i5KuPRB7fbWvBRbIYAWY22u9tH90kN7HD..U6kgPLsfSP1Rl0/", "pasS", false, SchemeSHA512Crypt},
	// openssl passwd -6 -salt saltsalt password
	{"$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/", "password", true, SchemeSHA512Crypt},
	// perl -e 'print crypt("Hello world!",q($6$saltstring))'
	{"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!", true, SchemeSHA512Crypt},
	// perl -e 'print crypt("This is just a test",q($6$rounds=1000$toolongsaltstring))'
	{"$6$rounds=1000$toolongsaltstrin$QbA2G.E5igIEXcly018YAb.mKjTg.TtDkX5lzWk1trSfQ8XNd6lrgYTQtSDZWT1z7TCpMybtgIuT2zxz5JjSb/", "This is just a test", true, SchemeSHA512Crypt},
	// perl -e 'print crypt("a very much longer text to encrypt.  This one even stretches over morethan one line.",q($6$rounds=1400$anotherlongsaltstring))'
	{"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1", "a very much longer text to encrypt.  This one even stretches over morethan one line.", true, SchemeSHA512Crypt},
	// perl -e 'print crypt("x" x 200, q($6$rounds=1000$0123456789abcdef$))'
	{"$6$rounds=1000$0123456789abcdef$7DmgiDLZCfTc6NxYO4iWOBhs6PBzow6c1u6u8MmeQAswA0NsU0JsYsJLzMjAva.9iZwhyXXKhuHVO6C9MB1bt1", strings.Repeat("x", 200), true, SchemeSHA512Crypt},
	// perl -e 'print crypt("",q($6$rounds=1000$abc$))'
	{"$6$rounds=1000$abc$noBronbzNMcAtG61/dMHzc1H.fuLjHArF9.wCx8LbkVDMMEuChQCPee28tiPcXHL/CMNpCqo6OPTyoEpoCMsY/", "", true, SchemeSHA512Crypt},
	{"$6$rounds=1000$abc$noBronbzNMcAtG61/dMHzc1H.fuLjHArF9.wCx8LbkVDMMEuChQCPee28tiPcXHL/CMNpCqo6OPTyoEpoCMsY/", "x", false, SchemeSHA512Crypt},
	{"$6$rounds=999$abc$noBronbzNMcAtG61/dMHzc1H.fuLjHArF9.wCx8LbkVDMMEuChQCPee28tiPcXHL/CMNpCqo6OPTyoEpoCMsY/", "", false, SchemeSHA512Crypt},

	// perl -e 'print crypt("password",q($2b$05$abcdefghijklmnopqrstuu))'
	{"$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", true, SchemeBcrypt},
	{"$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "passwore", false, SchemeBcrypt},
	// perl -e 'print crypt("password",q($2y$05$abcdefghijklmnopqrstuu))'
	{"$2y$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", true, SchemeBcrypt},
	{"$2y$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "passwore", false, SchemeBcrypt},
	// perl -e 'print crypt("password",q($2a$05$abcdefghijklmnopqrstuu))'
	{"$2a$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", true, SchemeBcrypt},
	// perl -e 'print crypt("a" x 100, q($2b$04$abcdefghijklmnopqrstuu))'
	// (and "a" x 72 gives the same: bcrypt uses 72 bytes)
	{"$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe", strings.Repeat("a", 100), true, SchemeBcrypt},
	{"$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe", strings.Repeat("a", 72) + "b", true, SchemeBcrypt},
	{"$2b$04$abcdefghijklmnopqrstuuBzzIgyKkz7xMWYSzkIjUSnxEQFQ0WNe", strings.Repeat("a", 71), false, SchemeBcrypt},
	// perl -e 'print crypt("", q($2b$04$abcdefghijklmnopqrstuu))'
	{"$2b$04$abcdefghijklmnopqrstuubyCG3zY1GIXMyxfivm.ClDiInHzxjiq", "", true, SchemeBcrypt},
	// A last salt character with bits the salt has no room for: crypt(3)
	// writes it back as 'u' (perl -e 'print crypt("password",
	// q($2b$05$abcdefghijklmnopqrstuv))'), so nginx never matches it.
	{"$2b$05$abcdefghijklmnopqrstuvWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, SchemeBcrypt},
	// Likewise the hash's last character, a cost without its leading zero
	// or with a sign, a cost out of range, and trailing bytes.
	{"$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awv", "password", false, SchemeBcrypt},
	{"$2b$5$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, SchemeBcrypt},
	{"$2b$+5$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, SchemeBcrypt},
	{"$2b$03$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, SchemeBcrypt},
	{"$2b$32$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, SchemeBcrypt},
	{"$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu$", "password", false, SchemeBcrypt},
	{"$2b$05$", "password", false, SchemeBcrypt},
	// perl -e 'print crypt("password",q($2x$05$abcdefghijklmnopqrstuu))'
	// matches under nginx; headroom leaves $2x$ out.
	{"$2x$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu", "password", false, ""},

	// perl -e 'print crypt("password","salt")'
	{"sa3tHJ3/KuYvI", "password", true, SchemeDES},
	{"sa3tHJ3/KuYvI", "passwor", false, SchemeDES},
	// Only the first eight bytes count.
	{"sa3tHJ3/KuYvI", "password123", true, SchemeDES},
	{"sa3tHJ3/KuYvI", "passwordpassword", true, SchemeDES},
	// perl -e 'print crypt("abc","ab")'; and perl -e 'print
	// crypt("\xe1bc","ab")' prints the same: a byte's high bit is lost.
	{"abFZSxKKdq5s6", "abc", true, SchemeDES},
	{"abFZSxKKdq5s6", "\xe1bc", true, SchemeDES},
	// perl -e 'print crypt("","ab")'
	{"abmF1QH4PEr.E", "", true, SchemeDES},
	// perl -e 'print crypt("password12345678","ab")'
	{"abJnggxhB/yWI", "password12345678", true, SchemeDES},
	{"abJnggxhB/yWI", "password", true, SchemeDES},
	// Salt characters outside crypt64: crypt(3) fails
	// (perl -e 'print crypt("password","a:")' prints *0).
	{"a:", "password", false, ""},
	{"a", "password", false, ""},
	{"ab", "password", false, SchemeDES},
	{"abFZSxKKdq5s", "abc", false, SchemeDES},

	// perl -e 'print crypt("password12345678","abcdefghijklmn")': a
	// setting longer than a DES hash is bigcrypt's, in which every
	// byte counts.
	{"abJnggxhB/yWI5Oupr.oYP.A", "password12345678", true, SchemeBigcrypt},
	{"abJnggxhB/yWI5Oupr.oYP.A", "password12345679", false, SchemeBigcrypt},
	{"abJnggxhB/yWI5Oupr.oYP.A", "password", false, SchemeBigcrypt},
	// perl -e 'print crypt("x" x 200, "ab" . ("." x 30))': 128 bytes count.
	{"abzDJoqKYZJww0zSKj5k64o2KGYXTMSqrvsDznszBtJLScPwkrenZB/XAZcar2VNV9E.EKPPD8D3d92NH7JuT5TQPMPhMu9V1To9shV4JpEhjBCUEoKkNcpIlv.DqruC6odhIcSX2n0EpqVrcqX/7pn7SZuUwAQJmut1G2gpZwTXlloM7g", strings.Repeat("x", 200), true, SchemeBigcrypt},
	{"abzDJoqKYZJww0zSKj5k64o2KGYXTMSqrvsDznszBtJLScPwkrenZB/XAZcar2VNV9E.EKPPD8D3d92NH7JuT5TQPMPhMu9V1To9shV4JpEhjBCUEoKkNcpIlv.DqruC6odhIcSX2n0EpqVrcqX/7pn7SZuUwAQJmut1G2gpZwTXlloM7g", strings.Repeat("x", 128), true, SchemeBigcrypt},
	{"abzDJoqKYZJww0zSKj5k64o2KGYXTMSqrvsDznszBtJLScPwkrenZB/XAZcar2VNV9E.EKPPD8D3d92NH7JuT5TQPMPhMu9V1To9shV4JpEhjBCUEoKkNcpIlv.DqruC6odhIcSX2n0EpqVrcqX/7pn7SZuUwAQJmut1G2gpZwTXlloM7g", strings.Repeat("x", 127), false, SchemeBigcrypt},

	// Schemes crypt(3) knows and headroom does not, and locked accounts.
	// perl -e 'print crypt("password","_J9..CCCC")'
	{"_J9..CCCC.MOp/ZbelpA", "password", false, ""},
	// perl -e 'print crypt("password",q($md5$abc))'
	{"$md5$abc$cqWooU4A6T51.n3LJSiHS.", "password", false, ""},
	// perl -e 'print crypt("password",q($7$CU..../....abc))'
	{"$7$CU..../....abc$aq9nTbuadDKl/OmAH9ktvpXiAjiuBYpB578rVYQ/6K/", "password", false, ""},
	{"$y$j9T$abc$def", "password", false, ""},
	{"*", "", false, ""},
	{"!", "", false, ""},
	{"!sa3tHJ3/KuYvI", "password", false, ""},
	{"", "", false, ""},
	{"$", "", false, ""},

	// Both are C strings to nginx: a NUL ends them.
	{"{PLAIN}pass\x00junk", "pass\x00other", true, SchemePlain},
	{"{PLAIN}pass", "pass\x00", true, SchemePlain},
	{"$1$salt$qJH7.N4xYta3aEG/dfqo/0\x00", "password\x00x", true, SchemeMD5Crypt},
	{"\x00sa3tHJ3/KuYvI", "password", false, ""},
}

func TestVerify(t *testing.T) {
	for _, v := range vectors {
		if got := Verify([]byte(v.stored), []byte(v.password)); got != v.ok {
			t.Errorf("Verify(%q, %q) = %v, want %v", v.stored, v.password, got, v.ok)
		}
		if got := Scheme([]byte(v.stored)); got != v.scheme {
			t.Errorf("Scheme(%q) = %q, want %q", v.stored, got, v.scheme)
		}
	}
}

// TestLongPhrase checks that a password libxcrypt refuses for its length
// (perl -e 'print crypt("a" x 512, q($1$ab$))' prints *0) never matches a
// crypt(3) scheme, though the hash is right, while nginx's own schemes
// take it.
func TestLongPhrase(t *testing.T) {
	long := []byte(strings.Repeat("a", 512))
	md5 := md5Crypt(nil, long, []byte("ab"), magicMD5)
	if Verify(md5, long) {
		t.Errorf("Verify(%q, 512 bytes) = true, want false", md5)
	}
	apr1 := md5Crypt(nil, long, []byte("ab"), magicAPR1)
	if !Verify(apr1, long) {
		t.Errorf("Verify(%q, 512 bytes) = false, want true", apr1)
	}
	if !Verify(append([]byte("{PLAIN}"), long...), long) {
		t.Errorf("{PLAIN} of 512 bytes does not match")
	}
}

// TestSettingBytes checks libxcrypt's refusal of bytes anywhere in the
// setting: perl -e 'print crypt("password","ab:")' prints *0, although DES
// reads only two characters.
func TestSettingBytes(t *testing.T) {
	for _, c := range []byte{0x01, '\t', '\n', ' ', '!', '*', ':', ';', '\\', 0x7f, 0x80, 0xff} {
		s := []byte("ab")
		s = append(s, c)
		if settingBytesOK(s) {
			t.Errorf("settingBytesOK(%q) = true", s)
		}
		// A DES hash that is right but for the byte after it.
		s = append([]byte("sa3tHJ3/KuYvI"), c)
		if Verify(s, []byte("password")) {
			t.Errorf("Verify(%q) = true", s)
		}
	}
	ok := []byte("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$+-=,#%&()[]{}<>?@^_`|~\"'")
	if !settingBytesOK(ok) {
		t.Errorf("settingBytesOK(%q) = false", ok)
	}
}

// TestAllocations holds the schemes' per-request cost to what they
// allocate outside their rounds: nothing, or the SHA-crypt state.
func TestAllocations(t *testing.T) {
	for _, v := range []struct {
		stored, password string
		max              float64
	}{
		{"{PLAIN}password", "password", 0},
		{"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password", 0},
		{"{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0", "password", 0},
		{"$apr1$salt$Xxd1irWT9ycqoYxGFn4cb.", "password", 0},
		{"$1$salt$qJH7.N4xYta3aEG/dfqo/0", "password", 0},
		{"$5$rounds=1000$saltsalt$9XEseG1/bjdqJc4RQ15hmZfmT.KRO57mluphiNKkmkA", "pass", 2},
		{"$6$abc$dCZAbKbeBK7T0hukxi7enUZp/94Lft5t19M7i5KuPRB7fbWvBRbIYAWY22u9tH90kN7HD..U6kgPLsfSP1Rl0/", "pass", 2},
		{"sa3tHJ3/KuYvI", "password", 0},
		{"abJnggxhB/yWI5Oupr.oYP.A", "password12345678", 0},
	} {
		stored, password := []byte(v.stored), []byte(v.password)
		if n := testing.AllocsPerRun(5, func() { Verify(stored, password) }); n > v.max {
			t.Errorf("Verify(%q) allocates %v times, want at most %v", v.stored, n, v.max)
		}
	}
}
