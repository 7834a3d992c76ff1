package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests read variables through access_log formats, as nginx's log
// module writes them: the request's own, the upstream's (one figure per
// server tried), escaping, and which requests reach which log; and the
// figures the metrics count for the same requests.

func TestBenchRequestVariables(t *testing.T) {
	b := newBench(t, `log_format all '$remote_addr|$remote_port|$server_addr|$server_port|$server_name|$host|'
			'$request_method|$request_uri|$uri|$document_uri|$args|$query_string|$is_args|$arg_q|$arg_none|'
			'$cookie_c|$http_x_a|$http_cookie|$content_length|$content_type|$server_protocol|$scheme|'
			'$status|$body_bytes_sent|$connection_requests|$remote_user|$request|$nginx_version|$pid';
		server {
			listen 127.0.0.1:0;
			server_name example.test other.test;
			access_log logs/access.log all;
			location / { return 200 "12345"; }
		}`)
	port := b.addrs[0][strings.LastIndex(b.addrs[0], ":")+1:]
	m := b.connect()
	m.roundTrip(httpGet("/first"))
	req := "POST /p/a.txt?q=v&x=1 HTTP/1.1\r\nHost: Other.Test:81\r\nCookie: a=1; c=cv\r\nX-A: xa\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
	m.roundTrip(req)
	m.roundTrip("GET /bare HTTP/1.0\r\n\r\n")
	lines := b.accessLines(3)
	want := []string{
		strings.Join([]string{"127.0.0.1", "40000", "127.0.0.1", port, "example.test", "other.test",
			"POST", "/p/a.txt?q=v&x=1", "/p/a.txt", "/p/a.txt", "q=v&x=1", "q=v&x=1", "?", "v", "-",
			"cv", "xa", "a=1; c=cv", "3", "text/plain", "HTTP/1.1", "http",
			"200", "5", "2", "-", "POST /p/a.txt?q=v&x=1 HTTP/1.1", NginxVersion, strconv.Itoa(os.Getpid())}, "|"),
		// Without Host, $host is the server's name; what is missing
		// is "-", an empty value stays empty.
		strings.Join([]string{"127.0.0.1", "40000", "127.0.0.1", port, "example.test", "example.test",
			"GET", "/bare", "/bare", "/bare", "-", "-", "", "-", "-",
			"-", "-", "-", "-", "-", "HTTP/1.0", "http",
			"200", "5", "3", "-", "GET /bare HTTP/1.0", NginxVersion, strconv.Itoa(os.Getpid())}, "|"),
	}
	for i, w := range want {
		if got := lines[i+1]; got != w {
			t.Errorf("line %d:\n got  %s\n want %s", i+2, got, w)
		}
	}
}

func TestBenchTimeVariables(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond)
		w.Write([]byte("slow"))
	})
	b := newBench(t, `log_format times '$request_time|$upstream_response_time|$upstream_header_time|$upstream_connect_time|$msec|$time_iso8601|$time_local';
		server { listen 127.0.0.1:0; access_log logs/access.log times; location / { proxy_pass http://`+up+`; } }`)
	before := time.Now()
	b.connect().roundTrip(httpGet("/"))
	fields := strings.Split(b.accessLines(1)[0], "|")
	if len(fields) != 7 {
		t.Fatalf("fields %q", fields)
	}
	seconds := regexp.MustCompile(`^\d+\.\d{3}$`)
	// The upstream took 60 ms: every duration that includes it is at
	// least that, however slowly the machine runs.
	for i, name := range []string{"$request_time", "$upstream_response_time", "$upstream_header_time"} {
		v, err := strconv.ParseFloat(fields[i], 64)
		if !seconds.MatchString(fields[i]) || err != nil || v < 0.060 {
			t.Errorf("%s %q, want seconds with milliseconds, at least 0.060", name, fields[i])
		}
	}
	if !seconds.MatchString(fields[3]) {
		t.Errorf("$upstream_connect_time %q", fields[3])
	}
	msec, err := strconv.ParseFloat(fields[4], 64)
	if err != nil || !regexp.MustCompile(`^\d+\.\d{3}$`).MatchString(fields[4]) || msec < float64(before.Unix()) {
		t.Errorf("$msec %q", fields[4])
	}
	if _, err := time.Parse("2006-01-02T15:04:05-07:00", fields[5]); err != nil {
		t.Errorf("$time_iso8601 %q: %v", fields[5], err)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", fields[6]); err != nil {
		t.Errorf("$time_local %q: %v", fields[6], err)
	}
}

func TestBenchUpstreamVariablesAcrossARetry(t *testing.T) {
	dropper := rawUpstream(t, func(c net.Conn) { readRawHead(bufio.NewReader(c)) })
	good := cannedUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nX-Up: yes\r\nSet-Cookie: sid=abc; Path=/\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
	})
	refused := refusedAddr(t)
	b := newBench(t, fmt.Sprintf(`log_format up '$upstream_addr|$upstream_status|$upstream_header_time|$upstream_connect_time|'
			'$upstream_http_x_up|$sent_http_x_up|$upstream_cookie_sid|'
			'$upstream_response_length|$upstream_bytes_received|$upstream_bytes_sent|$proxy_host|$proxy_port';
		upstream u { server %s; server %s; server %s; }
		server { listen 127.0.0.1:0; access_log logs/access.log up; location / { proxy_pass http://u; } }`, refused, dropper, good))
	resp, body := b.connect().roundTrip(httpGet("/x"))
	if resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Up") != "yes" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	f := strings.Split(b.accessLines(1)[0], "|")
	if len(f) != 12 {
		t.Fatalf("fields %q", f)
	}
	// Every server tried is listed in order, ", " between them.
	if want := refused + ", " + dropper + ", " + good; f[0] != want {
		t.Errorf("$upstream_addr %q, want %q", f[0], want)
	}
	if f[1] != "502, 502, 200" {
		t.Errorf("$upstream_status %q", f[1])
	}
	// A try without a response head has "-" for its header time, and
	// one that never connected for its connect time.
	if !regexp.MustCompile(`^-, -, \d+\.\d{3}$`).MatchString(f[2]) {
		t.Errorf("$upstream_header_time %q", f[2])
	}
	if !regexp.MustCompile(`^-, \d+\.\d{3}, \d+\.\d{3}$`).MatchString(f[3]) {
		t.Errorf("$upstream_connect_time %q", f[3])
	}
	// The response fields are the last try's; the field was passed to
	// the client too.
	if f[4] != "yes" || f[5] != "yes" || f[6] != "abc" {
		t.Errorf("$upstream_http_x_up %q, $sent_http_x_up %q, $upstream_cookie_sid %q", f[4], f[5], f[6])
	}
	if f[7] != "0, 0, 5" {
		t.Errorf("$upstream_response_length %q, want \"0, 0, 5\"", f[7])
	}
	received := strings.Split(f[8], ", ")
	if len(received) != 3 || received[0] != "0" || received[1] != "0" || received[2] == "0" {
		t.Errorf("$upstream_bytes_received %q", f[8])
	}
	// The same request went to the two servers that took it.
	sent := strings.Split(f[9], ", ")
	if len(sent) != 3 || sent[0] != "0" || sent[1] == "0" || sent[1] != sent[2] {
		t.Errorf("$upstream_bytes_sent %q", f[9])
	}
	if f[10] != "u" || f[11] != "80" {
		t.Errorf("$proxy_host %q $proxy_port %q", f[10], f[11])
	}
}

func TestBenchLogEscaping(t *testing.T) {
	b := newBench(t, `log_format plain '$http_x_a';
		log_format json escape=json '{"a":"$http_x_a"}';
		log_format raw escape=none '$http_x_a';
		server {
			listen 127.0.0.1:0;
			access_log logs/access.log plain;
			access_log logs/json.log json;
			access_log logs/raw.log raw;
			location / { return 200 "ok"; }
			location /quiet { access_log off; return 200 "ok"; }
		}`)
	m := b.connect()
	m.roundTrip(httpGet("/", "X-A: quote\"back\\slash\xe9obs\r\n"))
	m.roundTrip(httpGet("/quiet"))
	read := func(name string) string {
		b.accessLog()
		data, _ := os.ReadFile(filepath.Join(b.dir, "logs", name))
		return string(data)
	}
	for _, tc := range []struct{ file, want string }{
		// By default '"', '\' and bytes outside printable ASCII become
		// \xHH.
		{"access.log", `quote\x22back\x5Cslash\xE9obs` + "\n"},
		{"json.log", `{"a":"quote\"back\\slash` + "\xe9" + `obs"}` + "\n"},
		{"raw.log", "quote\"back\\slash\xe9obs\n"},
	} {
		// A location with access_log off writes none.
		if got := read(tc.file); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.file, got, tc.want)
		}
	}
}

func TestBenchResponseFigures(t *testing.T) {
	up, _ := countingUpstream(t)
	dropper := rawUpstream(t, func(c net.Conn) { readRawHead(bufio.NewReader(c)) })
	b := newBench(t, fmt.Sprintf(`upstream u { server %s; }
		upstream bad { server %s; }
		server {
			listen 127.0.0.1:0;
			location /ok/ { proxy_pass http://u; }
			location /bad/ { proxy_pass http://bad; }
			location /moved { return 301 /ok/; }
		}`, up, dropper))
	m := b.connect()
	for _, path := range []string{"/ok/1", "/ok/2", "/moved", "/none", "/bad/1"} {
		m.roundTrip(httpGet(path))
	}
	b.connect().roundTrip(httpGet("/ok/3"))
	snap := b.srv.Snapshot()
	for class, want := range map[string]uint64{"2xx": 3, "3xx": 1, "4xx": 1, "5xx": 1} {
		if got := snap.Responses[class]; got != want {
			t.Errorf("%s responses %d, want %d", class, got, want)
		}
	}
	if c := snap.Connections; c.Accepted != 2 || c.Handled != 2 || c.Requests != 6 {
		t.Errorf("connections %+v, want 2 accepted and handled, 6 requests", c)
	}
	servers := map[string]string{}
	for _, u := range snap.Upstreams {
		for _, s := range u.Servers {
			servers[u.Name] = fmt.Sprintf("%d/%d/%d", s.Requests, s.Failures, s.Response.Count)
		}
	}
	// requests/failures/responses timed: a server that answered no head
	// has no response time.
	if servers["u"] != "3/0/3" || servers["bad"] != "1/1/0" {
		t.Errorf("servers %v, want u 3/0/3 and bad 1/1/0", servers)
	}
}

func TestBenchReopenLogs(t *testing.T) {
	b := newBench(t, `log_format st '$request_uri';
		server { listen 127.0.0.1:0; access_log logs/access.log st; location / { return 200 "ok"; } }`)
	m := b.connect()
	m.roundTrip(httpGet("/before"))
	b.accessLines(1)
	// As with SIGUSR1 after a log rotation: the old file keeps what it
	// had, lines after the reopen go to a new file at the same path.
	path := filepath.Join(b.dir, "logs", "access.log")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.ReopenLogs(); err != nil {
		t.Fatal(err)
	}
	m.roundTrip(httpGet("/after"))
	if lines := b.accessLines(1); len(lines) != 1 || lines[0] != "/after" {
		t.Errorf("the new file has %q, want /after only", lines)
	}
	if old, _ := os.ReadFile(path + ".1"); string(old) != "/before\n" {
		t.Errorf("the rotated file has %q", old)
	}
}
