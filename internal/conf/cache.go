package conf

import (
	"fmt"
	"strings"
	"time"

	"headroom/internal/vars"
)

// CachePath is one proxy_cache_path: the directory a cache keeps its
// answers in and the keys zone that names it.
type CachePath struct {
	Path string
	// Levels are the subdirectory levels (1 or 2 characters each, at
	// most three), taken from the end of a file's name.
	Levels []int
	// UseTempPath writes answers being stored in proxy_temp_path first
	// (nginx's default); off writes them in the cache directory.
	UseTempPath bool
	Zone        string
	// ZoneSize is the keys zone's size, which bounds how many keys the
	// cache keeps (about 8,000 per megabyte, as nginx's zone holds).
	ZoneSize int64
	// Inactive removes answers nobody asked for in this long, fresh or
	// not; MaxSize bounds the directory's size (0: no bound), the least
	// recently used answers going first.
	Inactive time.Duration
	MaxSize  int64
	// MinFree is the free space the cache leaves on its file system:
	// below it the least recently used answers go.
	MinFree int64
	File    string
	Line    int
}

// CacheValid is one proxy_cache_valid entry: answers with Status (0 for
// any) are fresh for Valid.
type CacheValid struct {
	Status int
	Valid  time.Duration
}

// ProxyCache holds a level's proxy cache settings.
type ProxyCache struct {
	// Path is the cache proxy_cache names; nil when off. PathVar is a
	// name with variables instead, read per request (empty or "off":
	// no cache).
	Path    *CachePath
	PathVar *vars.Template
	// Key is proxy_cache_key, by default $scheme$proxy_host$request_uri.
	Key *vars.Template
	// Valid are the proxy_cache_valid entries in order: the first
	// that names an answer's status (or any) gives its lifetime.
	Valid []CacheValid
	// Methods are the methods whose answers are cached; GET and HEAD
	// always are.
	Methods map[string]bool
	// MinUses is how many requests for a key come before its answer is
	// stored.
	MinUses int
	// Bypass and NoCache are proxy_cache_bypass and proxy_no_cache:
	// when one of their values is neither empty nor "0", the cache is
	// not read, or the answer not stored.
	Bypass  []*vars.Template
	NoCache []*vars.Template
	// ConvertHead sends a HEAD request upstream as GET, so that the
	// answer can be stored for both.
	ConvertHead bool
	// MaxRangeOffset: a range request starting beyond it is passed
	// upstream and its answer not stored; -1 for no limit.
	MaxRangeOffset int64
	// Lock lets one request at a time fetch a key's missing answer;
	// the others wait up to LockTimeout for it, and a lock older than
	// LockAge is taken over.
	Lock        bool
	LockTimeout time.Duration
	LockAge     time.Duration
	// UseStale are proxy_cache_use_stale's conditions, in
	// proxy_next_upstream's bits, under which an expired answer is sent
	// instead of the upstream's error; StaleUpdating sends it while
	// another request fetches the key's new answer.
	UseStale      NextUpstream
	StaleUpdating bool
	// Revalidate asks the upstream whether an expired answer still
	// holds (If-Modified-Since, If-None-Match) and keeps it on a 304.
	Revalidate bool
	// BackgroundUpdate sends an expired answer that may be sent while
	// it is updated (StaleUpdating, stale-while-revalidate) and fetches
	// its successor after it.
	BackgroundUpdate bool
}

// CacheStaleUpdating marks proxy_cache_use_stale's "updating" among the
// conditions as read, before the merge moves it to StaleUpdating.
const cacheStaleUpdating NextUpstream = 1 << 14

// DefaultCacheKey is nginx's proxy_cache_key when none is set.
const DefaultCacheKey = "$scheme$proxy_host$request_uri"

// cacheRaw is what a level sets of the proxy cache.
type cacheRaw struct {
	path           *CachePath
	pathOff        bool
	pathNode       *Node
	pathName       string
	pathVar        *vars.Template
	key            *vars.Template
	valid          []CacheValid
	methods        map[string]bool
	minUses        *int
	bypass         []*vars.Template
	noCache        []*vars.Template
	convertHead    *bool
	maxRangeOffset *int64
	lock           *bool
	lockTimeout    *time.Duration
	lockAge        *time.Duration
	useStale       *NextUpstream
	revalidate     *bool
	background     *bool
}

// cacheMethods are the methods proxy_cache_methods may name, as in
// nginx.
var cacheMethods = setOf("GET HEAD POST")

// defaultValidStatuses are the statuses a proxy_cache_valid without
// codes applies to.
var defaultValidStatuses = []int{200, 301, 302}

func cacheDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "proxy_cache_path", ctx: ctxHTTP, args: arg2More, set: setProxyCachePath,
			syntax: "proxy_cache_path path [levels=levels] [use_temp_path=on|off] keys_zone=name:size [inactive=time] [max_size=size] [min_free=size] [manager_files=number] [manager_sleep=time] [manager_threshold=time] [loader_files=number] [loader_sleep=time] [loader_threshold=time];",
			doc:    "Defines a cache: its directory (with up to three levels of subdirectories of 1 or 2 characters, taken from the end of the key's MD5 in hexadecimal, as in nginx), and the keys zone that names it and bounds how many keys it keeps (about 8,000 per megabyte). Answers nobody asked for within inactive (10m) are removed, and beyond max_size, or with less than min_free left free on the cache's file system, the least recently used go first (checked as answers are stored). Answers written before a restart or reload are found on disk when first asked for; an answer that was not asked for since is counted toward max_size only then. The manager_* and loader_* parameters are accepted with their values checked: they pace nginx's cache manager and loader processes, which headroom does not have."},
		{name: "proxy_cache", ctx: hsl, args: arg1, set: setProxyCache,
			syntax: "proxy_cache zone | off;", def: "off",
			doc: "Answers requests from the named cache (with variables: the cache their value names, none when it is empty or off, 500 for an unknown name) and stores cacheable upstream answers in it. An answer's lifetime comes from its X-Accel-Expires, Cache-Control (max-age, s-maxage; no-cache, no-store and private keep it out) and Expires fields, unless proxy_ignore_headers ignores them, else from proxy_cache_valid; an answer with Set-Cookie or \"Vary: *\" is not stored. Answers from the cache go through the not-modified and range filters. $upstream_cache_status tells MISS, BYPASS, EXPIRED or HIT. While a location caches, the conditional and range fields of a request are not passed upstream, as nginx's defaults say."},
		{name: "proxy_cache_key", ctx: hsl, args: arg1, set: setProxyCacheKey,
			syntax: "proxy_cache_key string;", def: DefaultCacheKey,
			doc: "Sets the key an answer is stored under; its MD5 names the file."},
		{name: "proxy_cache_valid", ctx: hsl, args: arg1More, set: setProxyCacheValid,
			syntax: "proxy_cache_valid [code ...] time;",
			doc:    "Sets how long answers with the given statuses (any for all; 200, 301 and 302 when none is named) stay fresh, for answers whose fields do not say. The first entry naming a status wins. Inherited only by levels with none of their own."},
		{name: "proxy_cache_methods", ctx: hsl, args: arg1More, set: setProxyCacheMethods,
			syntax: "proxy_cache_methods GET | HEAD | POST ...;", def: "GET HEAD",
			doc: "Sets the methods whose answers are cached; GET and HEAD always are."},
		{name: "proxy_cache_min_uses", ctx: hsl, args: arg1, set: setProxyCacheMinUses,
			syntax: "proxy_cache_min_uses number;", def: "1",
			doc: "Stores a key's answer only once it was asked for this many times while the key stayed in the keys zone."},
		{name: "proxy_cache_bypass", ctx: hsl, args: arg1More, set: setCachePredicate(func(r *cacheRaw) *[]*vars.Template { return &r.bypass }),
			syntax: "proxy_cache_bypass string ...;",
			doc:    "Answers from the upstream, not the cache, when a value is neither empty nor \"0\"; the answer may still be stored."},
		{name: "proxy_no_cache", ctx: hsl, args: arg1More, set: setCachePredicate(func(r *cacheRaw) *[]*vars.Template { return &r.noCache }),
			syntax: "proxy_no_cache string ...;",
			doc:    "Does not store the answer when a value is neither empty nor \"0\"."},
		{name: "proxy_cache_convert_head", ctx: hsl, args: argFlag, set: cacheFlag(func(r *cacheRaw) **bool { return &r.convertHead }),
			syntax: "proxy_cache_convert_head on | off;", def: "on",
			doc: "Sends a HEAD request that may be cached upstream as GET, so that its answer is stored whole and serves later GETs too."},
		{name: "proxy_cache_lock", ctx: hsl, args: argFlag, set: cacheFlag(func(r *cacheRaw) **bool { return &r.lock }),
			syntax: "proxy_cache_lock on | off;", def: "off",
			doc: "Lets one request at a time fetch an answer the cache does not have: others for the same key wait for it to be stored (checking every 500 ms, as nginx does), then get it from the cache; after proxy_cache_lock_timeout they go upstream and their answers are not stored."},
		{name: "proxy_cache_lock_timeout", ctx: hsl, args: arg1, set: cacheTime(func(r *cacheRaw) **time.Duration { return &r.lockTimeout }),
			syntax: "proxy_cache_lock_timeout time;", def: "5s",
			doc: "Sets how long a request waits for another's lock."},
		{name: "proxy_cache_lock_age", ctx: hsl, args: arg1, set: cacheTime(func(r *cacheRaw) **time.Duration { return &r.lockAge }),
			syntax: "proxy_cache_lock_age time;", def: "5s",
			doc: "A lock held this long without the answer being stored lets one more request go upstream."},
		{name: "proxy_cache_use_stale", ctx: hsl, args: arg1More, set: setProxyCacheUseStale,
			syntax: "proxy_cache_use_stale error | timeout | invalid_header | updating | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | off ...;", def: "off",
			doc: "Sends an expired answer (STALE) when its upstream fails in one of these ways and no other server is left to try; with updating, requests for a key whose new answer another request is fetching get the expired one (UPDATING). An answer's Cache-Control stale-while-revalidate=N does the same for N seconds past its lifetime, and stale-if-error=N (or stale-while-revalidate) sends it when its upstream fails to answer (not when it answers with an error status), as in nginx 1.22."},
		{name: "proxy_cache_revalidate", ctx: hsl, args: argFlag, set: cacheFlag(func(r *cacheRaw) **bool { return &r.revalidate }),
			syntax: "proxy_cache_revalidate on | off;", def: "off",
			doc: "Asks the upstream about an expired answer with If-Modified-Since and If-None-Match (its Last-Modified and ETag); a 304 keeps the stored answer for a new lifetime (REVALIDATED)."},
		{name: "proxy_cache_background_update", ctx: hsl, args: argFlag, set: cacheFlag(func(r *cacheRaw) **bool { return &r.background }),
			syntax: "proxy_cache_background_update on | off;", def: "off",
			doc: "Sends an expired answer that may be sent while it is updated (proxy_cache_use_stale updating, or within its stale-while-revalidate) to the request that would fetch its successor (STALE), and fetches the successor once that answer is sent, as nginx's background subrequest: the connection's next request waits for it. Over HTTP/2 the request fetches the successor first, as without it."},
		{name: "proxy_cache_max_range_offset", ctx: hsl, args: arg1, set: setProxyCacheMaxRangeOffset,
			syntax: "proxy_cache_max_range_offset number;",
			doc:    "A range request that starts beyond this offset goes upstream with its Range field and its answer is not stored."},
	}
}

func setProxyCachePath(b *builder, n *Node, sc *scope) error {
	name := n.Args[0]
	if len(name) > 1 && strings.HasSuffix(name, "/") {
		name = name[:len(name)-1]
	}
	p := &CachePath{Path: fullPath(b.cfg.Prefix, name), UseTempPath: true, Inactive: 10 * time.Minute, File: n.File, Line: n.Line}
	for _, a := range n.Args[1:] {
		param, value, _ := strings.Cut(a, "=")
		switch param {
		case "levels":
			if !strings.Contains(a, "=") {
				return errAt(n, "invalid parameter \"%s\"", a)
			}
			levels, ok := parseCacheLevels(value)
			if !ok {
				return errAt(n, "invalid \"levels\" \"%s\"", a)
			}
			p.Levels = levels
		case "use_temp_path":
			switch value {
			case "on":
				p.UseTempPath = true
			case "off":
				p.UseTempPath = false
			default:
				return errAt(n, "invalid use_temp_path value \"%s\", it must be \"on\" or \"off\"", a)
			}
		case "keys_zone":
			zone, sizeText, ok := strings.Cut(value, ":")
			size, sizeOK := parseSize(sizeText)
			if !ok || !sizeOK {
				return errAt(n, "invalid keys zone size \"%s\"", a)
			}
			if size < 8192 {
				return errAt(n, "keys zone \"%s\" is too small", a)
			}
			p.Zone, p.ZoneSize = zone, size
		case "inactive":
			d, ok := parseTime(value, true)
			if !ok {
				return errAt(n, "invalid inactive value \"%s\"", a)
			}
			p.Inactive = d
		case "max_size":
			v, ok := parseOffset(value)
			if !ok {
				return errAt(n, "invalid max_size value \"%s\"", a)
			}
			p.MaxSize = v
		case "min_free":
			v, ok := parseOffset(value)
			if !ok {
				return errAt(n, "invalid min_free value \"%s\"", a)
			}
			p.MinFree = v
		case "loader_files", "manager_files":
			if v, ok := atoi(value); !ok || v <= 0 {
				return errAt(n, "invalid %s value \"%s\"", param, a)
			}
		case "loader_sleep", "manager_sleep", "loader_threshold", "manager_threshold":
			if _, ok := parseTime(value, false); !ok {
				return errAt(n, "invalid %s value \"%s\"", param, a)
			}
		default:
			return errAt(n, "invalid parameter \"%s\"", a)
		}
	}
	if p.Zone == "" || p.ZoneSize == 0 {
		return errAt(n, "\"%s\" must have \"keys_zone\" parameter", n.Name)
	}
	if b.cachePaths == nil {
		b.cachePaths = map[string]*CachePath{}
	}
	if _, dup := b.cachePaths[p.Zone]; dup {
		return errAt(n, "duplicate zone \"%s\"", p.Zone)
	}
	if err := b.declareZone(n, p.Zone, "proxy_cache"); err != nil {
		return err
	}
	for _, e := range b.paths {
		if e.path.Path == p.Path {
			// nginx reports this one without a position of its own.
			return &Error{Msg: fmt.Sprintf("the same path name \"%s\" used in %s and in %s:%d", p.Path, e.where(), n.File, n.Line)}
		}
	}
	if err := b.addPath(n, TempPath{Path: p.Path, Levels: p.Levels}); err != nil {
		return err
	}
	b.cachePaths[p.Zone] = p
	return nil
}

// parseCacheLevels reads "1:2": one to three levels of 1 or 2
// characters.
func parseCacheLevels(v string) ([]int, bool) {
	parts := strings.Split(v, ":")
	if len(parts) > 3 {
		return nil, false
	}
	levels := make([]int, 0, len(parts))
	for _, p := range parts {
		if p != "1" && p != "2" {
			return nil, false
		}
		levels = append(levels, int(p[0]-'0'))
	}
	return levels, true
}

func setProxyCache(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	if c.pathNode != nil {
		return duplicate(n)
	}
	c.pathNode = n
	if n.Args[0] == "off" {
		c.pathOff = true
		return nil
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	if !t.IsLiteral() {
		c.pathVar = t
		return nil
	}
	c.pathName = n.Args[0]
	return nil
}

func setProxyCacheKey(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	if c.key != nil {
		return duplicate(n)
	}
	t, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	c.key = t
	return nil
}

func setProxyCacheValid(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	last := len(n.Args) - 1
	valid, ok := parseTime(n.Args[last], true)
	if !ok {
		return errAt(n, "invalid time value \"%s\"", n.Args[last])
	}
	if last == 0 {
		for _, s := range defaultValidStatuses {
			c.valid = append(c.valid, CacheValid{Status: s, Valid: valid})
		}
		return nil
	}
	for _, a := range n.Args[:last] {
		status := 0
		if a != "any" {
			v, ok := atoi(a)
			if !ok || v < 100 || v > 599 {
				return errAt(n, "invalid status \"%s\"", a)
			}
			status = v
		}
		c.valid = append(c.valid, CacheValid{Status: status, Valid: valid})
	}
	return nil
}

func setProxyCacheMethods(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	if c.methods == nil {
		c.methods = map[string]bool{}
	}
	for _, a := range n.Args {
		m := strings.ToUpper(a)
		if !cacheMethods[m] {
			return errAt(n, "invalid value \"%s\"", a)
		}
		if c.methods[m] {
			b.warn(errAt(n, "duplicate value \"%s\"", a))
		}
		c.methods[m] = true
	}
	return nil
}

func setProxyCacheMinUses(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	if c.minUses != nil {
		return duplicate(n)
	}
	v, ok := atoi(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid number", n.Name)
	}
	c.minUses = &v
	return nil
}

func setProxyCacheMaxRangeOffset(b *builder, n *Node, sc *scope) error {
	c := &sc.raw.cache
	if c.maxRangeOffset != nil {
		return duplicate(n)
	}
	v, ok := parseOffset(n.Args[0])
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	c.maxRangeOffset = &v
	return nil
}

// setCachePredicate makes a handler for proxy_cache_bypass and
// proxy_no_cache, whose values add up over the directives of a level.
func setCachePredicate(field func(*cacheRaw) *[]*vars.Template) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		list := field(&sc.raw.cache)
		for _, a := range n.Args {
			t, err := b.template(n, a)
			if err != nil {
				return err
			}
			*list = append(*list, t)
		}
		return nil
	}
}

// setProxyCacheUseStale reads proxy_cache_use_stale as nginx reads its
// bit masks: the directive adds up at a level, a repeated value is a
// warning, and off anywhere means none.
func setProxyCacheUseStale(b *builder, n *Node, sc *scope) error {
	var set NextUpstream
	c := &sc.raw.cache
	if c.useStale != nil {
		set = *c.useStale
	}
	for _, a := range n.Args {
		bit, ok := nextUpstreamNames[strings.ToLower(a)]
		if strings.EqualFold(a, "updating") {
			bit, ok = cacheStaleUpdating, true
		}
		if !ok {
			return errAt(n, "invalid value \"%s\"", a)
		}
		if set&bit != 0 {
			b.warn(errAt(n, "duplicate value \"%s\"", a))
		}
		set |= bit
	}
	c.useStale = &set
	return nil
}

// cacheTime makes a handler for a time in milliseconds (nginx's
// ngx_conf_set_msec_slot).
func cacheTime(field func(*cacheRaw) **time.Duration) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.cache)
		if *p != nil {
			return duplicate(n)
		}
		d, ok := parseTime(n.Args[0], false)
		if !ok {
			return errAt(n, "\"%s\" directive invalid value", n.Name)
		}
		*p = &d
		return nil
	}
}

// cacheFlag makes an on|off handler for a proxy cache setting.
func cacheFlag(field func(*cacheRaw) **bool) func(*builder, *Node, *scope) error {
	return func(b *builder, n *Node, sc *scope) error {
		p := field(&sc.raw.cache)
		if *p != nil {
			return duplicate(n)
		}
		v, err := onOff(n)
		if err != nil {
			return err
		}
		*p = &v
		return nil
	}
}

// resolveCache finds the cache a level's proxy_cache names, once every
// proxy_cache_path is known.
func (b *builder) resolveCache(c *cacheRaw) error {
	if c.pathName == "" {
		return nil
	}
	p := b.cachePaths[c.pathName]
	if p == nil {
		return errAt(c.pathNode, "\"proxy_cache\" zone \"%s\" is unknown", c.pathName)
	}
	c.path = p
	return nil
}

// mergeCache inherits the proxy cache settings as nginx's proxy module
// merges them: each setting from the nearest level that sets it.
func mergeCache(r *cacheRaw, p ProxyCache) ProxyCache {
	c := p
	if r.pathNode != nil {
		c.Path, c.PathVar = r.path, r.pathVar
		if r.pathOff {
			c.Path = nil
		}
	}
	if r.key != nil {
		c.Key = r.key
	}
	if r.valid != nil {
		c.Valid = r.valid
	}
	if r.methods != nil {
		c.Methods = map[string]bool{"GET": true, "HEAD": true}
		for m := range r.methods {
			c.Methods[m] = true
		}
	}
	c.MinUses = pick(r.minUses, p.MinUses)
	if r.bypass != nil {
		c.Bypass = r.bypass
	}
	if r.noCache != nil {
		c.NoCache = r.noCache
	}
	c.ConvertHead = pick(r.convertHead, p.ConvertHead)
	c.MaxRangeOffset = pick(r.maxRangeOffset, p.MaxRangeOffset)
	c.Lock = pick(r.lock, p.Lock)
	c.LockTimeout = pick(r.lockTimeout, p.LockTimeout)
	c.LockAge = pick(r.lockAge, p.LockAge)
	if r.useStale != nil {
		set := *r.useStale
		c.UseStale, c.StaleUpdating = 0, false
		if set&nextOff == 0 {
			c.StaleUpdating = set&cacheStaleUpdating != 0
			c.UseStale = set &^ cacheStaleUpdating
		}
	}
	c.Revalidate = pick(r.revalidate, p.Revalidate)
	c.BackgroundUpdate = pick(r.background, p.BackgroundUpdate)
	return c
}

// defaultCache is what the http level inherits: nginx's defaults.
func defaultCache() ProxyCache {
	return ProxyCache{
		Key:            mustTemplate(DefaultCacheKey),
		Methods:        map[string]bool{"GET": true, "HEAD": true},
		MinUses:        1,
		ConvertHead:    true,
		MaxRangeOffset: -1,
		LockTimeout:    5 * time.Second,
		LockAge:        5 * time.Second,
	}
}

// Caches reports the caches the configuration defines, by zone.
func (h *HTTP) Caches() []*CachePath {
	out := make([]*CachePath, 0, len(h.CachePaths))
	for _, name := range sortedKeys(h.CachePaths) {
		out = append(out, h.CachePaths[name])
	}
	return out
}

// String shows a cache as proxy_cache_path would say it.
func (p *CachePath) String() string {
	return fmt.Sprintf("%s keys_zone=%s:%d inactive=%s max_size=%d min_free=%d use_temp_path=%v", tempPath(TempPath{Path: p.Path, Levels: p.Levels}), p.Zone, p.ZoneSize, p.Inactive, p.MaxSize, p.MinFree, p.UseTempPath)
}
