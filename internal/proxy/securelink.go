package proxy

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// appendSecureLink appends $secure_link as nginx's secure_link module
// computes it: "1" for a link whose hash is the base64url MD5 of
// secure_link_md5's value and that has not expired, "0" for one that
// expired; with secure_link_secret, the link part of /prefix/HASH/link
// when HASH is the hex MD5 of the link and the secret. ok is false when
// the link is not valid.
func (cc *clientConn) appendSecureLink(b []byte) ([]byte, bool) {
	r := cc.r
	sl := &r.lc.SecureLink
	if sl.Secret != "" {
		return cc.appendOldSecureLink(b, sl.Secret)
	}
	if sl.Link == nil || sl.MD5 == nil {
		return b, false
	}
	val := cc.eval(nil, sl.Link)
	var expires int64
	if i := bytes.IndexByte(val, ','); i >= 0 {
		e, err := strconv.ParseInt(string(val[i+1:]), 10, 64)
		if err != nil || e <= 0 {
			return b, false
		}
		expires, val = e, val[:i]
	}
	if len(val) > 24 {
		return b, false
	}
	var hash [18]byte
	// nginx decodes base64url with or without its padding.
	n, err := base64.RawURLEncoding.Decode(hash[:], bytes.TrimRight(val, "="))
	if err != nil || n != 16 {
		return b, false
	}
	sum := md5.Sum(cc.eval(nil, sl.MD5))
	if !bytes.Equal(hash[:16], sum[:]) {
		return b, false
	}
	if expires != 0 && expires < cc.w.loop.Now().Unix() {
		return append(b, '0'), true
	}
	return append(b, '1'), true
}

// appendOldSecureLink is secure_link_secret's $secure_link; the link is
// the rest of the request target as sent, arguments included, as nginx
// takes it from the unparsed URI.
func (cc *clientConn) appendOldSecureLink(b []byte, secret string) ([]byte, bool) {
	uri := cc.r.head.Target
	if len(uri) < 2 {
		return b, false
	}
	rest := uri[1:]
	i := bytes.IndexByte(rest, '/')
	if i < 0 {
		return b, false
	}
	rest = rest[i+1:]
	j := bytes.IndexByte(rest, '/')
	if j < 0 {
		return b, false
	}
	hexHash, link := rest[:j], rest[j+1:]
	if len(hexHash) != 32 || len(link) == 0 {
		return b, false
	}
	var want [16]byte
	if _, err := hex.Decode(want[:], hexHash); err != nil {
		return b, false
	}
	h := md5.New()
	h.Write(link)
	h.Write([]byte(secret))
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return b, false
	}
	return append(b, link...), true
}

// appendSecureLinkExpires appends $secure_link_expires: the expiry time
// the link names.
func (cc *clientConn) appendSecureLinkExpires(b []byte) ([]byte, bool) {
	sl := &cc.r.lc.SecureLink
	if sl.Link == nil {
		return b, false
	}
	val := cc.eval(nil, sl.Link)
	i := bytes.IndexByte(val, ',')
	if i < 0 {
		return b, false
	}
	return append(b, val[i+1:]...), true
}
