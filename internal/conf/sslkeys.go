package conf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"hash"
	"os"
	"strings"
)

// This file reads the passphrases of ssl_password_file and decrypts
// encrypted private keys with them, as OpenSSL does for nginx: PKCS#8
// keys encrypted with PBES2 (PBKDF2 and AES-CBC, what OpenSSL 3 writes)
// and the older PEM encryption ("Proc-Type: 4,ENCRYPTED"). Each
// passphrase is tried in turn.

// readPasswords reads a password file: one passphrase per line.
func readPasswords(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Msg: "open() \"" + path + "\" failed " + sysErrorText(err)}
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line != "" {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Msg: "empty password file \"" + path + "\""}
	}
	return out, nil
}

// decryptKeyPEM returns keyPEM with its encrypted private key decrypted
// (as an unencrypted PKCS#8 block), or keyPEM itself when nothing in it
// is encrypted.
func decryptKeyPEM(keyPEM []byte, passwords []string) ([]byte, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return keyPEM, nil
		}
		encrypted := block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED"
		if !encrypted {
			continue
		}
		if len(passwords) == 0 {
			return nil, errors.New("the key is encrypted and no ssl_password_file is given")
		}
		for _, pw := range passwords {
			der, err := decryptBlock(block, pw)
			if err != nil {
				continue
			}
			if block.Type == "ENCRYPTED PRIVATE KEY" {
				return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
			}
			return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
		}
		return nil, errors.New("bad decrypt: no passphrase of the password file decrypts the key")
	}
}

func decryptBlock(block *pem.Block, password string) ([]byte, error) {
	if block.Type != "ENCRYPTED PRIVATE KEY" {
		//lint:ignore SA1019 the older PEM encryption is what such files use.
		return x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck
	}
	var info struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		return nil, err
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, errors.New("unsupported key encryption " + info.Algo.Algorithm.String())
	}
	var params struct {
		KDF, Cipher pkix.AlgorithmIdentifier
	}
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, err
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errors.New("unsupported key derivation " + params.KDF.Algorithm.String())
	}
	var kdf struct {
		Salt       []byte
		Iterations int
		KeyLength  int                      `asn1:"optional"`
		PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, err
	}
	var h func() hash.Hash
	switch {
	case len(kdf.PRF.Algorithm) == 0 || kdf.PRF.Algorithm.Equal(oidHMACSHA1):
		h = sha1.New
	case kdf.PRF.Algorithm.Equal(oidHMACSHA256):
		h = sha256.New
	case kdf.PRF.Algorithm.Equal(oidHMACSHA512):
		h = sha512.New
	default:
		return nil, errors.New("unsupported key derivation hash " + kdf.PRF.Algorithm.String())
	}
	var keyLen int
	switch {
	case params.Cipher.Algorithm.Equal(oidAES128CBC):
		keyLen = 16
	case params.Cipher.Algorithm.Equal(oidAES192CBC):
		keyLen = 24
	case params.Cipher.Algorithm.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, errors.New("unsupported key cipher " + params.Cipher.Algorithm.String())
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Cipher.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("bad key cipher parameters")
	}
	key, err := pbkdf2.Key(h, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(info.Data) == 0 || len(info.Data)%aes.BlockSize != 0 {
		return nil, errors.New("bad encrypted key length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(c, iv).CryptBlocks(out, info.Data)
	// PKCS#7 padding, which a wrong passphrase almost never leaves
	// intact.
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, errors.New("bad decrypt")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("bad decrypt")
		}
	}
	out = out[:len(out)-pad]
	if _, err := x509.ParsePKCS8PrivateKey(out); err != nil {
		return nil, errors.New("bad decrypt")
	}
	return out, nil
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)
