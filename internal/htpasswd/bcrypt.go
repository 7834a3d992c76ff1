package htpasswd

import "golang.org/x/crypto/bcrypt"

// bcryptHashLen is the length of a bcrypt hash: "$2b$", two digits of cost,
// '$', 22 characters of salt and 31 of hash.
const bcryptHashLen = 60

// isBcryptPrefix reports whether s starts like a bcrypt hash that libxcrypt
// computes as bcrypt proper: $2a$, $2b$ and $2y$. ($2x$, which reproduces
// an old bug on bytes above 0x7f, is left out.)
func isBcryptPrefix(s []byte) bool {
	return len(s) >= 4 && s[0] == '$' && s[1] == '2' && s[3] == '$' &&
		(s[2] == 'a' || s[2] == 'b' || s[2] == 'y')
}

// verifyBcrypt checks a bcrypt hash with golang.org/x/crypto/bcrypt, after
// holding the text to the form libxcrypt writes back, which x/crypto does
// not: it compares its own re-encoding of the parsed value, so it would
// accept a cost such as "+5" and a salt whose last character carries bits
// that the 16-byte salt has no room for. libxcrypt writes that character
// canonically, so such values match nothing under nginx.
//
// One difference remains: for $2a$, libxcrypt changes the hash of a rare
// password with bytes above 0x7f whose key schedule the old sign-extension
// bug would have left the same, so that such a password's $2a$ hash differs
// from its $2b$ one; x/crypto computes $2a$ as $2b$.
func verifyBcrypt(stored, password []byte) bool {
	if len(stored) != bcryptHashLen || stored[6] != '$' ||
		stored[4] < '0' || stored[4] > '9' || stored[5] < '0' || stored[5] > '9' {
		return false
	}
	if cost := int(stored[4]-'0')*10 + int(stored[5]-'0'); cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return false
	}
	salt := stored[7 : 7+22]
	for _, c := range salt {
		if bcrypt64Value(c) < 0 {
			return false
		}
	}
	// 22 characters hold 132 bits, four more than the salt's 128.
	if bcrypt64Value(salt[21])&0xf != 0 {
		return false
	}
	return bcrypt.CompareHashAndPassword(stored, password) == nil
}

// bcrypt64Value returns the six-bit value of c in bcrypt's base64 alphabet,
// "./A-Za-z0-9" (not crypt64's order), or -1.
func bcrypt64Value(c byte) int {
	switch {
	case c == '.' || c == '/':
		return int(c - '.')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 2
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 28
	case c >= '0' && c <= '9':
		return int(c-'0') + 54
	}
	return -1
}
