package conf

import (
	"strconv"
	"strings"
	"testing"
)

// TestSyslogErrors checks the messages for "syslog:" destinations. Each
// was taken from nginx 1.22's "nginx -t" on the same line.
func TestSyslogErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{`error_log syslog:;`, `unknown syslog parameter ""`},
		{`error_log syslog:facility=user;`, `no syslog server specified`},
		{`error_log syslog:server=127.0.0.1,server=127.0.0.1;`, `duplicate syslog "server"`},
		{`error_log syslog:server=127.0.0.1,facility=bogus;`, `unknown syslog facility "bogus"`},
		{`error_log syslog:server=127.0.0.1,facility=user,facility=kern;`, `duplicate syslog "facility"`},
		{`error_log syslog:server=127.0.0.1,severity=err;`, `unknown syslog severity "err"`},
		{`error_log syslog:server=127.0.0.1,severity=info,severity=info;`, `duplicate syslog "severity"`},
		{`error_log syslog:server=127.0.0.1,tag=abcdefghijabcdefghijabcdefghijabc;`, `syslog tag length exceeds 32`},
		{`error_log syslog:server=127.0.0.1,tag=a-b;`, `syslog "tag" only allows alphanumeric characters and underscore`},
		{`error_log syslog:server=127.0.0.1,tag=a,tag=b;`, `duplicate syslog "tag"`},
		{`error_log syslog:server=127.0.0.1,bogus=1;`, `unknown syslog parameter "bogus=1"`},
		{`error_log syslog:server=127.0.0.1,;`, `unknown syslog parameter ""`},
		{`error_log syslog:server=127.0.0.1,nohostnamex;`, `unknown syslog parameter "nohostnamex"`},
		{`error_log syslog:server=127.0.0.1:0;`, `invalid port in syslog server "127.0.0.1:0"`},
		{`error_log syslog:server=127.0.0.1:99999;`, `invalid port in syslog server "127.0.0.1:99999"`},
		{`error_log syslog:server=unix:;`, `no path in the unix domain socket in syslog server "unix:"`},
		{`error_log syslog:server=127.0.0.1/x;`, `invalid host in syslog server "127.0.0.1/x"`},
		{`error_log syslog:server=[::1;`, `invalid host in syslog server "[::1"`},
		{`error_log syslog:server=:514;`, `no host in syslog server ":514"`},
		{`error_log syslog:server=127.0.0.1 bogus;`, `invalid log level "bogus"`},
		{`http { access_log syslog:server=127.0.0.1 combined buffer=4k; }`, `logs to syslog cannot be buffered`},
		{`http { access_log syslog:server=127.0.0.1 combined gzip; }`, `logs to syslog cannot be buffered`},
		{`http { access_log syslog:server=127.0.0.1 combined flush=1s; }`, `no buffer is defined for access_log "syslog:server=127.0.0.1"`},
		{`http { access_log syslog:server=127.0.0.1 nosuch; }`, `unknown log format "nosuch"`},
		{`http { access_log syslog:server=127.0.0.1 combined bogus; }`, `invalid parameter "bogus"`},
		{`http { access_log syslog:server=127.0.0.1,tag=x-y; }`, `syslog "tag" only allows alphanumeric characters and underscore`},
	}
	for _, tt := range tests {
		_, err := Load(LoadOptions{Source: []byte("events {}\n" + tt.line + "\n"), Prefix: t.TempDir()})
		want := tt.want + " in <source>:2"
		if err == nil || err.Error() != want {
			t.Errorf("%s\n got: %v\nwant: %s", tt.line, err, want)
		}
	}
}

// TestSyslogDestinations checks what a destination reads as: nginx's
// defaults (port 514, local7, info, tag "nginx"), each parameter in any
// order, unix sockets and names resolved to their first address.
func TestSyslogDestinations(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"syslog:server=127.0.0.1", "udp 127.0.0.1:514 facility=23 severity=6 tag=nginx nohostname=false"},
		{"syslog:server=127.0.0.1:8981", "udp 127.0.0.1:8981 facility=23 severity=6 tag=nginx nohostname=false"},
		{"syslog:severity=alert,server=[::1]:99,facility=user", "udp [::1]:99 facility=1 severity=1 tag=nginx nohostname=false"},
		{"syslog:server=localhost,tag=Web_1,nohostname", "udp 127.0.0.1:514 facility=23 severity=6 tag=Web_1 nohostname=true"},
		{"syslog:server=UNIX:/dev/log,facility=local0", "unixgram /dev/log facility=16 severity=6 tag=nginx nohostname=false"},
		{"syslog:server=127.0.0.1,tag=", "udp 127.0.0.1:514 facility=23 severity=6 tag= nohostname=false"},
	}
	saved := lookupHost
	defer func() { lookupHost = saved }()
	lookupHost = func(host string) ([]string, error) { return []string{"::1", "127.0.0.1"}, nil }
	for _, tt := range tests {
		s, err := parseSyslog(&Node{Name: "error_log"}, tt.spec)
		if err != nil {
			t.Errorf("%s: %v", tt.spec, err)
			continue
		}
		got := strings.Join([]string{s.Network, s.Addr, "facility=" + itoa(s.Facility), "severity=" + itoa(s.Severity), "tag=" + s.Tag, "nohostname=" + strconv.FormatBool(s.NoHostname)}, " ")
		if got != tt.want || s.Spec != tt.spec {
			t.Errorf("%s:\n got: %s (%s)\nwant: %s", tt.spec, got, s.Spec, tt.want)
		}
	}
}
