// Package htpasswd checks a password against the password field of a user
// file's line the way nginx's auth_basic does: nginx computes
// crypt(password, stored), with the stored value as the salt, and grants
// access when the result equals the stored value byte for byte. Four schemes
// are nginx's own ({PLAIN}, {SHA}, {SSHA} and Apache's $apr1$); every other
// value goes to the system's crypt(3), which on Debian 12, whose nginx is
// 1.22, is libxcrypt. This package reimplements the schemes of that crypt(3)
// that user files use ($1$, $5$, $6$, bcrypt, and traditional DES with its
// bigcrypt extension) together with libxcrypt's reading of the setting, so
// that a user file grants exactly the access it grants under nginx.
//
// Verify runs on the event loop once per request that carries credentials.
// The cheap schemes take microseconds and allocate nothing. SHA-crypt and
// bcrypt are slow by design: milliseconds at their usual costs, and far
// more at the costs a user file may ask for (a billion SHA-crypt rounds
// take minutes); nginx's worker blocks on them just the same.
package htpasswd

import (
	"bytes"
	"crypto/subtle"
)

// Scheme names, as Scheme returns them.
const (
	SchemePlain       = "plain"
	SchemeSHA         = "sha"
	SchemeSSHA        = "ssha"
	SchemeAPR1        = "apr1"
	SchemeMD5Crypt    = "md5-crypt"
	SchemeSHA256Crypt = "sha256-crypt"
	SchemeSHA512Crypt = "sha512-crypt"
	SchemeBcrypt      = "bcrypt"
	SchemeDES         = "des"
	SchemeBigcrypt    = "bigcrypt"
)

// maxPhrase is the longest password, in bytes, that libxcrypt hashes: it
// refuses phrases of 512 bytes and more (its limit counts the terminating
// NUL), so nginx denies them for every scheme it hands to crypt(3). nginx's
// own schemes have no such limit.
const maxPhrase = 511

// Verify reports whether password matches stored, the password field of a
// user file's line.
//
// Both are taken as nginx takes them, as C strings: a NUL byte ends either.
// A stored value whose scheme headroom cannot compute (Scheme returns "")
// never matches, and neither does a malformed one: nginx compares the
// crypt result with it and they differ, or crypt(3) fails and nginx denies.
func Verify(stored, password []byte) bool {
	stored = cString(stored)
	password = cString(password)
	if scheme(stored) == SchemeBcrypt {
		return len(password) <= maxPhrase && verifyBcrypt(stored, password)
	}
	var buf [192]byte
	out, ok := crypt(buf[:0], stored, password)
	return ok && subtle.ConstantTimeCompare(out, stored) == 1
}

// crypt appends to dst what nginx's ngx_crypt computes from password with
// setting as the salt, both already cut at their first NUL, and reports
// whether it computes anything: false where crypt(3) fails, for a scheme
// headroom leaves out, and for bcrypt, which only Verify checks. The result
// is the setting itself when the password is the right one.
func crypt(dst, setting, password []byte) ([]byte, bool) {
	name := scheme(setting)
	switch name {
	case SchemePlain:
		dst = append(dst, prefixPlain...)
		return append(dst, password...), true
	case SchemeSHA:
		return cryptSHA(dst, password), true
	case SchemeSSHA:
		return cryptSSHA(dst, setting, password)
	case SchemeAPR1:
		return cryptMD5(dst, setting, password, magicAPR1), true
	}
	// What remains is crypt(3)'s. libxcrypt fails on a phrase that is too
	// long and on a setting with a byte it refuses anywhere in it; the
	// schemes below then need not check either.
	if len(password) > maxPhrase || !settingBytesOK(setting) {
		return dst, false
	}
	switch name {
	case SchemeMD5Crypt:
		return cryptMD5(dst, setting, password, magicMD5), true
	case SchemeSHA256Crypt:
		return cryptSHACrypt(dst, setting, password, &sha256Crypt)
	case SchemeSHA512Crypt:
		return cryptSHACrypt(dst, setting, password, &sha512Crypt)
	case SchemeDES:
		return cryptDES(dst, setting, password), true
	case SchemeBigcrypt:
		return cryptBigcrypt(dst, setting, password), true
	}
	return dst, false
}

// Scheme names the hash scheme of stored ("plain", "sha", "ssha", "apr1",
// "md5-crypt", "sha256-crypt", "sha512-crypt", "bcrypt", "des" or
// "bigcrypt"), or "" for one headroom cannot compute, for which Verify is
// false. It goes by the prefix, as nginx and crypt(3) do, so a value it
// names may still be malformed and match no password; "" covers the crypt(3)
// schemes headroom leaves out (yescrypt's $y$, scrypt's $7$, $2x$, BSDi's
// _, and the like) and values such as "*" or "!" that lock an account.
func Scheme(stored []byte) string {
	return scheme(cString(stored))
}

// The prefixes nginx recognises itself, in the order it tests them.
const (
	prefixAPR1  = "$apr1$"
	prefixPlain = "{PLAIN}"
	prefixSSHA  = "{SSHA}"
	prefixSHA   = "{SHA}"
)

// scheme is Scheme on a value already cut at its first NUL.
func scheme(s []byte) string {
	switch {
	case bytes.HasPrefix(s, []byte(prefixAPR1)):
		return SchemeAPR1
	case bytes.HasPrefix(s, []byte(prefixPlain)):
		return SchemePlain
	case bytes.HasPrefix(s, []byte(prefixSSHA)):
		return SchemeSSHA
	case bytes.HasPrefix(s, []byte(prefixSHA)):
		return SchemeSHA
	case bytes.HasPrefix(s, []byte(magicMD5)):
		return SchemeMD5Crypt
	case bytes.HasPrefix(s, []byte(sha256Crypt.magic)):
		return SchemeSHA256Crypt
	case bytes.HasPrefix(s, []byte(sha512Crypt.magic)):
		return SchemeSHA512Crypt
	case isBcryptPrefix(s):
		return SchemeBcrypt
	case len(s) >= 2 && crypt64Value(s[0]) >= 0 && crypt64Value(s[1]) >= 0:
		// libxcrypt takes a setting longer than a DES hash as bigcrypt's.
		if len(s) > desHashLen {
			return SchemeBigcrypt
		}
		return SchemeDES
	}
	return ""
}

// cString returns b up to its first NUL byte, which is where C code such as
// nginx's and crypt(3)'s sees the string end.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// settingBytesOK reports whether libxcrypt accepts every byte of a setting:
// it fails, whatever the scheme, on a control character, a space, a byte
// above 0x7e, or one of the bytes ! * : ; \ that a passwd-style file or a
// locked account gives meaning to. None of them can appear in crypt's
// output, so a stored value holding one never matches; checking it here
// keeps a salt with such a byte from matching by echoing it.
func settingBytesOK(s []byte) bool {
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return false
		}
		switch c {
		case '!', '*', ':', ';', '\\':
			return false
		}
	}
	return true
}

// crypt64 is the alphabet crypt(3) writes its hashes and salts in: six bits
// a character, "." for zero.
const crypt64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// crypt64Value returns the six-bit value of c in the crypt64 alphabet, or -1
// when c is not in it.
func crypt64Value(c byte) int {
	switch {
	case c >= '.' && c <= '9':
		return int(c - '.')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 12
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 38
	}
	return -1
}

// appendCrypt64 appends the n low six-bit groups of v to dst, least
// significant first, the order of the MD5 and SHA-crypt encodings.
func appendCrypt64(dst []byte, v uint32, n int) []byte {
	for ; n > 0; n-- {
		dst = append(dst, crypt64[v&0x3f])
		v >>= 6
	}
	return dst
}
