package integration

import (
	"strings"
	"testing"
)

func TestZZFcgiExplore(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		fr := startFCGI(t)
		conf := strings.NewReplacer("{{FCGI}}", fr.addr, "{{FCGISOCK}}", fr.sock, "{{FCGIPARAMS}}", fr.params).Replace(fcgiConf)
		p := startProxy(t, tg, conf)
		for _, req := range []string{
			"GET /app/two-status HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"GET /app/big-header HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			"GET /app/redirect HTTP/1.0\r\n\r\n",
		} {
			r := sendRaw(t, p.addr, req)
			first, _, _ := strings.Cut(req, "\r\n")
			t.Logf("=== %s\n%s", first, r)
		}
		rc := dialRaw(t, p.addr)
		r := rc.roundTrip("GET /app/status-204 HTTP/1.1\r\nHost: h\r\n\r\n")
		t.Logf("204 ka: %s", r)
		r = rc.roundTrip("GET /app/length HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		t.Logf("after: %s", r)
		rc = dialRaw(t, p.addr)
		r = rc.roundTrip("POST /keep/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		t.Logf("keep post: %s", r)
		r = rc.roundTrip("GET /keep/b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		t.Logf("keep get: %s", r)
		t.Logf("errlog:\n%s", p.readLog("error.log"))
	})
}
