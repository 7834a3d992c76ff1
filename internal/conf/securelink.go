package conf

import "headroom/internal/vars"

// SecureLink holds nginx's secure_link module settings: Link evaluates to
// "hash[,expires]" whose hash must be the base64url MD5 of MD5's value,
// or, with Secret (secure_link_secret), the URI carries the hex MD5 of the
// link and the secret.
type SecureLink struct {
	Link   *vars.Template
	MD5    *vars.Template
	Secret string
}

// secureLinkRaw is what one level sets.
type secureLinkRaw struct {
	link   *vars.Template
	md5    *vars.Template
	secret *string
}

func secureLinkDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "secure_link", ctx: hsl, args: arg1, set: secureLinkSlot(func(r *secureLinkRaw) **vars.Template { return &r.link }),
			syntax: "secure_link expression;",
			doc:    "Names the hash (and, after a comma, the expiry time) a link carries; $secure_link is then 1 for a link whose hash is the base64url MD5 of secure_link_md5's value, 0 for one that expired, empty otherwise; $secure_link_expires is the expiry time."},
		{name: "secure_link_md5", ctx: hsl, args: arg1, set: secureLinkSlot(func(r *secureLinkRaw) **vars.Template { return &r.md5 }),
			syntax: "secure_link_md5 expression;",
			doc:    "The value whose MD5 a secure link's hash must be."},
		{name: "secure_link_secret", ctx: ctxLocation, args: arg1, set: setSecureLinkSecret,
			syntax: "secure_link_secret word;",
			doc:    "The older form: the URI is /prefix/HASH/link, and $secure_link is the link when HASH is the hex MD5 of the link and the word, empty otherwise."},
	}
}

func secureLinkSlot(field func(*secureLinkRaw) **vars.Template) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.secureLink)
		if *p != nil {
			return duplicate(n)
		}
		if sc.raw.secureLink.secret != nil {
			return errAt(n, "%s", secureLinkMixed)
		}
		t, err := b.template(n, n.Args[0])
		if err != nil {
			return err
		}
		*p = t
		return nil
	}
}

func setSecureLinkSecret(b *builder, n *Node, sc *scope) error {
	if sc.raw.secureLink.secret != nil {
		return duplicate(n)
	}
	if sc.raw.secureLink.link != nil || sc.raw.secureLink.md5 != nil {
		return errAt(n, "%s", secureLinkMixed)
	}
	v := n.Args[0]
	sc.raw.secureLink.secret = &v
	return nil
}

// secureLinkMixed is nginx's complaint about both forms at one level.
const secureLinkMixed = "\"secure_link_secret\" cannot be mixed with \"secure_link\" and \"secure_link_md5\""

// mergeSecureLink is nginx's merge: a level with secure_link_secret has
// that form only; otherwise secure_link and secure_link_md5 are
// inherited, and the secret too when neither is set.
func mergeSecureLink(r *secureLinkRaw, p SecureLink) SecureLink {
	if r.secret != nil {
		return SecureLink{Secret: *r.secret}
	}
	c := SecureLink{Link: inherit(r.link, p.Link), MD5: inherit(r.md5, p.MD5)}
	if c.Link == nil && c.MD5 == nil {
		c.Secret = p.Secret
	}
	return c
}
