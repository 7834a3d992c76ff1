package integration

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// authBasicUsers is a user file with a line for each password scheme,
// all of the password "secret" but des8's, "password". The hashes were made with the system's
// crypt(3) (perl -e 'print crypt("secret", SALT)'), which nginx uses,
// and with openssl passwd -apr1 and openssl sha1 | base64.
const authBasicUsers = `# users
plain:{PLAIN}secret
sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=
apr1:$apr1$s4lt$dd.Ua3J4x4/X73gGcJ2oB1
md5:$1$salty$imEDvbxFkbZYQI/2lKgu10
sha256:$5$rounds=1000$saltsalt$eKLZU9t9OoPWrqOQsoTIKG0aYkZ5rGOoOQhiIvoSWX2
sha512:$6$pepper$2Z6D7B1GHphRwAkDE2YJPR/Tz3pYzJVGFj5UOun/UCaxbGzjpckaQI2gu8BE7DfAQVvJ1RMHN0aDV0DT6ow8L.
bcrypt:$2y$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a
des:abNANd1rDfiNc
des8:abJnggxhB/yWI
extra:{PLAIN}secret:a comment after the password
crlf:{PLAIN}secret` + "\r" + `
#commented:{PLAIN}secret
`

// basicAuth is an Authorization field for user and password.
func basicAuth(user, pass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestAuthBasicAsNginx runs the same auth_basic configuration against
// nginx and headroom: every password scheme right and wrong, the
// answers without credentials, for an unknown user and a missing file,
// a location that turns it off, a user file named by a variable,
// $remote_user, satisfy any with allow, limit_except, and auth_delay
// (the 401 still comes, and the delay is logged).
func TestAuthBasicAsNginx(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		p := startProxy(t, tg, `
    server {
        listen 127.0.0.1:{{PORT}};
        root {{PREFIX}}/html;
        auth_basic "closed site";
        auth_basic_user_file {{PREFIX}}/htpasswd;
        add_header X-User $remote_user always;
        location /open/ { auth_basic off; }
        location /var/ { auth_basic_user_file {{PREFIX}}/$arg_f; }
        location /missing/ { auth_basic_user_file {{PREFIX}}/nosuchfile; }
        location /any/ { satisfy any; allow 127.0.0.1; deny all; }
        location /put/ { auth_basic off; limit_except GET { auth_basic "writers"; } }
        location /delay/ { auth_delay 100ms; }
    }`)
		if err := os.WriteFile(filepath.Join(p.prefix, "htpasswd"), []byte(authBasicUsers), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"open", "var", "missing", "any", "put", "delay"} {
			writeHTML(t, p, d+"/i.html", "in "+d)
		}
		writeHTML(t, p, "i.html", "inside")
		get := func(path string, extra ...string) *response {
			req := "GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
			for _, h := range extra {
				req += h + "\r\n"
			}
			return sendRaw(t, p.addr, req+"\r\n")
		}
		for _, user := range []string{"plain", "sha", "apr1", "md5", "sha256", "sha512", "bcrypt", "des", "extra", "crlf"} {
			if r := get("/i.html", basicAuth(user, "secret")); r.Status != 200 || string(r.Body) != "inside" || r.header("X-User") != user {
				t.Errorf("%s with the right password:\n%s", user, r)
			}
			if r := get("/i.html", basicAuth(user, "Secret")); r.Status != 401 || r.header("WWW-Authenticate") != `Basic realm="closed site"` {
				t.Errorf("%s with a wrong password:\n%s", user, r)
			}
		}
		// DES counts the first 8 bytes of a password only.
		if r := get("/i.html", basicAuth("des8", "password+more")); r.Status != 200 {
			t.Errorf("des with more than 8 bytes of password: %d", r.Status)
		}
		for _, tc := range []struct {
			name   string
			path   string
			extra  []string
			status int
		}{
			{"no credentials", "/i.html", nil, 401},
			{"another scheme", "/i.html", []string{"Authorization: Bearer abc"}, 401},
			{"broken base64", "/i.html", []string{"Authorization: Basic !!!"}, 401},
			{"no colon", "/i.html", []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("plain"))}, 401},
			{"a commented user", "/i.html", []string{basicAuth("#commented", "secret")}, 401},
			{"an unknown user", "/i.html", []string{basicAuth("nobody", "secret")}, 401},
			{"the scheme in lower case", "/i.html", []string{"Authorization: basic " + base64.StdEncoding.EncodeToString([]byte("plain:secret"))}, 200},
			{"auth_basic off", "/open/i.html", nil, 200},
			{"a user file named by a variable", "/var/i.html?f=htpasswd", []string{basicAuth("md5", "secret")}, 200},
			{"a variable naming no file", "/var/i.html?f=nx", []string{basicAuth("md5", "secret")}, 403},
			{"a missing file", "/missing/i.html", []string{basicAuth("md5", "secret")}, 403},
			{"satisfy any: the allow rule is enough", "/any/i.html", nil, 200},
			{"limit_except: GET is open", "/put/i.html", nil, 200},
			{"auth_delay: the 401 comes, later", "/delay/i.html", []string{basicAuth("plain", "wrong")}, 401},
			{"auth_delay: a right password is not delayed", "/delay/i.html", []string{basicAuth("plain", "secret")}, 200},
		} {
			if r := get(tc.path, tc.extra...); r.Status != tc.status {
				t.Errorf("%s: got\n%s", tc.name, r)
			}
		}
		r := sendRaw(t, p.addr, "POST /put/i.html HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		if r.Status != 401 || r.header("WWW-Authenticate") != `Basic realm="writers"` {
			t.Errorf("limit_except: a POST without credentials:\n%s", r)
		}
		log := p.readLog("error.log")
		for _, want := range []string{`user "plain": password mismatch`, `user "nobody" was not found in "`, "delaying unauthorized request"} {
			if !strings.Contains(log, want) {
				t.Errorf("the error log has no %q", want)
			}
		}
	})
}
