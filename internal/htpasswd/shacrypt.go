package htpasswd

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// shaCryptVariant is what tells SHA-256-crypt and SHA-512-crypt apart in
// Ulrich Drepper's specification: the magic, the hash, and the order in
// which the final digest's bytes are written out.
type shaCryptVariant struct {
	magic string
	size  int
	new   func() hash.Hash
	// order lists the digest's bytes in groups of three, most significant
	// first, each group written as four characters; tail holds what is left
	// (one or two bytes, most significant first), written as tailChars.
	order     []uint8
	tail      []uint8
	tailChars int
}

var sha256Crypt = shaCryptVariant{
	magic: "$5$",
	size:  sha256.Size,
	new:   sha256.New,
	order: []uint8{
		0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14,
		15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29,
	},
	tail:      []uint8{31, 30},
	tailChars: 3,
}

var sha512Crypt = shaCryptVariant{
	magic: "$6$",
	size:  sha512.Size,
	new:   sha512.New,
	order: []uint8{
		0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4,
		47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51,
		31, 52, 10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35,
		15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19,
		62, 20, 41,
	},
	tail:      []uint8{63},
	tailChars: 2,
}

// SHA-crypt's parameters. The specification clamps a rounds= value outside
// the range into it; libxcrypt instead refuses the setting, as it refuses a
// value with a sign or a leading zero. Either way the output would differ
// from the stored text, so such a value never matches, and refusing it
// spares hashing up to the clamp.
const (
	shaRoundsPrefix  = "rounds="
	shaRoundsDefault = 5000
	shaRoundsMin     = 1000
	shaRoundsMax     = 999999999
	shaSaltMax       = 16
)

// cryptSHACrypt appends what SHA-crypt makes of password under the
// setting: magic, an optional "rounds=N$", a salt of up to 16 characters
// that ends at '$', '$' and the hash. The rounds= part is written back when
// it was given, even with the default count. It reports false where
// libxcrypt refuses the rounds= part.
func cryptSHACrypt(dst, setting, password []byte, v *shaCryptVariant) ([]byte, bool) {
	rest := setting[len(v.magic):]
	rounds, custom := shaRoundsDefault, false
	if len(rest) >= len(shaRoundsPrefix) && string(rest[:len(shaRoundsPrefix)]) == shaRoundsPrefix {
		n, used, ok := parseRounds(rest[len(shaRoundsPrefix):])
		if !ok {
			return dst, false
		}
		rounds, custom = n, true
		rest = rest[len(shaRoundsPrefix)+used:]
	}
	salt := rest
	for i, c := range salt {
		if c == '$' || i == shaSaltMax {
			salt = salt[:i]
			break
		}
	}
	dst = append(dst, v.magic...)
	if custom {
		dst = append(dst, shaRoundsPrefix...)
		dst = appendDecimal(dst, rounds)
		dst = append(dst, '$')
	}
	dst = append(dst, salt...)
	dst = append(dst, '$')
	return shaCrypt(dst, password, salt, rounds, v), true
}

// parseRounds reads the count after "rounds=" as libxcrypt does: decimal
// digits without a leading zero, within the allowed range, followed by '$'.
// It returns the count and the bytes used, '$' included.
func parseRounds(s []byte) (n, used int, ok bool) {
	for used < len(s) && s[used] >= '0' && s[used] <= '9' {
		if used == 9 || (used == 0 && s[used] == '0') {
			return 0, 0, false
		}
		n = n*10 + int(s[used]-'0')
		used++
	}
	if used == 0 || used == len(s) || s[used] != '$' || n < shaRoundsMin || n > shaRoundsMax {
		return 0, 0, false
	}
	return n, used + 1, true
}

// appendDecimal appends n, which is positive, in decimal.
func appendDecimal(dst []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for n > 0 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, d[i:]...)
}

// shaCrypt appends the hash of password under salt and rounds to dst,
// following the steps of Drepper's specification.
//
// Each round hashes some of the password-derived sequence P, the
// salt-derived sequence S and the previous digest; they are laid side by
// side in one buffer (on the stack for the passwords people use) so that
// the rounds, up to a billion of them, allocate nothing.
func shaCrypt(dst, password, salt []byte, rounds int, v *shaCryptVariant) []byte {
	size := v.size
	h := v.new()
	// The digests that the streaming hash writes into share one array, as
	// they escape together.
	var digests [3][sha512.Size]byte
	b, dp, ds := &digests[0], &digests[1], &digests[2]

	// Digest B: password, salt, password.
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	h.Sum(b[:0])

	// Digest A: password, salt, as many bytes of B as the password is long,
	// then for each bit of the password's length, low bit first, B for a
	// one bit and the password for a zero bit.
	h.Reset()
	h.Write(password)
	h.Write(salt)
	for n := len(password); n > 0; n -= size {
		h.Write(b[:min(n, size)])
	}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b[:size])
		} else {
			h.Write(password)
		}
	}
	// A passes through dp's storage, which digest DP overwrites next, so
	// that c, which every round rewrites, stays on the stack.
	var c [sha512.Size]byte
	copy(c[:], h.Sum(dp[:0]))

	// Digest DP hashes the password once for each of its bytes; the
	// sequence P repeats DP to the password's length.
	h.Reset()
	for range password {
		h.Write(password)
	}
	h.Sum(dp[:0])

	// Digest DS hashes the salt 16 + A[0] times; the sequence S is its
	// first len(salt) bytes, which the 16-byte limit keeps within it.
	h.Reset()
	for i := 0; i < 16+int(c[0]); i++ {
		h.Write(salt)
	}
	h.Sum(ds[:0])
	s := ds[:len(salt)]

	var scratch [512]byte
	need := 3*len(password) + len(salt) + size
	buf := scratch[:0]
	if need > len(scratch) {
		buf = make([]byte, 0, need)
	}
	// p is P, kept in the tail of buf's storage so a round copies it from
	// one place.
	p := buf[cap(buf)-len(password) : cap(buf)]
	for i := 0; i < len(password); i += size {
		copy(p[i:], dp[:size])
	}

	for i := 0; i < rounds; i++ {
		buf = buf[:0]
		if i&1 != 0 {
			buf = append(buf, p...)
		} else {
			buf = append(buf, c[:size]...)
		}
		if i%3 != 0 {
			buf = append(buf, s...)
		}
		if i%7 != 0 {
			buf = append(buf, p...)
		}
		if i&1 != 0 {
			buf = append(buf, c[:size]...)
		} else {
			buf = append(buf, p...)
		}
		if size == sha256.Size {
			d := sha256.Sum256(buf)
			copy(c[:], d[:])
		} else {
			c = sha512.Sum512(buf)
		}
	}

	for i := 0; i < len(v.order); i += 3 {
		w := uint32(c[v.order[i]])<<16 | uint32(c[v.order[i+1]])<<8 | uint32(c[v.order[i+2]])
		dst = appendCrypt64(dst, w, 4)
	}
	var w uint32
	for _, i := range v.tail {
		w = w<<8 | uint32(c[i])
	}
	return appendCrypt64(dst, w, v.tailChars)
}
