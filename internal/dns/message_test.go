package dns

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// msg builds a response by hand: header fields, the question for name
// and qtype, then raw answer records.
func msg(id, flags uint16, qdcount, ancount int, name string, qtype uint16, answers ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(qdcount))
	b = binary.BigEndian.AppendUint16(b, uint16(ancount))
	b = append(b, 0, 0, 0, 0)
	b = append(b, labels(name)...)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	for _, a := range answers {
		b = append(b, a...)
	}
	return b
}

func labels(name string) []byte {
	var b []byte
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// rr is one answer record whose owner is the given name bytes (labels or
// a pointer).
func rr(owner []byte, typ, class uint16, ttl uint32, rdata []byte) []byte {
	b := append([]byte{}, owner...)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, class)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

var ptrQ = []byte{0xc0, 12} // the question's name

func TestAppendQuery(t *testing.T) {
	tests := []struct {
		name  string
		qtype uint16
		want  []byte
		err   bool
	}{
		{"a.example.net", TypeA, msg(0x1234, 0x0100, 1, 0, "a.example.net", TypeA), false},
		{"a.example.net.", TypeAAAA, msg(0x1234, 0x0100, 1, 0, "a.example.net", TypeAAAA), false},
		{"", TypeA, nil, true},
		{"a..b", TypeA, nil, true},
		{strings.Repeat("a", 64) + ".net", TypeA, nil, true},
		{strings.Repeat("a.", 128) + "b", TypeA, nil, true},
		{strings.Repeat("a", 64) + "." + strings.Repeat("a", 63), TypeA, nil, true},
	}
	for _, tc := range tests {
		got, err := AppendQuery(nil, 0x1234, tc.name, tc.qtype)
		if (err != nil) != tc.err {
			t.Errorf("AppendQuery(%q): err %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if !tc.err && string(got) != string(tc.want) {
			t.Errorf("AppendQuery(%q) = % x, want % x", tc.name, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	a4 := []byte{127, 0, 0, 1}
	a6 := netip.MustParseAddr("::1").AsSlice()
	// alias.example.net as a CNAME target: "alias" then a pointer to
	// "example.net" in the question (offset 18).
	alias := append([]byte{5, 'a', 'l', 'i', 'a', 's'}, 0xc0, 18)
	tests := []struct {
		name    string
		in      []byte
		want    Answer
		wantErr string
	}{
		{name: "A", in: msg(7, 0x8180, 1, 1, "a.example.net", TypeA, rr(ptrQ, TypeA, 1, 3600, a4)),
			want: Answer{ID: 7, Flags: 0x8180, QName: "a.example.net", QType: TypeA, Records: 1,
				Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, TTL: 3600}},
		{name: "uppercase question is lower-cased", in: msg(7, 0x8180, 1, 0, "CASE.Example.net", TypeA),
			want: Answer{ID: 7, Flags: 0x8180, QName: "case.example.net", QType: TypeA, TTL: ^uint32(0)}},
		{name: "AAAA and uncompressed owner", in: msg(1, 0x8180, 1, 1, "a.net", TypeAAAA, rr(labels("a.net"), TypeAAAA, 1, 60, a6)),
			want: Answer{ID: 1, Flags: 0x8180, QName: "a.net", QType: TypeAAAA, Records: 1,
				Addrs: []netip.Addr{netip.MustParseAddr("::1")}, TTL: 60}},
		{name: "CNAME with compression pointer and A, least TTL",
			in: msg(2, 0x8180, 1, 2, "cname.example.net", TypeA, rr(ptrQ, TypeCNAME, 1, 1, alias), rr([]byte{0xc0, 47}, TypeA, 1, 3600, a4)),
			want: Answer{ID: 2, Flags: 0x8180, QName: "cname.example.net", QType: TypeA, Records: 2, CNAME: "alias.example.net",
				Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, TTL: 1}},
		{name: "negative TTL is zero", in: msg(3, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeA, 1, 0x80000000, a4)),
			want: Answer{ID: 3, Flags: 0x8180, QName: "a.net", QType: TypeA, Records: 1,
				Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, TTL: 0}},
		{name: "DNAME skipped", in: msg(4, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeDNAME, 1, 10, labels("b.net"))),
			want: Answer{ID: 4, Flags: 0x8180, QName: "a.net", QType: TypeA, Records: 1, TTL: 10}},
		{name: "error code stops after the question", in: msg(5, 0x8183, 1, 1, "nx.net", TypeA, []byte{1, 2}),
			want: Answer{ID: 5, Flags: 0x8183, RCode: 3, QName: "nx.net", QType: TypeA}},
		{name: "truncated flag", in: msg(6, 0x8380, 1, 0, "tc.net", TypeA),
			want: Answer{ID: 6, Flags: 0x8380, Truncated: true, QName: "tc.net", QType: TypeA, TTL: ^uint32(0)}},
		{name: "header too short", in: []byte{1, 2, 3}, wantErr: "short DNS response"},
		{name: "a query, not a response", in: msg(8, 0x0100, 1, 0, "a.net", TypeA), wantErr: "invalid UDP DNS response 8 fl:0100"},
		{name: "two questions", in: msg(9, 0x8180, 2, 0, "a.net", TypeA), wantErr: "invalid number of questions in DNS response"},
		{name: "record without rdlength", in: msg(10, 0x8180, 1, 1, "short.net", TypeA, []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1}), wantErr: "short DNS response"},
		{name: "rdata past the end", in: msg(11, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeA, 1, 1, a4)[:14]), wantErr: "short DNS response"},
		{name: "A of wrong length", in: msg(12, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeA, 1, 1, []byte{1, 2, 3})), wantErr: "invalid A record in DNS response"},
		{name: "AAAA in answer to A", in: msg(13, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeAAAA, 1, 1, a6)), wantErr: "unexpected AAAA record in DNS response"},
		{name: "wrong class", in: msg(14, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeA, 3, 1, a4)), wantErr: "unexpected RR class 3"},
		{name: "pointer loop", in: msg(15, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeCNAME, 1, 1, []byte{0xc0, 0xff})), wantErr: "compression pointers loop in DNS response"},
		{name: "CNAME to the root name is empty", in: msg(16, 0x8180, 1, 1, "a.net", TypeA, rr(ptrQ, TypeCNAME, 1, 1, []byte{0})),
			want: Answer{ID: 16, Flags: 0x8180, QName: "a.net", QType: TypeA, Records: 1, TTL: 1}},
		{name: "question name cut short", in: msg(17, 0x8180, 1, 0, "a.net", TypeA)[:15], wantErr: "short DNS response"},
		{name: "bad label type", in: append(msg(18, 0x8180, 1, 0, "a.net", TypeA)[:12], 0x80), wantErr: "invalid label type in DNS response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Parse: err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.ID != tc.want.ID || got.Flags != tc.want.Flags || got.RCode != tc.want.RCode || got.Truncated != tc.want.Truncated ||
				got.QName != tc.want.QName || got.QType != tc.want.QType || got.Records != tc.want.Records ||
				got.CNAME != tc.want.CNAME || (got.Records > 0 && got.TTL != tc.want.TTL) || len(got.Addrs) != len(tc.want.Addrs) {
				t.Fatalf("Parse = %+v, want %+v", got, tc.want)
			}
			for i := range got.Addrs {
				if got.Addrs[i] != tc.want.Addrs[i] {
					t.Fatalf("Parse addrs = %v, want %v", got.Addrs, tc.want.Addrs)
				}
			}
		})
	}
}

func TestRCodeText(t *testing.T) {
	for code, want := range map[int]string{1: "Format error", 2: "Server failure", 3: "Host not found", 4: "Unimplemented", 5: "Operation refused", 110: "Operation timed out", 9: "Unknown error"} {
		if got := RCodeText(code); got != want {
			t.Errorf("RCodeText(%d) = %q, want %q", code, got, want)
		}
	}
}

// FuzzDNSParse checks that no answer, however malformed, makes the
// parser panic or read out of bounds, and that what it accepts holds
// together. The seed corpus is in testdata/fuzz/FuzzDNSParse.
func FuzzDNSParse(f *testing.F) {
	f.Add(msg(7, 0x8180, 1, 1, "a.example.net", TypeA, rr(ptrQ, TypeA, 1, 3600, []byte{127, 0, 0, 1})))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Parse(b)
		if err != nil {
			if errors.Is(err, ErrShort) && len(b) >= 1<<16 {
				t.Skip()
			}
			return
		}
		if len(a.QName) > maxName || len(a.CNAME) > maxName {
			t.Fatalf("name longer than %d bytes", maxName)
		}
		for _, ip := range a.Addrs {
			if !ip.IsValid() {
				t.Fatalf("invalid address in %+v", a)
			}
		}
	})
}

// TestFuzzCorpus makes sure the seed corpus exists and is kept in the
// format go test reads.
func TestFuzzCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzDNSParse/*")
	if len(files) == 0 {
		t.Fatal("no seed corpus for FuzzDNSParse")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(string(b), "go test fuzz v1\n") {
			t.Errorf("%s: not a corpus file", f)
		}
	}
}
