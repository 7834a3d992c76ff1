package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"headroom/internal/htpasswd"
	"headroom/internal/http1"
	"headroom/internal/logs"
)

// This file is nginx's auth_basic: the credentials of an
// "Authorization: Basic" field checked against a user file, which is
// read on every request, as nginx reads it, so that a changed file
// counts at once. Reading it blocks the worker as a file's open and
// stat do (docs/architecture.md): a user file is small and in the page
// cache.

// authBasic runs auth_basic's check and returns nginx's verdict: 0 when
// it is off (declined), 200 when the user is let through, or the status
// to answer: 401 (the realm is then in r.carried), 403 for a missing
// file, 500.
func (cc *clientConn) authBasic() int {
	r := cc.r
	ab := &r.lc.AuthBasic
	if ab.Realm == nil || ab.UserFile == nil {
		return 0
	}
	realm := cc.eval(nil, ab.Realm)
	if string(realm) == "off" {
		return 0
	}
	user, pass, ok := basicCredentials(r.head.Headers)
	if !ok {
		cc.logAt(logs.Info, "no user/password was provided for basic authentication")
		return cc.askCredentials(realm)
	}
	path := cc.eval(nil, ab.UserFile)
	if len(path) > 0 && path[0] != '/' {
		path = []byte(filepath.Join(ab.ConfDir, string(path)))
	}
	data, err := readUserFile(string(path), cc.w)
	if err != nil {
		if err == unix.ENOENT {
			cc.logError("open() \"" + string(path) + "\" failed (" + logs.SysError(err) + ")")
			return 403
		}
		cc.logAt(logs.Crit, "open() \""+string(path)+"\" failed ("+logs.SysError(err)+")")
		return 500
	}
	stored, found := findUser(data, user)
	if !found {
		cc.logError("user \"" + string(user) + "\" was not found in \"" + string(path) + "\"")
		return cc.askCredentials(realm)
	}
	if !cc.w.passwords.verify(stored, pass) {
		if htpasswd.Scheme(stored) == "" {
			// nginx's crypt(3) may know the scheme (yescrypt, say);
			// the line says why no password can match.
			cc.logError("user \"" + string(user) + "\": the password's hash is of a scheme headroom does not compute")
		} else {
			cc.logError("user \"" + string(user) + "\": password mismatch")
		}
		return cc.askCredentials(realm)
	}
	return 200
}

// passwordCache keeps a worker's recent matches of a slow password
// hash (bcrypt, SHA-crypt: milliseconds of the event loop each), as a
// digest of the stored value and the password, so that a client that
// sends its credentials with every request, as browsers do, costs one
// slow hash per stored value rather than one per request; nginx pays it
// every time. A changed user file changes the stored value and misses.
// Only matches are kept: a wrong password costs its hash each time, as
// in nginx.
type passwordCache struct {
	seen map[[sha256.Size]byte]struct{}
	// h makes the digests, reused from one to the next.
	h hash.Hash
	// ring is the order the digests came in; next is where the next
	// one goes, over the oldest once the ring is full.
	ring []([sha256.Size]byte)
	next int
}

// passwordCacheSize is how many matches a worker keeps.
const passwordCacheSize = 1024

// verify is htpasswd.Verify, with the slow schemes' matches kept.
func (pc *passwordCache) verify(stored, pass []byte) bool {
	switch htpasswd.Scheme(stored) {
	case htpasswd.SchemeBcrypt, htpasswd.SchemeSHA256Crypt, htpasswd.SchemeSHA512Crypt:
	default:
		return htpasswd.Verify(stored, pass)
	}
	if pc.h == nil {
		pc.h = sha256.New()
	}
	h := pc.h
	h.Reset()
	h.Write(stored)
	h.Write([]byte{0})
	h.Write(pass)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if _, ok := pc.seen[key]; ok {
		return true
	}
	if !htpasswd.Verify(stored, pass) {
		return false
	}
	pc.add(key)
	return true
}

// add keeps a match's digest, over the oldest once the ring is full.
func (pc *passwordCache) add(key [sha256.Size]byte) {
	if pc.seen == nil {
		pc.seen = make(map[[sha256.Size]byte]struct{}, passwordCacheSize)
	}
	if len(pc.ring) < passwordCacheSize {
		pc.ring = append(pc.ring, key)
	} else {
		delete(pc.seen, pc.ring[pc.next])
		pc.ring[pc.next] = key
		pc.next = (pc.next + 1) % passwordCacheSize
	}
	pc.seen[key] = struct{}{}
}

// askCredentials gives the answer the realm's WWW-Authenticate and
// returns 401.
func (cc *clientConn) askCredentials(realm []byte) int {
	r := cc.r
	v := make([]byte, 0, len("WWW-AuthenticateBasic realm=\"\"")+len(realm))
	v = append(v, "WWW-Authenticate"...)
	v = append(v, `Basic realm="`...)
	v = append(v, realm...)
	v = append(v, '"')
	r.carried = append(r.carried, http1.Header{Name: v[:16], Value: v[16:]})
	return 401
}

// dropAuthenticate takes back the WWW-Authenticate fields an access
// check that refused added, once another let the request through
// (satisfy any), as nginx takes its field back.
func (cc *clientConn) dropAuthenticate() {
	r := cc.r
	kept := r.carried[:0]
	for _, f := range r.carried {
		if !http1.EqualFold(f.Name, "WWW-Authenticate") {
			kept = append(kept, f)
		}
	}
	r.carried = kept
}

// basicCredentials decodes an "Authorization: Basic" field into the
// user and the password as nginx's ngx_http_auth_basic_user does: the
// scheme in any case, spaces before the base64, padding optional, the
// user up to the first colon, which must not be the first byte.
func basicCredentials(headers []http1.Header) (user, pass []byte, ok bool) {
	v := headerValue(headers, "Authorization")
	if len(v) < 6 || !http1.EqualFold(v[:6], "Basic ") {
		return nil, nil, false
	}
	v = bytes.TrimLeft(v[6:], " ")
	if i := bytes.IndexByte(v, '='); i >= 0 {
		v = v[:i]
	}
	if len(v) == 0 || len(v)%4 == 1 {
		return nil, nil, false
	}
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(v)))
	n, err := base64.RawStdEncoding.Decode(dec, v)
	if err != nil {
		return nil, nil, false
	}
	dec = dec[:n]
	i := bytes.IndexByte(dec, ':')
	if i <= 0 {
		return nil, nil, false
	}
	return dec[:i], dec[i+1:], true
}

// keptUserFile is the largest buffer a worker keeps from one user file
// to the next; a larger file is read into one of its own.
const keptUserFile = 64 << 10

// readUserFile reads a user file whole, as nginx reads one of any size.
// The bytes are valid until the next call.
func readUserFile(path string, w *worker) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := w.userFile[:0]
	if cap(buf) > keptUserFile {
		buf = nil
	}
	for {
		buf = slices.Grow(buf, 4096)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	w.userFile = buf
	return buf, nil
}

// findUser finds the user's line in a user file as nginx's reader
// does: lines that start with '#' or CR are skipped, the first line
// that starts with "user:" is the user's, and the password runs to the
// end of the line, a CR, or a colon.
func findUser(data, user []byte) ([]byte, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 || line[0] == '#' || line[0] == '\r' {
			continue
		}
		if len(line) <= len(user) || line[len(user)] != ':' || !bytes.Equal(line[:len(user)], user) {
			continue
		}
		pw := line[len(user)+1:]
		if i := bytes.IndexAny(pw, "\r:"); i >= 0 {
			pw = pw[:i]
		}
		return pw, true
	}
	return nil, false
}
