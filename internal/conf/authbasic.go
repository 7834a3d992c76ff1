package conf

import (
	"path/filepath"
	"strings"

	"headroom/internal/vars"
)

// AuthBasic holds auth_basic's settings: a realm and a user file of
// "name:password" lines, both of which may hold variables.
type AuthBasic struct {
	// Realm is auth_basic's value; nil, or a value that comes out as
	// "off", turns the check off.
	Realm *vars.Template
	// UserFile is auth_basic_user_file; nil turns the check off too, as
	// in nginx. A path that comes out relative is taken from ConfDir,
	// the directory of the main configuration file (nginx's conf
	// prefix).
	UserFile *vars.Template
	ConfDir  string
}

// authBasicRaw is what one level sets of auth_basic's settings.
type authBasicRaw struct {
	realm    *vars.Template
	userFile *vars.Template
	confDir  string
}

func authBasicDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "auth_basic", ctx: hsl | ctxLimitExcept, args: arg1, set: setAuthBasic,
			syntax: "auth_basic string | off;", def: "off",
			doc: "Asks for a user name and password (HTTP Basic authentication, the string as the realm) checked against auth_basic_user_file; a request without them, with an unknown user or a wrong password is answered 401 with WWW-Authenticate. Runs after the allow and deny rules and before auth_request (see satisfy)."},
		{name: "auth_basic_user_file", ctx: hsl | ctxLimitExcept, args: arg1, set: setAuthBasicUserFile,
			syntax: "auth_basic_user_file file;",
			doc:    "Names the file of \"name:password\" lines (# starts a comment), read on every request as nginx reads it. Passwords may be {PLAIN}, {SHA}, {SSHA}, $apr1$, or what the system's crypt(3) makes: $1$ (MD5), $5$ and $6$ (SHA-256 and SHA-512), $2a$, $2b$ and $2y$ (bcrypt) and traditional DES. A missing file answers 403."},
	}
}

func setAuthBasic(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.authBasic
	if a.realm != nil {
		return duplicate(n)
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	a.realm = t
	return nil
}

func setAuthBasicUserFile(b *builder, n *Node, sc *scope) error {
	a := &sc.raw.authBasic
	if a.userFile != nil {
		return duplicate(n)
	}
	// As nginx, the conf prefix goes before a relative path when the
	// configuration is read unless the path starts with a variable,
	// whose value gets it as the request evaluates it.
	v := n.Args[0]
	if !strings.HasPrefix(v, "$") {
		v = fullPath(b.confDir(), v)
	}
	t, err := b.template(n, v)
	if err != nil {
		return err
	}
	a.userFile, a.confDir = t, b.confDir()
	return nil
}

// confDir is nginx's conf prefix: the directory of the main
// configuration file, or the prefix for a configuration given as text.
func (b *builder) confDir() string {
	if filepath.IsAbs(b.cfg.File) {
		return filepath.Dir(b.cfg.File)
	}
	return b.cfg.Prefix
}

func mergeAuthBasic(r *authBasicRaw, p AuthBasic) AuthBasic {
	a := p
	if r.realm != nil {
		a.Realm = r.realm
	}
	if r.userFile != nil {
		a.UserFile, a.ConfDir = r.userFile, r.confDir
	}
	return a
}
