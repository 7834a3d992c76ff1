// Package conf reads nginx's configuration language into the typed Config
// that the runtime uses.
//
// It accepts a subset of nginx's directives and gives each the meaning,
// default and inheritance nginx gives it; anything else is rejected with
// nginx's own message, or with "is not supported by headroom" for real
// nginx directives that headroom does not implement, so that a
// configuration never silently means something different.
//
// Deliberate differences from nginx, each chosen to fail loudly or to keep
// behaviour deterministic:
//
//   - Regular expressions (locations, ~server names, the ~ rules of
//     proxy_cookie_domain and proxy_cookie_path) use Go's RE2 syntax;
//     PCRE-only constructs such as lookaround are errors. Captures ($1 to
//     $9) are known only in the replacement of a cookie rule's regex,
//     whose match they come from; elsewhere they are unknown variables.
//   - Variables are checked at the directive that uses them, so "unknown
//     variable" errors carry a file and line, which nginx's do not.
//   - A server without listen gets *:80 even when not started as root,
//     where nginx would use port 8000.
//   - "worker_processes 0" is refused, because 0 means "auto" in Config.
//   - "pid off" disables the pid file.
//   - Include nesting is limited to 64 levels.
//   - Only the epoll event method exists.
package conf
