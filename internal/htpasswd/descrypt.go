package htpasswd

import "math/bits"

// Traditional DES-based crypt(3): the password's first eight bytes, each
// shifted left by one (DES ignores the low, parity, bit of each key byte, so
// the high bit of a password byte is lost), form a DES key that encrypts a
// zero block 25 times. A 12-bit salt, written as two crypt64 characters,
// swaps pairs of bits of the expansion E so that a hash cannot be looked up
// in a table made for plain DES. The hash is the salt and the block in 11
// crypt64 characters.
//
// bigcrypt, which libxcrypt applies to a setting longer than a DES hash,
// hashes each further eight bytes of the password (up to 128 in all) the
// same way, salted with the first two characters of the previous part's
// hash, and appends the parts.

const (
	desHashLen       = 13
	desPartLen       = 11
	desIterations    = 25
	bigcryptMaxBytes = 128
)

// cryptDES appends the traditional DES hash of password under the
// setting's first two characters, which must be crypt64 ones.
func cryptDES(dst, setting, password []byte) []byte {
	dst = append(dst, setting[0], setting[1])
	return desCrypt(dst, password, setting[0], setting[1])
}

// cryptBigcrypt appends the bigcrypt hash of password under the setting's
// first two characters. A password of up to eight bytes makes the 13
// characters of a DES hash, which a bigcrypt setting is longer than, so
// only longer passwords can match one.
func cryptBigcrypt(dst, setting, password []byte) []byte {
	if len(password) > bigcryptMaxBytes {
		password = password[:bigcryptMaxBytes]
	}
	dst = append(dst, setting[0], setting[1])
	s0, s1 := setting[0], setting[1]
	for i := 0; i == 0 || i < len(password); i += 8 {
		part := len(dst)
		dst = desCrypt(dst, password[i:min(i+8, len(password))], s0, s1)
		s0, s1 = dst[part], dst[part+1]
	}
	return dst
}

// desCrypt appends the 11 characters that DES crypt makes of password (of
// which only the first eight bytes count) under the salt s0 s1, which must
// be crypt64 characters.
func desCrypt(dst, password []byte, s0, s1 byte) []byte {
	var key uint64
	for i := 0; i < 8; i++ {
		key <<= 8
		if i < len(password) {
			key |= uint64(password[i] << 1)
		}
	}
	ks := desKeySchedule(key)

	// Salt bit i, counting from the low bit of the first character's
	// value, swaps bits i and i+24 of E's output, counting from its first.
	salt := uint(crypt64Value(s0)) | uint(crypt64Value(s1))<<6
	var mask uint64
	for i := 0; i < 12; i++ {
		if salt>>i&1 != 0 {
			mask |= 1 << (47 - i)
		}
	}

	// IP of the zero block is zero, and IP undoes the FP that ends each
	// encryption, so the halves pass from one encryption to the next as
	// they leave the rounds; FP is applied once, at the end.
	var l, r uint32
	for i := 0; i < desIterations; i++ {
		l, r = desRounds(l, r, &ks, mask)
	}
	block := permute(uint64(l)<<32|uint64(r), 64, desFP[:])

	// 64 bits make ten characters and four bits over, which the last
	// character carries in its high bits.
	for i := 0; i < 10; i++ {
		dst = append(dst, crypt64[block>>(58-6*i)&0x3f])
	}
	return append(dst, crypt64[block<<2&0x3f])
}

// desSchedule holds the 16 round subkeys, 48 bits each, the first bit of
// PC2's output the most significant.
type desSchedule [16]uint64

// desKeySchedule derives the round subkeys from a 64-bit key as FIPS 46-3
// describes: PC1, then for each round rotate both 28-bit halves left and
// take PC2.
func desKeySchedule(key uint64) desSchedule {
	var ks desSchedule
	cd := permute(key, 64, desPC1[:])
	c, d := uint32(cd>>28), uint32(cd&0xfffffff)
	for i, s := range desShifts {
		c = (c<<s | c>>(28-s)) & 0xfffffff
		d = (d<<s | d>>(28-s)) & 0xfffffff
		ks[i] = permute(uint64(c)<<28|uint64(d), 56, desPC2[:])
	}
	return ks
}

// desRounds runs DES's 16 rounds on the halves of a block that IP has
// permuted and returns the pre-output, the halves swapped, ready for FP.
// saltMask marks the bits of E's output that swap with those 24 after them.
func desRounds(l, r uint32, ks *desSchedule, saltMask uint64) (uint32, uint32) {
	for i := 0; i < 16; i++ {
		e := desExpand(r)
		t := (e<<24 ^ e) & saltMask
		e ^= t | t>>24
		e ^= ks[i]
		var f uint32
		for k := 0; k < 8; k++ {
			f |= desSP[k][e>>(42-6*k)&0x3f]
		}
		l, r = r, l^f
	}
	return r, l
}

// desExpand computes E of a half block. E's eight six-bit groups are
// overlapping windows of the half block rotated right by one, so rotations
// replace the bit-by-bit table walk; a test holds it to desE.
func desExpand(r uint32) uint64 {
	rr := bits.RotateLeft32(r, -1)
	var e uint64
	for k := 0; k < 8; k++ {
		e = e<<6 | uint64(bits.RotateLeft32(rr, 4*k+6)&0x3f)
	}
	return e
}

// desSP combines, for each S-box, the box and the permutation P that
// follows it: entry [k][v] is box k's output for the six bits v, placed
// among the 32 bits where box k's output goes, then permuted by P. A round
// then takes eight lookups.
var desSP = func() (t [8][64]uint32) {
	for k := range t {
		for v := range t[k] {
			row := v>>4&2 | v&1
			col := v >> 1 & 0xf
			s := uint64(desS[k][row*16+col]) << (28 - 4*k)
			t[k][v] = uint32(permute(s, 32, desP[:]))
		}
	}
	return t
}()

// permute builds a value from the bits of in (width bits wide) that table
// names, each entry counting from 1 at in's most significant bit; the
// table's first entry becomes the result's most significant bit.
func permute(in uint64, width int, table []uint8) uint64 {
	var out uint64
	for _, p := range table {
		out = out<<1 | in>>(width-int(p))&1
	}
	return out
}

// desEncryptBlock encrypts one block with plain DES, unsalted. crypt uses
// desRounds directly; this lets a test hold the cipher to a reference.
func desEncryptBlock(key, block uint64) uint64 {
	ks := desKeySchedule(key)
	ip := permute(block, 64, desIP[:])
	l, r := desRounds(uint32(ip>>32), uint32(ip), &ks, 0)
	return permute(uint64(l)<<32|uint64(r), 64, desFP[:])
}
