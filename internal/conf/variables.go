package conf

import (
	"sort"
	"strings"

	"headroom/internal/vars"
)

// knownVariables are the variables headroom evaluates. A template that
// names any other variable is rejected when the configuration is read, as
// nginx rejects unknown variables, so that the runtime never meets a name
// it cannot resolve.
var knownVariables = map[string]bool{
	"args": true, "body_bytes_sent": true, "bytes_sent": true,
	"connection": true, "connection_requests": true,
	"content_length": true, "content_type": true,
	"document_uri": true, "host": true, "hostname": true, "is_args": true,
	"msec": true, "nginx_version": true, "pid": true,
	"proxy_add_x_forwarded_for": true, "proxy_host": true, "proxy_port": true,
	"query_string": true, "remote_addr": true, "binary_remote_addr": true, "remote_port": true,
	"remote_user": true, "request": true, "request_length": true,
	"request_method": true, "request_time": true, "request_uri": true,
	"scheme": true, "server_addr": true, "server_name": true,
	"server_port": true, "server_protocol": true, "status": true,
	"time_iso8601": true, "time_local": true,
	"upstream_addr": true, "upstream_connect_time": true,
	"upstream_header_time": true, "upstream_response_time": true,
	"upstream_status": true, "uri": true,
}

// knownPrefixes are the families of variables named after a header,
// argument or cookie.
var knownPrefixes = []string{"http_", "sent_http_", "arg_", "cookie_"}

// IsKnownVariable reports whether headroom can evaluate the variable name
// (without "$"). Names are case-sensitive, as in nginx.
func IsKnownVariable(name string) bool {
	if knownVariables[name] {
		return true
	}
	for _, p := range knownPrefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return false
}

// KnownVariables lists the variable names and name prefixes (ending in
// "*") that IsKnownVariable accepts, sorted, for documentation.
func KnownVariables() []string {
	var out []string
	for n := range knownVariables {
		out = append(out, n)
	}
	for _, p := range knownPrefixes {
		out = append(out, p+"*")
	}
	sort.Strings(out)
	return out
}

// compileTemplate compiles a value and checks that every variable in it is
// known, with nginx's messages.
func compileTemplate(n *Node, s string) (*vars.Template, error) {
	t, err := vars.Compile(s)
	if err != nil {
		return nil, errAt(n, "%s", err.Error())
	}
	for _, v := range t.Vars() {
		if !IsKnownVariable(v) {
			return nil, errAt(n, "unknown \"%s\" variable", v)
		}
	}
	return t, nil
}

// hasVariables reports whether s would compile to a template with
// variables; values where headroom does not allow variables use it.
func hasVariables(s string) bool {
	t, err := vars.Compile(s)
	if err != nil {
		return strings.Contains(s, "$")
	}
	return !t.IsLiteral()
}
