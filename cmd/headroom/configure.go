package main

import "strings"

// withoutModules are the standard nginx modules, built by default by
// nginx's configure, that headroom does not provide, spelled as nginx's
// configure spells the options that remove them. Tools that read
// "nginx -V" use this line to learn what a server can do.
var withoutModules = []string{
	"--without-select_module",
	"--without-poll_module",
	"--without-http_userid_module",
	"--without-http_mirror_module",
	"--without-http_grpc_module",
	"--without-http_memcached_module",
	"--without-http_browser_module",
}

// withModules are the optional nginx modules (off unless configure is
// told otherwise) whose directives headroom provides.
var withModules = []string{
	"--with-http_gunzip_module",
	"--with-http_gzip_static_module",
	"--with-http_random_index_module",
	"--with-http_realip_module",
	"--with-http_ssl_module",
	"--with-http_v2_module",
	"--with-http_secure_link_module",
	"--with-http_stub_status_module",
	"--with-http_sub_module",
	"--with-http_addition_module",
	"--with-http_auth_request_module",
}

func configureArguments() string {
	return "--prefix=. --conf-path=(embedded default) " + strings.Join(withModules, " ") + " " + strings.Join(withoutModules, " ")
}
