package htpasswd

import (
	"crypto/des"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestDESBlock holds the cipher under crypt to the standard library's DES,
// an implementation written apart from this one, on FIPS 46-3's classic
// example and on random keys and blocks.
func TestDESBlock(t *testing.T) {
	type kat struct{ key, plain, cipher uint64 }
	cases := []kat{{0x133457799BBCDFF1, 0x0123456789ABCDEF, 0x85E813540F0AB405}}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		key, plain := r.Uint64(), r.Uint64()
		c, err := des.NewCipher(binary.BigEndian.AppendUint64(nil, key))
		if err != nil {
			t.Fatal(err)
		}
		var out [8]byte
		c.Encrypt(out[:], binary.BigEndian.AppendUint64(nil, plain))
		cases = append(cases, kat{key, plain, binary.BigEndian.Uint64(out[:])})
	}
	for _, k := range cases {
		if got := desEncryptBlock(k.key, k.plain); got != k.cipher {
			t.Errorf("DES(%016x, %016x) = %016x, want %016x", k.key, k.plain, got, k.cipher)
		}
	}
}

// TestDESTables checks what the standard's tables must satisfy, so that a
// mistyped entry shows here rather than as a wrong hash.
func TestDESTables(t *testing.T) {
	for k, box := range desS {
		for row := 0; row < 4; row++ {
			var seen [16]bool
			for _, v := range box[row*16 : row*16+16] {
				seen[v] = true
			}
			for v, ok := range seen {
				if !ok {
					t.Errorf("S%d row %d lacks %d", k+1, row, v)
				}
			}
		}
	}
	for i := range desIP {
		if desFP[desIP[i]-1] != uint8(i+1) {
			t.Errorf("FP is not the inverse of IP at %d", i+1)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		x := r.Uint32()
		if got, want := desExpand(x), permute(uint64(x), 32, desE[:]); got != want {
			t.Fatalf("desExpand(%08x) = %012x, E gives %012x", x, got, want)
		}
	}
}
