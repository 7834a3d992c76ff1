package proxy

import (
	"testing"

	"headroom/internal/conf"
	"headroom/internal/http1"
	"headroom/internal/vars"
)

// proxyDefaults is a location with nginx's default proxy_set_header list
// after one configured header, as the configuration loader builds it.
func proxyDefaults() *conf.LocConf {
	lc := &conf.LocConf{}
	for _, h := range [][2]string{
		{"X-Real-IP", "$remote_addr"},
		{"Host", "$proxy_host"},
		{"Connection", "close"},
		{"TE", ""},
		{"Keep-Alive", ""},
		{"Expect", ""},
		{"Upgrade", ""},
	} {
		lc.ProxySetHeaders = append(lc.ProxySetHeaders, conf.HeaderTemplate{Name: h[0], Value: vars.MustCompile(h[1])})
	}
	return lc
}

func TestSkipClientHeader(t *testing.T) {
	defaults := proxyDefaults()
	bare := &conf.LocConf{}
	tests := []struct {
		name       string
		lc         *conf.LocConf
		field      string
		connection string
		want       bool
	}{
		{name: "ordinary field passes", field: "User-Agent", want: false},
		{name: "cookie passes", field: "Cookie", want: false},
		{name: "host is replaced", field: "Host", want: true},
		{name: "replaced fields compare case-insensitively", field: "host", want: true},
		{name: "configured field is replaced", field: "x-real-ip", want: true},
		{name: "empty default drops Expect", field: "Expect", want: true},
		{name: "empty default drops Upgrade", field: "Upgrade", want: true},
		{name: "client's Host passes when nothing sets it", lc: bare, field: "Host", want: false},
		{name: "Content-Length is re-sent by the proxy", lc: bare, field: "Content-Length", want: true},
		{name: "Transfer-Encoding is re-sent by the proxy", lc: bare, field: "Transfer-Encoding", want: true},
		{name: "hop-by-hop Connection", lc: bare, field: "Connection", want: true},
		{name: "hop-by-hop Keep-Alive", lc: bare, field: "keep-alive", want: true},
		{name: "hop-by-hop TE", lc: bare, field: "TE", want: true},
		{name: "hop-by-hop Trailer", lc: bare, field: "Trailer", want: true},
		{name: "hop-by-hop Upgrade", lc: bare, field: "Upgrade", want: true},
		{name: "Proxy-Connection dropped", field: "Proxy-Connection", want: true},
		{name: "Proxy-Authorization passes", field: "Proxy-Authorization", want: false},
		{name: "underscore names the parser kept pass", field: "X_Forwarded_For", want: false},
		{name: "field named by Connection dropped", field: "X-Hop", connection: "close, X-Hop", want: true},
		{name: "Connection tokens compare case-insensitively", field: "x-hop", connection: "X-HOP", want: true},
		{name: "field not named by Connection passes", field: "X-Other", connection: "close, X-Hop", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lc := tc.lc
			if lc == nil {
				lc = defaults
			}
			if got := skipClientHeader([]byte(tc.field), lc.ProxySetHeaders, []byte(tc.connection)); got != tc.want {
				t.Errorf("skipClientHeader(%q, Connection %q) = %v, want %v", tc.field, tc.connection, got, tc.want)
			}
		})
	}
}

func TestHideResponseHeader(t *testing.T) {
	// passServer is what proxy_pass_header Server and proxy_hide_header
	// X-Secret make of nginx's defaults.
	passServer := []string{"Date", "X-Pad", "X-Accel-Expires", "X-Accel-Redirect", "X-Accel-Limit-Rate", "X-Accel-Buffering", "X-Accel-Charset", "X-Secret"}
	tests := []struct {
		name       string
		field      string
		connection string
		framing    http1.Framing
		hidden     []string
		want       bool
	}{
		{name: "ordinary field passes", field: "Content-Type", framing: http1.FramingLength, want: false},
		{name: "Set-Cookie passes", field: "Set-Cookie", framing: http1.FramingLength, want: false},
		{name: "Location passes", field: "Location", framing: http1.FramingLength, want: false},
		{name: "Date is replaced", field: "Date", framing: http1.FramingLength, want: true},
		{name: "Server is replaced", field: "server", framing: http1.FramingLength, want: true},
		{name: "X-Pad hidden", field: "X-Pad", framing: http1.FramingLength, want: true},
		{name: "X-Accel-Redirect hidden", field: "X-Accel-Redirect", framing: http1.FramingLength, want: true},
		{name: "X-Accel-Buffering hidden", field: "x-accel-buffering", framing: http1.FramingLength, want: true},
		{name: "Connection hidden", field: "Connection", framing: http1.FramingLength, want: true},
		{name: "Keep-Alive hidden", field: "Keep-Alive", framing: http1.FramingLength, want: true},
		{name: "Transfer-Encoding hidden", field: "Transfer-Encoding", framing: http1.FramingChunked, want: true},
		{name: "Content-Length kept when it frames the body", field: "Content-Length", framing: http1.FramingLength, want: false},
		{name: "Content-Length kept for a bodiless answer", field: "Content-Length", framing: http1.FramingNone, want: false},
		{name: "Content-Length dropped for a chunked body", field: "Content-Length", framing: http1.FramingChunked, want: true},
		{name: "Content-Length dropped for a body to close", field: "Content-Length", framing: http1.FramingClose, want: true},
		{name: "field named by Connection hidden", field: "X-Drop", connection: "close, X-Drop", framing: http1.FramingLength, want: true},
		{name: "field not named by Connection passes", field: "X-Keep", connection: "close, X-Drop", framing: http1.FramingLength, want: false},
		{name: "other X-Accel fields pass", field: "X-Accel-Other", framing: http1.FramingLength, want: false},
		{name: "X-Accel-Limit-Rate hidden", field: "X-Accel-Limit-Rate", framing: http1.FramingLength, want: true},
		{name: "X-Accel-Charset hidden", field: "X-Accel-Charset", framing: http1.FramingLength, want: true},
		{name: "X-Accel-Expires hidden", field: "X-ACCEL-EXPIRES", framing: http1.FramingLength, want: true},
		{name: "passed Server passes", field: "Server", framing: http1.FramingLength, hidden: passServer, want: false},
		{name: "Date still hidden with a list", field: "date", framing: http1.FramingLength, hidden: passServer, want: true},
		{name: "proxy_hide_header field hidden", field: "x-secret", framing: http1.FramingLength, hidden: passServer, want: true},
		{name: "hop-by-hop hidden whatever the list", field: "Keep-Alive", framing: http1.FramingLength, hidden: []string{}, want: true},
		{name: "hiding Content-Length changes nothing", field: "Content-Length", framing: http1.FramingLength, hidden: []string{"Content-Length"}, want: false},
		{name: "empty list hides nothing else", field: "X-Pad", framing: http1.FramingLength, hidden: []string{}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hideResponseHeader([]byte(tc.field), []byte(tc.connection), tc.framing, tc.hidden); got != tc.want {
				t.Errorf("hideResponseHeader(%q, Connection %q, %v) = %v, want %v", tc.field, tc.connection, tc.framing, got, tc.want)
			}
		})
	}
}

func TestIsHopByHop(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  bool
	}{
		{"Connection", "Connection", true},
		{"lower-case connection", "connection", true},
		{"Keep-Alive", "Keep-Alive", true},
		{"TE", "TE", true},
		{"lower-case te", "te", true},
		{"Trailer", "Trailer", true},
		{"Transfer-Encoding", "Transfer-Encoding", true},
		{"Upgrade", "UPGRADE", true},
		{"Content-Length is end-to-end", "Content-Length", false},
		{"Proxy-Connection is not in the list", "Proxy-Connection", false},
		{"longer name sharing a prefix", "Trailers", false},
		{"same length as Connection", "User-Agent", false},
		{"same length as Trailer", "Referer", false},
		{"same length as Transfer-Encoding", "X-Forwarded-Proto", false},
		{"two letters other than TE", "TX", false},
		{"empty name", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isHopByHop([]byte(tc.field)); got != tc.want {
				t.Errorf("isHopByHop(%q) = %v, want %v", tc.field, got, tc.want)
			}
		})
	}
}
