// Package ocsp builds OCSP requests and judges OCSP responses (RFC 6960)
// for OCSP stapling, as nginx 1.22's ngx_event_openssl_stapling.c does
// with OpenSSL: the request names one certificate by a SHA-1 CertID, and a
// response is stapled only when it parses, is signed by a certificate it
// or the certificate's chain holds, names the certificate, is within its
// validity and, with ssl_stapling_verify, is signed by the issuer or a
// responder the issuer delegated to. It is sans-I/O, like internal/dns:
// bytes in, verdicts out; the fetching is internal/proxy's.
//
// The ASN.1 is read and written with encoding/asn1 rather than with
// golang.org/x/crypto/ocsp: the few structures are short, and checking
// them as OpenSSL does (the whole CertID, the responder found by its
// ResponderID among the chain's certificates first) needs fields that
// package does not expose.
package ocsp

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"time"
)

// Status is a certificate's status in a response.
type Status int

// The statuses of RFC 6960's CertStatus.
const (
	Good Status = iota
	Revoked
	Unknown
)

// String is OpenSSL's name of the status (OCSP_cert_status_str), which
// nginx's messages quote.
func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	}
	return "unknown"
}

// Error is a response judged unusable, worded as nginx logs it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// sslError words a failure nginx reports with ngx_ssl_error: the call
// that failed and OpenSSL's reason.
func sslError(call, reason string) error {
	return &Error{Msg: call + " failed (SSL: " + reason + ")"}
}

var (
	oidBasic  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// certID is RFC 6960's CertID.
type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

type request struct {
	TBS tbsRequest
}

type tbsRequest struct {
	RequestList []singleRequest
}

type singleRequest struct {
	Cert certID
}

type response struct {
	Status asn1.Enumerated
	Bytes  responseBytes `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type basicResponse struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
	Certs     []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseData struct {
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponse
	Extensions  []pkix.Extension `asn1:"optional,explicit,tag:1"`
}

type singleResponse struct {
	CertID     certID
	CertStatus asn1.RawValue
	ThisUpdate time.Time        `asn1:"generalized"`
	NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type publicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// keyHash is the SHA-1 of a certificate's public key, the BIT STRING's
// bytes, as CertID's issuerKeyHash and ResponderID's byKey hash it.
func keyHash(c *x509.Certificate, h func() hash.Hash) ([]byte, error) {
	var spki publicKeyInfo
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	d := h()
	d.Write(spki.PublicKey.RightAlign())
	return d.Sum(nil), nil
}

// Request returns the DER OCSP request for cert, whose issuer is issuer:
// one CertID with SHA-1 hashes, as OpenSSL's OCSP_cert_to_id makes it.
func Request(cert, issuer *x509.Certificate) ([]byte, error) {
	id, err := makeCertID(cert, issuer, oidSHA1, sha1.New)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(request{TBS: tbsRequest{RequestList: []singleRequest{{Cert: id}}}})
}

func makeCertID(cert, issuer *x509.Certificate, oid asn1.ObjectIdentifier, h func() hash.Hash) (certID, error) {
	kh, err := keyHash(issuer, h)
	if err != nil {
		return certID{}, err
	}
	d := h()
	d.Write(issuer.RawSubject)
	return certID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		IssuerNameHash: d.Sum(nil),
		IssuerKeyHash:  kh,
		SerialNumber:   cert.SerialNumber,
	}, nil
}

// hashFor returns the hash a CertID names; OpenSSL's requests use SHA-1,
// and a responder may answer with another of these.
func hashFor(oid asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case oid.Equal(oidSHA1):
		return sha1.New
	case oid.Equal(oidSHA256):
		return sha256.New
	case oid.Equal(oidSHA384):
		return sha512.New384
	case oid.Equal(oidSHA512):
		return sha512.New
	}
	return nil
}

// matches reports whether id names a certificate issued by issuer (and,
// with cert, that certificate).
func (id *certID) matches(cert, issuer *x509.Certificate) bool {
	h := hashFor(id.HashAlgorithm.Algorithm)
	if h == nil {
		return false
	}
	if cert != nil && (id.SerialNumber == nil || id.SerialNumber.Cmp(cert.SerialNumber) != 0) {
		return false
	}
	d := h()
	d.Write(issuer.RawSubject)
	if !bytes.Equal(d.Sum(nil), id.IssuerNameHash) {
		return false
	}
	kh, err := keyHash(issuer, h)
	return err == nil && bytes.Equal(kh, id.IssuerKeyHash)
}

// RequestURI is the URI of a GET request for der at the responder's uri:
// the request in base64, escaped, after a slash, as nginx sends it.
func RequestURI(uri string, der []byte) string {
	var b strings.Builder
	b.WriteString(uri)
	if !strings.HasSuffix(uri, "/") {
		b.WriteByte('/')
	}
	for _, c := range []byte(base64.StdEncoding.EncodeToString(der)) {
		switch c {
		case '+', '/', '=':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Options are what a response is checked against.
type Options struct {
	// Cert is the certificate stapled; Issuer the certificate that
	// issued it.
	Cert, Issuer *x509.Certificate
	// Chain holds the other certificates of Cert's file: a responder
	// found among them is trusted as it is, as OpenSSL's OCSP_TRUSTOTHER
	// does with nginx's chain.
	Chain []*x509.Certificate
	// Verify is ssl_stapling_verify: a responder found only among the
	// response's own certificates must then chain to Roots and be the
	// issuer or hold the issuer's delegation (extended key usage
	// OCSPSigning). Without it the signature is still checked, with the
	// responder's key, as OpenSSL's OCSP_NOVERIFY leaves it.
	Verify bool
	Roots  *x509.CertPool
	// Now is the time the response's validity is judged at.
	Now time.Time
}

// Result is a usable response's verdict on the certificate.
type Result struct {
	Status     Status
	ThisUpdate time.Time
	// NextUpdate is when the response expires; zero when it does not
	// say, which nginx takes as never.
	NextUpdate time.Time
}

// validitySlack is how far thisUpdate may be ahead of the clock and
// nextUpdate behind it: nginx passes 300 seconds to OCSP_check_validity.
const validitySlack = 300 * time.Second

// Check judges a DER OCSP response for o.Cert as nginx's
// ngx_ssl_ocsp_verify does, in its order and with its messages. A
// response for which it returns no error may still say the certificate
// is revoked or unknown: Result.Status tells.
func Check(der []byte, o Options) (*Result, error) {
	var resp response
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		return nil, sslError("d2i_OCSP_RESPONSE()", "ASN1 lib")
	}
	if resp.Status != 0 {
		return nil, &Error{Msg: fmt.Sprintf("OCSP response not successful (%d: %s)", resp.Status, responseStatusText(int(resp.Status)))}
	}
	if !resp.Bytes.Type.Equal(oidBasic) {
		return nil, sslError("OCSP_response_get1_basic()", "not basic response")
	}
	var basic basicResponse
	var data responseData
	if _, err := asn1.Unmarshal(resp.Bytes.Response, &basic); err != nil {
		return nil, sslError("OCSP_response_get1_basic()", "ASN1 lib")
	}
	if _, err := asn1.Unmarshal(basic.TBS.FullBytes, &data); err != nil {
		return nil, sslError("OCSP_response_get1_basic()", "ASN1 lib")
	}
	var certs []*x509.Certificate
	for _, raw := range basic.Certs {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, sslError("OCSP_response_get1_basic()", "ASN1 lib")
		}
		certs = append(certs, c)
	}
	if err := verify(&basic, &data, certs, o); err != nil {
		return nil, err
	}
	var single *singleResponse
	for i := range data.Responses {
		if data.Responses[i].CertID.matches(o.Cert, o.Issuer) {
			single = &data.Responses[i]
			break
		}
	}
	if single == nil {
		return nil, &Error{Msg: "certificate status not found in the OCSP response"}
	}
	r := &Result{ThisUpdate: single.ThisUpdate, NextUpdate: single.NextUpdate}
	switch st := single.CertStatus; {
	case st.Class == asn1.ClassContextSpecific && st.Tag == 0:
		r.Status = Good
	case st.Class == asn1.ClassContextSpecific && st.Tag == 1:
		r.Status = Revoked
	default:
		r.Status = Unknown
	}
	switch {
	case r.ThisUpdate.After(o.Now.Add(validitySlack)):
		return nil, sslError("OCSP_check_validity()", "status not yet valid")
	case !r.NextUpdate.IsZero() && r.NextUpdate.Before(o.Now.Add(-validitySlack)):
		return nil, sslError("OCSP_check_validity()", "status expired")
	case !r.NextUpdate.IsZero() && r.NextUpdate.Before(r.ThisUpdate):
		return nil, sslError("OCSP_check_validity()", "nextupdate before thisupdate")
	}
	return r, nil
}

// verify is OpenSSL's OCSP_basic_verify as nginx calls it: the signer is
// looked for by the ResponderID among the chain's certificates, then the
// response's; its signature is checked; with Verify, a signer from the
// response must chain to the roots and answer for the issuer.
func verify(basic *basicResponse, data *responseData, certs []*x509.Certificate, o Options) error {
	signer := findSigner(data.ResponderID, o.Chain)
	trusted := signer != nil
	if signer == nil {
		signer = findSigner(data.ResponderID, certs)
	}
	if signer == nil {
		return sslError("OCSP_basic_verify()", "signer certificate not found")
	}
	alg := signatureAlgorithm(basic.Algorithm)
	if alg == x509.UnknownSignatureAlgorithm ||
		signer.CheckSignature(alg, basic.TBS.FullBytes, basic.Signature.RightAlign()) != nil {
		return sslError("OCSP_basic_verify()", "signature failure")
	}
	if !o.Verify || trusted {
		return nil
	}
	roots := o.Roots
	if roots == nil {
		roots = x509.NewCertPool()
	}
	inter := x509.NewCertPool()
	for _, c := range certs {
		inter.AddCert(c)
	}
	for _, c := range o.Chain {
		inter.AddCert(c)
	}
	chains, err := signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: o.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return sslError("OCSP_basic_verify()", "certificate verify error")
	}
	reason := "root ca not trusted"
	for _, chain := range chains {
		ok, why := answersFor(chain, data.Responses)
		if ok {
			return nil
		}
		if why != "" {
			reason = why
		}
	}
	return sslError("OCSP_basic_verify()", reason)
}

// answersFor is OpenSSL's ocsp_check_issuer: the signer (chain[0])
// answers for every certificate of the response when it is their issuer,
// or when its own issuer is theirs and it may sign OCSP responses. A
// signer that is neither would need a root explicitly trusted for OCSP
// signing, which PEM files of certificates cannot say, so it fails.
func answersFor(chain []*x509.Certificate, responses []singleResponse) (bool, string) {
	if len(responses) == 0 {
		return false, "response contains no revocation data"
	}
	signer := chain[0]
	for i := range responses {
		id := &responses[i].CertID
		if len(chain) > 1 && id.matches(nil, chain[1]) {
			delegated := false
			for _, u := range signer.ExtKeyUsage {
				if u == x509.ExtKeyUsageOCSPSigning {
					delegated = true
				}
			}
			if !delegated {
				return false, "missing ocspsigning usage"
			}
			continue
		}
		if !id.matches(nil, signer) {
			return false, ""
		}
	}
	return true, ""
}

// findSigner returns the certificate a ResponderID names: by name
// ([1] Name) or by the SHA-1 of its key ([2] KeyHash).
func findSigner(rid asn1.RawValue, certs []*x509.Certificate) *x509.Certificate {
	if rid.Class != asn1.ClassContextSpecific {
		return nil
	}
	switch rid.Tag {
	case 1:
		for _, c := range certs {
			if bytes.Equal(c.RawSubject, rid.Bytes) {
				return c
			}
		}
	case 2:
		var key []byte
		if _, err := asn1.Unmarshal(rid.Bytes, &key); err != nil {
			return nil
		}
		for _, c := range certs {
			if kh, err := keyHash(c, sha1.New); err == nil && bytes.Equal(kh, key) {
				return c
			}
		}
	}
	return nil
}

var (
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// signatureAlgorithm maps a signature's AlgorithmIdentifier to
// crypto/x509's constant, which crypto/x509 does not export a mapping
// for.
func signatureAlgorithm(ai pkix.AlgorithmIdentifier) x509.SignatureAlgorithm {
	table := []struct {
		oid asn1.ObjectIdentifier
		alg x509.SignatureAlgorithm
	}{
		{oidSHA1WithRSA, x509.SHA1WithRSA},
		{oidSHA256WithRSA, x509.SHA256WithRSA},
		{oidSHA384WithRSA, x509.SHA384WithRSA},
		{oidSHA512WithRSA, x509.SHA512WithRSA},
		{oidECDSAWithSHA1, x509.ECDSAWithSHA1},
		{oidECDSAWithSHA256, x509.ECDSAWithSHA256},
		{oidECDSAWithSHA384, x509.ECDSAWithSHA384},
		{oidECDSAWithSHA512, x509.ECDSAWithSHA512},
		{oidEd25519, x509.PureEd25519},
	}
	for _, e := range table {
		if ai.Algorithm.Equal(e.oid) {
			return e.alg
		}
	}
	if ai.Algorithm.Equal(oidRSAPSS) {
		// RSASSA-PSS-params: the hash is the first field, [0].
		var params struct {
			Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
		}
		if _, err := asn1.Unmarshal(ai.Parameters.FullBytes, &params); err != nil {
			return x509.UnknownSignatureAlgorithm
		}
		switch {
		case params.Hash.Algorithm.Equal(oidSHA256):
			return x509.SHA256WithRSAPSS
		case params.Hash.Algorithm.Equal(oidSHA384):
			return x509.SHA384WithRSAPSS
		case params.Hash.Algorithm.Equal(oidSHA512):
			return x509.SHA512WithRSAPSS
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// responseStatusText is OpenSSL's OCSP_response_status_str.
func responseStatusText(n int) string {
	switch n {
	case 0:
		return "successful"
	case 1:
		return "malformedrequest"
	case 2:
		return "internalerror"
	case 3:
		return "trylater"
	case 5:
		return "sigrequired"
	case 6:
		return "unauthorized"
	}
	return "(UNKNOWN)"
}

// Issued reports whether issuer may have issued cert, as OpenSSL's
// X509_check_issued judges it without checking the signature: the names
// match, the key identifiers do when both are given, and an issuer whose
// key usage is restricted may sign certificates.
func Issued(issuer, cert *x509.Certificate) bool {
	if !bytes.Equal(issuer.RawSubject, cert.RawIssuer) {
		return false
	}
	if len(cert.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 &&
		!bytes.Equal(cert.AuthorityKeyId, issuer.SubjectKeyId) {
		return false
	}
	return issuer.KeyUsage == 0 || issuer.KeyUsage&x509.KeyUsageCertSign != 0
}
