package conf

import (
	"strings"
	"time"

	"headroom/internal/vars"
)

// Symlinks is disable_symlinks: whether the symbolic links on the way to
// a file are followed when the file is opened for a request.
type Symlinks uint8

// The values of disable_symlinks.
const (
	// SymlinksOff follows every link, as open(2) does.
	SymlinksOff Symlinks = iota
	// SymlinksOn refuses a path any of whose components is a link.
	SymlinksOn
	// SymlinksIfNotOwner refuses a link whose owner is not the owner of
	// what it points to.
	SymlinksIfNotOwner
)

// symlinksNames are disable_symlinks' modes, compared as nginx compares
// them (case matters).
var symlinksNames = map[string]Symlinks{"off": SymlinksOff, "on": SymlinksOn, "if_not_owner": SymlinksIfNotOwner}

// String names the mode as the directive writes it.
func (s Symlinks) String() string {
	for name, v := range symlinksNames {
		if v == s {
			return name
		}
	}
	return "?"
}

// OpenFileCache is open_file_cache: each worker keeps up to Max entries
// about the files requests open (their descriptors, sizes, modification
// times, whether they exist or are directories, and with
// open_file_cache_errors the errors of opening them), dropping one not
// used for Inactive. Every directive is a cache of its own, shared by the
// levels that inherit it, as nginx's cache object is.
type OpenFileCache struct {
	Max      int
	Inactive time.Duration
}

// DefaultOpenFileCacheValid and DefaultOpenFileCacheMinUses are nginx's
// open_file_cache_valid and open_file_cache_min_uses.
const (
	DefaultOpenFileCacheValid   = 60 * time.Second
	DefaultOpenFileCacheMinUses = 1
)

// openFileDirectives declares disable_symlinks and the open_file_cache
// family, which nginx's core module has and which apply wherever a
// request opens or tests a file: the static handler, index, try_files,
// gzip_static, the rewrite module's file tests and access logs with
// variables in their paths.
func openFileDirectives() []*directive {
	const hsl = ctxHTTP | ctxServer | ctxLocation
	return []*directive{
		{name: "disable_symlinks", ctx: hsl, args: take12, set: setDisableSymlinks,
			syntax: "disable_symlinks off | on | if_not_owner [from=part];", def: "off",
			doc: "Refuses a file whose path goes through a symbolic link (on), or through a link whose owner is not the owner of its target (if_not_owner), wherever a request opens or tests a file (static files, index, try_files, gzip_static, if -f, access logs with variables): the path is opened one component at a time with openat(2), as nginx does, so a link named last is 403 and one on the way to it 404 (not a directory). With from= (variables allowed, e.g. $document_root) the part of the path it names is not checked; a path equal to it is not checked at all."},
		{name: "open_file_cache", ctx: hsl, args: take12, set: setOpenFileCache,
			syntax: "open_file_cache off | max=N [inactive=time];", def: "off",
			doc: "Keeps, per worker, up to max entries about files requests opened: their descriptors, sizes and modification times, whether they exist or are directories, and (with open_file_cache_errors) why they could not be opened. An entry not used for inactive (60s) is dropped, the least recently used one when max is reached. The descriptors it keeps open are counted against the open file limit beyond the connection slots, max per worker for each open_file_cache."},
		{name: "open_file_cache_valid", ctx: hsl, args: arg1, set: setOpenFileCacheValid,
			syntax: "open_file_cache_valid time;", def: "60s",
			doc: "Sets how long an open_file_cache entry is used before the file is examined again."},
		{name: "open_file_cache_min_uses", ctx: hsl, args: arg1, set: numSlot(func(r *rawLoc) **int { return &r.static.openFileCacheMinUses }),
			syntax: "open_file_cache_min_uses number;", def: "1",
			doc: "Sets how many times a file must be used within open_file_cache's inactive for its descriptor to stay open after the request ends."},
		{name: "open_file_cache_errors", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.openFileCacheErrors }),
			syntax: "open_file_cache_errors on | off;", def: "off",
			doc: "Caches the errors of opening files (not found, forbidden, a refused symbolic link) in open_file_cache too."},
		{name: "open_file_cache_events", ctx: hsl, args: argFlag, set: flagSlot(func(r *rawLoc) **bool { return &r.static.openFileCacheEvents }),
			syntax: "open_file_cache_events on | off;", def: "off",
			doc: "Accepted and, as in nginx on Linux, without effect: nginx watches cached files with kqueue's vnode events only, which epoll lacks, so entries are examined again after open_file_cache_valid."},
	}
}

// setDisableSymlinks reads disable_symlinks with nginx's checks and
// messages (ngx_http_disable_symlinks).
func setDisableSymlinks(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.disableSymlinks != nil {
		return duplicate(n)
	}
	var mode *Symlinks
	var from *vars.Template
	fromSet := false
	for _, a := range n.Args {
		if v, ok := symlinksNames[a]; ok {
			mode = &v
			continue
		}
		if rest, ok := strings.CutPrefix(a, "from="); ok {
			t, err := b.template(n, rest)
			if err != nil {
				return err
			}
			from, fromSet = t, true
			continue
		}
		return errAt(n, "invalid parameter \"%s\"", a)
	}
	if mode == nil {
		return errAt(n, "\"%s\" must have \"off\", \"on\" or \"if_not_owner\" parameter", n.Name)
	}
	if len(n.Args) == 2 {
		if !fromSet {
			return errAt(n, "duplicate parameters \"%s %s\"", n.Args[0], n.Args[1])
		}
		if *mode == SymlinksOff {
			return errAt(n, "\"from=\" cannot be used with \"off\" parameter")
		}
	}
	s.disableSymlinks, s.symlinksFrom = mode, from
	return nil
}

// setOpenFileCache reads open_file_cache with nginx's defaults
// (inactive=60s) and messages (ngx_http_core_open_file_cache): "off"
// anywhere turns the cache off once every parameter has been checked.
func setOpenFileCache(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.openFileCacheSet {
		return duplicate(n)
	}
	c := &OpenFileCache{Inactive: 60 * time.Second}
	off := false
	for _, a := range n.Args {
		ok := true
		if v, found := strings.CutPrefix(a, "max="); found {
			c.Max, ok = atoi(v)
			ok = ok && c.Max > 0
		} else if v, found := strings.CutPrefix(a, "inactive="); found {
			c.Inactive, ok = parseTime(v, true)
		} else if a == "off" {
			off = true
		} else {
			ok = false
		}
		if !ok {
			return errAt(n, "invalid \"open_file_cache\" parameter \"%s\"", a)
		}
	}
	s.openFileCacheSet = true
	if off {
		s.openFileCache = nil
		return nil
	}
	if c.Max == 0 {
		return errAt(n, "\"open_file_cache\" must have the \"max\" parameter")
	}
	s.openFileCache = c
	return nil
}

// setOpenFileCacheValid reads a time in seconds, as nginx's
// ngx_conf_set_sec_slot does.
func setOpenFileCacheValid(b *builder, n *Node, sc *scope) error {
	s := &sc.raw.static
	if s.openFileCacheValid != nil {
		return duplicate(n)
	}
	d, ok := parseTime(n.Args[0], true)
	if !ok {
		return errAt(n, "\"%s\" directive invalid value", n.Name)
	}
	s.openFileCacheValid = &d
	return nil
}

// mergeOpenFile merges disable_symlinks (with its from=, which the
// directive always sets with it) and the open_file_cache family into a
// level's static settings.
func mergeOpenFile(r *staticRaw, s *Static) {
	if r.disableSymlinks != nil {
		s.DisableSymlinks, s.SymlinksFrom = *r.disableSymlinks, r.symlinksFrom
	}
	if r.openFileCacheSet {
		s.OpenFileCache = r.openFileCache
	}
	s.OpenFileCacheValid = pick(r.openFileCacheValid, s.OpenFileCacheValid)
	s.OpenFileCacheMinUses = pick(r.openFileCacheMinUses, s.OpenFileCacheMinUses)
	s.OpenFileCacheErrors = pick(r.openFileCacheErrors, s.OpenFileCacheErrors)
	s.OpenFileCacheEvents = pick(r.openFileCacheEvents, s.OpenFileCacheEvents)
}

// WorkerCachedFiles is how many descriptors the open_file_cache
// directives may keep open in each worker between requests: the max of
// every cache a level uses, since each directive is a cache of its own
// and every worker has its own copy of it. The capacity plan keeps them
// outside the connection slots, as it keeps open_log_file_cache's.
func (c *Config) WorkerCachedFiles() int {
	if c.HTTP == nil {
		return 0
	}
	caches := map[*OpenFileCache]bool{}
	c.EachLocConf(func(lc *LocConf) {
		if oc := lc.Static.OpenFileCache; oc != nil {
			caches[oc] = true
		}
	})
	n := 0
	for oc := range caches {
		n += oc.Max
	}
	return n
}
