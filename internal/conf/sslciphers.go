package conf

import (
	"crypto/tls"
	"strconv"
	"strings"
)

// opensslSuites maps OpenSSL's names of TLS 1.2 cipher suites to
// crypto/tls's, for ssl_ciphers.
var opensslSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
}

// OpenSSLSuiteName returns OpenSSL's name of a cipher suite ($ssl_cipher):
// for TLS 1.3 suites it is the IANA name, as OpenSSL's.
func OpenSSLSuiteName(id uint16) (string, bool) {
	for name, v := range opensslSuites {
		if v == id {
			return name, true
		}
	}
	switch id {
	case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256:
		return tls.CipherSuiteName(id), true
	}
	return "", false
}

// opensslKeywords are OpenSSL's cipher-string keywords (groups, aliases
// and the TLS 1.3 names, which ssl_ciphers does not govern). They leave
// crypto/tls's default suites: those are all in HIGH, and no keyword can
// add a suite crypto/tls lacks.
var opensslKeywords = setOf(`ECCdraft ALL COMPLEMENTOFALL COMPLEMENTOFDEFAULT DEFAULT HIGH MEDIUM LOW EXPORT
EXPORT40 EXPORT56 eNULL NULL aNULL kRSA RSA aRSA kDHE kEDH DH DHE EDH ADH kEECDH kECDHE ECDH ECDHE
EECDH AECDH aECDSA ECDSA aDSS DSS kPSK PSK SRP kSRP aGOST GOST SSLv3 TLSv1 TLSv1.0 TLSv1.2
AES AES128 AES256 AESGCM AESCCM AESCCM8 ARIA ARIA128 ARIA256 CAMELLIA CAMELLIA128 CAMELLIA256
CHACHA20 3DES DES RC4 RC2 IDEA SEED MD5 SHA1 SHA SHA256 SHA384 SUITEB128 SUITEB128ONLY SUITEB192
@STRENGTH @SECLEVEL=0 @SECLEVEL=1 @SECLEVEL=2 @SECLEVEL=3 @SECLEVEL=4 @SECLEVEL=5
TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_CCM_SHA256
TLS_AES_128_CCM_8_SHA256`)

// opensslOnlyPrefixes start OpenSSL suite names crypto/tls has no
// counterpart for (finite-field DHE, static DH, PSK, SRP, anonymous, and
// old or national ciphers). A list that names them works in nginx when
// it names others too, as OpenSSL skips what it cannot use; headroom skips
// them the same way.
var opensslOnlyPrefixes = []string{"DHE-", "EDH-", "DH-", "ECDH-", "ADH-", "AECDH-", "PSK-", "RSA-PSK-", "DHE-PSK-",
	"ECDHE-PSK-", "SRP-", "CAMELLIA", "ARIA", "SEED", "IDEA", "RC4", "EXP", "NULL", "DES-CBC-", "AES128-CCM", "AES256-CCM",
	"ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES256-CCM", "ECDHE-ECDSA-CAMELLIA", "ECDHE-RSA-CAMELLIA",
	"ECDHE-ECDSA-ARIA", "ECDHE-ARIA", "ECDHE-RSA-AES256-SHA384", "ECDHE-ECDSA-AES256-SHA384", "AES256-SHA256"}

// highSuites are the suites of OpenSSL's HIGH that crypto/tls has, in
// OpenSSL's order of preference: what nginx's default "HIGH:!aNULL:!MD5"
// offers, RSA key exchange included (crypto/tls leaves that out unless
// asked, and clients that need it reach nginx).
var highSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
}

// sslCipherSuites reads an ssl_ciphers value: the suites it names, in
// order, less those it excludes ("!name", "-name"); OpenSSL's HIGH that
// crypto/tls has (highSuites) when it names none (keywords only). A name
// that is neither a suite, a keyword nor one of OpenSSL's suites without
// a counterpart is the error returned.
func sslCipherSuites(s string) ([]uint16, string) {
	var suites, excluded []uint16
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' || r == ',' }) {
		exclude := false
		if part[0] == '!' || part[0] == '-' || part[0] == '+' {
			exclude = part[0] != '+'
			part = part[1:]
		}
		// "kEECDH+AESGCM" combines keywords.
		if id, ok := opensslSuites[part]; ok {
			if exclude {
				excluded = append(excluded, id)
			} else {
				suites = append(suites, id)
			}
			continue
		}
		known := true
		for _, word := range strings.Split(part, "+") {
			if !opensslKeywords[word] && !opensslOnly(word) {
				known = false
			}
		}
		if !known {
			return nil, "unknown cipher \"" + part + "\" in \"ssl_ciphers\" (crypto/tls has no suite of that name)"
		}
	}
	var out []uint16
	for _, id := range suites {
		if !containsSuite(excluded, id) && !containsSuite(out, id) {
			out = append(out, id)
		}
	}
	if len(suites) > 0 && len(out) == 0 {
		return nil, "no cipher left in \"ssl_ciphers\" \"" + s + "\""
	}
	if len(suites) == 0 {
		for _, id := range highSuites {
			if !containsSuite(excluded, id) {
				out = append(out, id)
			}
		}
	}
	return out, ""
}

func opensslOnly(name string) bool {
	for _, p := range opensslOnlyPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func containsSuite(list []uint16, id uint16) bool {
	for _, v := range list {
		if v == id {
			return true
		}
	}
	return false
}

// opensslCurves maps OpenSSL's group names to crypto/tls's.
var opensslCurves = map[string]tls.CurveID{
	"X25519": tls.X25519, "x25519": tls.X25519,
	"prime256v1": tls.CurveP256, "secp256r1": tls.CurveP256, "P-256": tls.CurveP256,
	"secp384r1": tls.CurveP384, "P-384": tls.CurveP384,
	"secp521r1": tls.CurveP521, "P-521": tls.CurveP521,
	"X25519MLKEM768": tls.X25519MLKEM768,
}

// defaultCurves are OpenSSL 3's default groups that crypto/tls has, in
// its order (X448 is missing): the key exchange nginx on Debian does, and
// half the CPU of crypto/tls's own default with ML-KEM.
var defaultCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP521, tls.CurveP384}

// DefaultCurves returns the groups of ssl_ecdh_curve auto.
func DefaultCurves() []tls.CurveID { return append([]tls.CurveID(nil), defaultCurves...) }

// OpenSSLCurveName returns OpenSSL's name of a key exchange group
// ($ssl_curve, $ssl_curves).
func OpenSSLCurveName(id tls.CurveID) string {
	switch id {
	case tls.X25519:
		return "X25519"
	case tls.CurveP256:
		return "prime256v1"
	case tls.CurveP384:
		return "secp384r1"
	case tls.CurveP521:
		return "secp521r1"
	case tls.X25519MLKEM768:
		return "X25519MLKEM768"
	}
	return "0x" + strconv.FormatUint(uint64(id), 16)
}

// sslCurves reads ssl_ecdh_curve: "auto", or names separated by colons.
func sslCurves(s string) ([]tls.CurveID, string) {
	if s == "auto" {
		return nil, ""
	}
	var out []tls.CurveID
	for _, name := range strings.Split(s, ":") {
		id, ok := opensslCurves[name]
		if !ok {
			if name == "X448" || name == "x448" {
				continue
			}
			return nil, "SSL_CTX_set1_curves_list(\"" + s + "\") failed (unknown curve \"" + name + "\")"
		}
		out = append(out, id)
	}
	return out, ""
}
