package htpasswd

import "crypto/md5"

// The magic strings of the two MD5-crypt variants: Apache's, which nginx
// computes itself, and the original one of crypt(3). Only the magic
// differs; it is hashed in and written out.
const (
	magicAPR1 = prefixAPR1
	magicMD5  = "$1$"
)

// md5SaltMax is the most salt characters MD5-crypt uses; the salt also ends
// at the first '$'.
const md5SaltMax = 8

// cryptMD5 appends what Poul-Henning Kamp's MD5-based crypt makes of
// password under the setting's salt: magic, a salt of up to eight
// characters that ends at '$', '$' and the 22-character hash. An empty salt
// is hashed like any other.
func cryptMD5(dst, setting, password []byte, magic string) []byte {
	salt := setting[len(magic):]
	for i, c := range salt {
		if c == '$' || i == md5SaltMax {
			salt = salt[:i]
			break
		}
	}
	return md5Crypt(dst, password, salt, magic)
}

// md5Crypt appends magic, salt, '$' and the hash of password to dst.
//
// The thousand rounds each hash a few of password, salt and the previous
// digest; they are laid side by side in one buffer (on the stack for the
// passwords people use) so the rounds allocate nothing.
func md5Crypt(dst, password, salt []byte, magic string) []byte {
	var scratch [256]byte
	need := 2*len(password) + len(magic) + len(salt) + md5.Size
	buf := scratch[:0]
	if need > len(scratch) {
		buf = make([]byte, 0, need)
	}

	// The alternate digest: password, salt, password.
	buf = append(buf, password...)
	buf = append(buf, salt...)
	buf = append(buf, password...)
	alt := md5.Sum(buf)

	// The first digest: password, magic, salt, then as many bytes of the
	// alternate digest as the password is long, then for each bit of the
	// password's length, low bit first, a zero byte for a one bit and the
	// password's first byte for a zero bit.
	h := md5.New()
	h.Write(password)
	h.Write([]byte(magic))
	h.Write(salt)
	for n := len(password); n > 0; n -= md5.Size {
		h.Write(alt[:min(n, md5.Size)])
	}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(password[:1])
		}
	}
	var final [md5.Size]byte
	h.Sum(final[:0])

	// The rounds, which exist only to make the hash slow.
	for i := 0; i < 1000; i++ {
		buf = buf[:0]
		if i&1 != 0 {
			buf = append(buf, password...)
		} else {
			buf = append(buf, final[:]...)
		}
		if i%3 != 0 {
			buf = append(buf, salt...)
		}
		if i%7 != 0 {
			buf = append(buf, password...)
		}
		if i&1 != 0 {
			buf = append(buf, final[:]...)
		} else {
			buf = append(buf, password...)
		}
		final = md5.Sum(buf)
	}

	dst = append(dst, magic...)
	dst = append(dst, salt...)
	dst = append(dst, '$')
	// Each group of three digest bytes, first byte most significant, makes
	// four characters; the last byte alone makes two.
	for _, g := range [5][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		v := uint32(final[g[0]])<<16 | uint32(final[g[1]])<<8 | uint32(final[g[2]])
		dst = appendCrypt64(dst, v, 4)
	}
	return appendCrypt64(dst, uint32(final[11]), 2)
}
