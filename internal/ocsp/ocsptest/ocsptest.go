// Package ocsptest makes signed OCSP responses for tests, as a responder
// would send them, so that the stapling code can be tested against an
// in-process responder. Its structures are written out here separately
// from package ocsp's, so that a mistake in one is not mirrored by the
// other.
package ocsptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"time"
)

// Status is the certificate status a response gives.
type Status int

// The statuses.
const (
	Good Status = iota
	Revoked
	Unknown
)

// Template says what a response holds.
type Template struct {
	// Cert and Issuer name the certificate the response is for.
	Cert, Issuer *x509.Certificate
	Status       Status
	// ThisUpdate defaults to an hour ago; NextUpdate is left out when
	// zero.
	ThisUpdate, NextUpdate time.Time
	// Signer signs with Key; Certs are sent in the response (the signer
	// among them when a client is to find it there).
	Signer *x509.Certificate
	Key    crypto.Signer
	Certs  []*x509.Certificate
	// ByKey names the responder by its key's hash rather than its name.
	ByKey bool
	// ResponseStatus, when not zero, makes an unsuccessful response
	// (1 malformedRequest, 3 tryLater, ...) without a body.
	ResponseStatus int
}

type algorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type certID struct {
	Hash     algorithm
	NameHash []byte
	KeyHash  []byte
	Serial   *big.Int
}

type single struct {
	ID         certID
	Status     asn1.RawValue
	ThisUpdate time.Time `asn1:"generalized"`
	NextUpdate time.Time `asn1:"generalized,explicit,tag:0,optional"`
}

type tbs struct {
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []single
}

type basic struct {
	TBS       asn1.RawValue
	Algorithm algorithm
	Signature asn1.BitString
	Certs     []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type respBytes struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type outer struct {
	Status asn1.Enumerated
	Bytes  respBytes `asn1:"explicit,tag:0,optional"`
}

type outerStatus struct {
	Status asn1.Enumerated
}

type spki struct {
	Algorithm algorithm
	Key       asn1.BitString
}

func keySHA1(c *x509.Certificate) ([]byte, error) {
	var k spki
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &k); err != nil {
		return nil, err
	}
	h := sha1.Sum(k.Key.RightAlign())
	return h[:], nil
}

// Response makes the DER response t describes.
func Response(t Template) ([]byte, error) {
	if t.ResponseStatus != 0 {
		return asn1.Marshal(outerStatus{Status: asn1.Enumerated(t.ResponseStatus)})
	}
	nameHash := sha1.Sum(t.Issuer.RawSubject)
	keyHash, err := keySHA1(t.Issuer)
	if err != nil {
		return nil, err
	}
	status := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: int(t.Status)}
	switch t.Status {
	case Revoked:
		// RevokedInfo: revocationTime.
		when, _ := asn1.MarshalWithParams(time.Now().Add(-time.Hour).UTC(), "generalized")
		status.IsCompound, status.Bytes = true, when
	default:
		status.Bytes = []byte{}
	}
	this := t.ThisUpdate
	if this.IsZero() {
		this = time.Now().Add(-time.Hour)
	}
	var rid asn1.RawValue
	if t.ByKey {
		kh, err := keySHA1(t.Signer)
		if err != nil {
			return nil, err
		}
		inner, _ := asn1.Marshal(kh)
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: inner}
	} else {
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: t.Signer.RawSubject}
	}
	data, err := asn1.Marshal(tbs{
		ResponderID: rid,
		ProducedAt:  time.Now().UTC().Truncate(time.Second),
		Responses: []single{{
			ID: certID{
				Hash:     algorithm{Algorithm: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, Parameters: asn1.NullRawValue},
				NameHash: nameHash[:], KeyHash: keyHash, Serial: t.Cert.SerialNumber,
			},
			Status:     status,
			ThisUpdate: this.UTC().Truncate(time.Second),
			NextUpdate: t.NextUpdate.UTC().Truncate(time.Second),
		}},
	})
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(data)
	var alg algorithm
	switch t.Key.(type) {
	case *ecdsa.PrivateKey:
		alg.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	case *rsa.PrivateKey:
		alg = algorithm{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}
	default:
		return nil, errors.New("ocsptest: ECDSA or RSA keys only")
	}
	sig, err := t.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	b := basic{TBS: asn1.RawValue{FullBytes: data}, Algorithm: alg, Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}}
	for _, c := range t.Certs {
		b.Certs = append(b.Certs, asn1.RawValue{FullBytes: c.Raw})
	}
	body, err := asn1.Marshal(b)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(outer{Bytes: respBytes{Type: asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}, Response: body}})
}
