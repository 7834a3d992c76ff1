package htpasswd

import (
	"crypto/sha1"
	"encoding/base64"
)

// cryptSHA appends "{SHA}" and the base64 of the password's SHA-1, the
// scheme of htpasswd -s.
func cryptSHA(dst, password []byte) []byte {
	sum := sha1.Sum(password)
	dst = append(dst, prefixSHA...)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// cryptSSHA appends "{SSHA}" and the base64 of SHA-1(password+salt) and the
// salt, the salted scheme of LDAP's userPassword, taking the salt from the
// base64 after the prefix of setting.
//
// nginx decodes that base64 to find the salt and, when it does not decode
// or decodes to less than a digest, hashes with no salt rather than
// failing. Its result is then the base64 of one digest, which cannot equal a
// value that failed to decode, so such a value simply never matches; cryptSSHA
// reports it as computing nothing. A value that decodes only leniently
// (nginx stops at the first "=" and ignores unused bits) does not match
// either, because the result is the canonical encoding; decoding strictly
// here decides the same.
func cryptSSHA(dst, setting, password []byte) ([]byte, bool) {
	enc := setting[len(prefixSSHA):]
	var dbuf [96]byte
	decoded := dbuf[:]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > len(dbuf) {
		decoded = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(decoded, enc)
	if err != nil || n < sha1.Size {
		return dst, false
	}
	decoded = decoded[:n]

	h := sha1.New()
	h.Write(password)
	h.Write(decoded[sha1.Size:])
	h.Sum(decoded[:0])

	dst = append(dst, prefixSSHA...)
	return base64.StdEncoding.AppendEncode(dst, decoded), true
}
