package conf

// balanceDirectives declares nginx's load balancing methods for upstream
// groups (the least_conn, ip_hash, hash and random modules). Like nginx,
// each one sets which server parameters the group accepts from then on:
// "backup" only with round robin and least_conn, so a backup server
// written before ip_hash, hash or random is accepted, and one written
// after is an error.
func balanceDirectives() []*directive {
	return []*directive{
		{name: "least_conn", ctx: ctxUpstream, args: argNone, set: setLeastConn,
			syntax: "least_conn;",
			doc:    "Passes a request to the server with the fewest active connections relative to its weight, by nginx's weighted round robin among equals. Connections are counted per worker, as nginx counts them without a shared zone. Write it before keepalive: as in nginx, a balancing method after keepalive turns the cache off (\"load balancing method redefined\")."},
		{name: "ip_hash", ctx: ctxUpstream, args: argNone, set: setIPHash,
			syntax: "ip_hash;",
			doc:    "Chooses the server by the client's address (the first three octets of an IPv4 address, the whole of an IPv6 one) with nginx's hash, so that a client keeps its server while it is available; after 20 unusable picks round robin decides. A backup server after it is an error, as in nginx. Write it before keepalive, as in nginx."},
		{name: "hash", ctx: ctxUpstream, args: take12, set: setHash,
			syntax: "hash key [consistent];",
			doc:    "Chooses the server by a key that may contain variables, with nginx's CRC32 arithmetic; consistent uses ketama consistent hashing (160 points per unit of weight), so that adding or removing a server moves few keys. An empty key, and 20 unusable picks, fall back to round robin. A backup server after it is an error, as in nginx. Write it before keepalive, as in nginx."},
		{name: "random", ctx: ctxUpstream, args: argNone | take12, set: setRandom,
			syntax: "random [two [least_conn]];",
			doc:    "Chooses a server at random by weight; with two, draws two and takes the one with fewer connections (least_conn, the only method, is the default). Connections are counted per worker. A backup server after it is an error, as in nginx. Write it before keepalive, as in nginx."},
	}
}

// setBalance records a balancing method as nginx's handlers do: a second
// method, or one after keepalive (whose handler nginx installs the same
// way), is only a warning and replaces what came before. Replacing
// keepalive's handler is how nginx loses the connection cache in that
// order, so the cache is turned off here too.
func setBalance(b *builder, n *Node, sc *scope, m BalanceMethod, backup bool) {
	u := sc.ups
	if u.method || u.up.Keepalive > 0 {
		b.warn(errAt(n, "load balancing method redefined"))
	}
	u.method = true
	u.noBackup = !backup
	u.up.Keepalive = 0
	u.up.Balance = m
	u.up.HashKey, u.up.Consistent, u.up.RandomTwo = nil, false, false
}

func setLeastConn(b *builder, n *Node, sc *scope) error {
	setBalance(b, n, sc, BalanceLeastConn, true)
	return nil
}

func setIPHash(b *builder, n *Node, sc *scope) error {
	setBalance(b, n, sc, BalanceIPHash, false)
	return nil
}

// setHash reads "hash key [consistent]". nginx compiles the key before
// anything else, so an error in it comes before the redefinition warning.
func setHash(b *builder, n *Node, sc *scope) error {
	key, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	setBalance(b, n, sc, BalanceHash, false)
	sc.ups.up.HashKey = key
	if len(n.Args) == 2 {
		if n.Args[1] != "consistent" {
			return errAt(n, "invalid parameter \"%s\"", n.Args[1])
		}
		sc.ups.up.Consistent = true
	}
	return nil
}

// setRandom reads "random [two [least_conn]]"; the words are
// case-sensitive, as in nginx.
func setRandom(b *builder, n *Node, sc *scope) error {
	setBalance(b, n, sc, BalanceRandom, false)
	if len(n.Args) == 0 {
		return nil
	}
	if n.Args[0] != "two" {
		return errAt(n, "invalid parameter \"%s\"", n.Args[0])
	}
	sc.ups.up.RandomTwo = true
	if len(n.Args) == 2 && n.Args[1] != "least_conn" {
		return errAt(n, "invalid parameter \"%s\"", n.Args[1])
	}
	return nil
}
