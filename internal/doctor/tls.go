package doctor

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"strings"
	"time"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// What terminating TLS costs, in one place so that every figure of a
// report rests on the same measurements: bench/tls.sh in
// docs/benchmarks.md (section "TLS"), one worker of each server on a
// 2-vCPU AMD EPYC VM. The handshake figures are the server's CPU per new
// TLS 1.3 connection (accept, full handshake, one small request, close),
// the least and the most of two runs' medians; the handshake is most of
// it. The idle figures are RSS per idle TLS 1.3 keep-alive connection
// after small records; crypto/tls keeps a 16 KB buffer after a full-size
// record, which an idle connection has usually not sent.
const (
	// headroomTLSIdleBytes: 7.4 KiB with 2000 connections, 7.8 KiB with
	// 4000.
	headroomTLSIdleBytes = 7680
	// nginxTLSIdleBytes: 14.4 KiB with 2000 connections, 14.5 KiB with
	// 4000 (nginx 1.22 with OpenSSL 3.0).
	nginxTLSIdleBytes = 14746
)

// Key types doctor has measured handshakes for.
const (
	keyECDSAP256 = "ECDSA P-256"
	keyRSA2048   = "RSA-2048"
)

// handshakeCosts are the measured CPU per new TLS 1.3 connection, by
// server and key type. crypto/tls signs with RSA at about twice
// OpenSSL's cost, so headroom's RSA figure is about twice nginx's, while
// with ECDSA the two are alike.
var handshakeCosts = map[string]map[string][2]time.Duration{
	headroom: {
		keyECDSAP256: {293 * time.Microsecond, 473 * time.Microsecond},
		keyRSA2048:   {1217 * time.Microsecond, 1993 * time.Microsecond},
	},
	nginx: {
		keyECDSAP256: {337 * time.Microsecond, 493 * time.Microsecond},
		keyRSA2048:   {853 * time.Microsecond, 877 * time.Microsecond},
	},
}

// tlsSource names the TLS figures' origin in reports.
const tlsSource = "bench/tls.sh in docs/benchmarks.md: server CPU per new TLS 1.3 connection (full handshake, one small request, close) and RSS per idle TLS connection, on a 2-vCPU AMD EPYC VM"

// certWarnDays is how close to its expiry a certificate is warned about:
// long enough for a renewal that needs a person.
const certWarnDays = 30

// TLSReport is what terminating TLS takes with this configuration: the
// certificates the servers present, what a handshake with each costs, and
// what an idle TLS connection holds.
type TLSReport struct {
	// Addresses are the listening addresses that speak TLS.
	Addresses []string `json:"addresses"`
	// Certificates are the ssl_certificate files of the servers on those
	// addresses, each once, in the configuration's order.
	Certificates []Certificate `json:"certificates"`
	// IdleBytes is what an idle TLS client connection holds in the
	// reported server, OtherIdleBytes in the other one, PlainIdleBytes a
	// plain connection in the reported server.
	IdleBytes      int64 `json:"idle_bytes"`
	OtherIdleBytes int64 `json:"other_idle_bytes"`
	PlainIdleBytes int64 `json:"plain_idle_bytes"`
	// Workers is how many workers run handshakes at once (at most one
	// per CPU), which the figures per second are multiplied by.
	Workers int `json:"workers"`
	// Source says where the figures come from.
	Source string `json:"source"`
}

// Certificate is one ssl_certificate file as read on this machine.
type Certificate struct {
	// File is the certificate's path; Servers the server blocks that
	// present it ("site.conf:12 example.com").
	File    string   `json:"file"`
	Servers []string `json:"servers"`
	// Error says why the file could not be read or parsed here (the
	// fields below are then empty): doctor may run on another machine
	// than the server.
	Error string `json:"error,omitempty"`
	// Subject is the leaf certificate's subject; Names its
	// subjectAltName entries (DNS names, then addresses).
	Subject string   `json:"subject,omitempty"`
	Names   []string `json:"names"`
	// Key is the public key's type and size: "ECDSA P-256", "RSA-2048",
	// "Ed25519".
	Key string `json:"key,omitempty"`
	// NotAfter is when the certificate expires; DaysLeft the whole days
	// until then, negative once expired. Null when unread.
	NotAfter *time.Time `json:"not_after"`
	DaysLeft *int       `json:"days_left"`
	// Handshake is what a new connection with this key costs in the
	// reported server, Other in the other one; null for key types not
	// measured.
	Handshake *HandshakeCost `json:"handshake"`
	Other     *HandshakeCost `json:"other_handshake"`
	// Problems are what needs doing about the certificate.
	Problems []Problem `json:"problems"`
}

// HandshakeCost is the measured CPU of a new TLS connection with one key
// type, and how many one core can do.
type HandshakeCost struct {
	Server string `json:"server"`
	// LowMicros and HighMicros bound the CPU per new connection in
	// microseconds; PerCoreLow and PerCoreHigh the new connections per
	// second one core does at those costs.
	LowMicros   int `json:"low_us"`
	HighMicros  int `json:"high_us"`
	PerCoreLow  int `json:"per_core_low"`
	PerCoreHigh int `json:"per_core_high"`
}

// Problem is something to do about a certificate.
type Problem struct {
	// Level is "error" (clients fail now) or "warning".
	Level string `json:"level"`
	Text  string `json:"text"`
	Fix   string `json:"fix,omitempty"`
	// about names the line of the text report the problem is shown
	// under, where a section has several ("round trip").
	about string
}

// handshakeCost returns the measured cost for server and key type, nil
// when it was not measured.
func handshakeCost(server, key string) *HandshakeCost {
	c, ok := handshakeCosts[server][key]
	if !ok {
		return nil
	}
	return &HandshakeCost{Server: server,
		LowMicros: int(c[0].Microseconds()), HighMicros: int(c[1].Microseconds()),
		PerCoreLow: perSecond(c[1]), PerCoreHigh: perSecond(c[0])}
}

// perSecond is how many operations of cost d fit in a second, rounded
// down to two significant figures, since the measurements are no more
// precise than that.
func perSecond(d time.Duration) int {
	n := float64(time.Second) / float64(d)
	scale := math.Pow(10, math.Floor(math.Log10(n))-1)
	return int(math.Floor(n/scale) * scale)
}

// tlsAddrs lists the addresses that speak TLS: those a listen marks ssl,
// and every address of a server with the deprecated "ssl on".
func tlsAddrs(cfg *conf.Config) []string {
	if cfg.HTTP == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range cfg.HTTP.Servers {
		for _, l := range s.Listens {
			if (l.SSL || s.Loc.SSL.Enable) && !seen[l.Addr] {
				seen[l.Addr] = true
				out = append(out, l.Addr)
			}
		}
	}
	return out
}

// servesTLS reports whether a server has an address that speaks TLS, so
// that its certificates are presented.
func servesTLS(s *conf.Server, addrs map[string]bool) bool {
	for _, l := range s.Listens {
		if addrs[l.Addr] {
			return true
		}
	}
	return false
}

// tlsReport reads the certificates of the servers on TLS addresses
// through h, as of now; nil when no address speaks TLS.
func tlsReport(cfg *conf.Config, p params, workers int, h capacity.Host, now time.Time, nm namer) *TLSReport {
	addrs := tlsAddrs(cfg)
	if len(addrs) == 0 {
		return nil
	}
	other := otherServer(p.server)
	rep := &TLSReport{Addresses: addrs, Certificates: []Certificate{},
		IdleBytes: tlsIdleBytes(p.server), OtherIdleBytes: tlsIdleBytes(other), PlainIdleBytes: plainIdleBytes(p.server),
		Workers: workers, Source: tlsSource}
	if p.cpus > 0 {
		rep.Workers = min(workers, p.cpus)
	}
	isTLS := map[string]bool{}
	for _, a := range addrs {
		isTLS[a] = true
	}
	index := map[string]int{}
	for _, s := range cfg.HTTP.Servers {
		if !servesTLS(s, isTLS) {
			continue
		}
		for _, sc := range s.Loc.SSL.Certificates {
			i, ok := index[sc.CertFile]
			if !ok {
				i = len(rep.Certificates)
				index[sc.CertFile] = i
				var c Certificate
				if sc.Dynamic() {
					// Named by variables: which files a handshake
					// loads is known only then.
					c = Certificate{File: sc.CertFile, Names: []string{}, Problems: []Problem{},
						Error: "named by variables: loaded for each handshake, so not read here (and each handshake reads and parses the files, as nginx's do)"}
				} else {
					c = readCertificate(h, sc.CertFile, now, p.server)
				}
				c.Other = handshakeCost(other, c.Key)
				rep.Certificates = append(rep.Certificates, c)
			}
			c := &rep.Certificates[i]
			if name := serverName(s, nm); len(c.Servers) == 0 || c.Servers[len(c.Servers)-1] != name {
				c.Servers = append(c.Servers, name)
			}
		}
	}
	return rep
}

// serverName names a server block by where it is and its first name.
func serverName(s *conf.Server, nm namer) string {
	at := nm.at(s.File, s.Line)
	if s.Name != "" {
		return at + " " + s.Name
	}
	return at
}

// readCertificate reads a PEM certificate file and judges its leaf
// certificate as of now. A file that cannot be read or parsed is
// reported, not fatal: the configuration may come from another machine.
func readCertificate(h capacity.Host, file string, now time.Time, server string) Certificate {
	c := Certificate{File: file, Names: []string{}, Problems: []Problem{}}
	b, err := h.ReadFile(file)
	if err != nil {
		c.Error = fmt.Sprintf("cannot read: open() \"%s\" failed %s", file, sysError(err))
		return c
	}
	var leaf *x509.Certificate
	for rest := b; leaf == nil; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			c.Error = "cannot read: no PEM certificate in the file"
			return c
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if leaf, err = x509.ParseCertificate(block.Bytes); err != nil {
			c.Error = "cannot read: " + err.Error()
			return c
		}
	}
	c.Subject = leaf.Subject.String()
	c.Names = append(c.Names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		c.Names = append(c.Names, ip.String())
	}
	c.Key = keyType(leaf.PublicKey)
	notAfter := leaf.NotAfter.UTC()
	days := int(math.Floor(notAfter.Sub(now).Hours() / 24))
	c.NotAfter, c.DaysLeft = &notAfter, &days
	c.Handshake = handshakeCost(server, c.Key)
	c.Problems = certProblems(leaf, now, days, server)
	return c
}

// keyType names a public key as people compare them: algorithm and size.
func keyType(k any) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

// certProblems judges a certificate's dates and names: what makes
// clients refuse it now, and what soon will.
func certProblems(leaf *x509.Certificate, now time.Time, days int, server string) []Problem {
	out := []Problem{}
	renew := fmt.Sprintf("renew it (certbot renew, or a new certificate from your CA), then %s -s reload", server)
	date := leaf.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case !now.Before(leaf.NotAfter):
		out = append(out, Problem{Level: "error", Fix: renew,
			Text: fmt.Sprintf("expired on %s, %d %s ago: clients refuse every handshake", date, -days, plural(-days, "day", "days"))})
	case days < certWarnDays:
		out = append(out, Problem{Level: "warning", Fix: renew,
			Text: fmt.Sprintf("expires on %s, in %d %s", date, days, plural(days, "day", "days"))})
	}
	if now.Before(leaf.NotBefore) {
		out = append(out, Problem{Level: "error", Fix: "check this machine's clock, or wait",
			Text: "not valid before " + leaf.NotBefore.UTC().Format(time.DateOnly)})
	}
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
		out = append(out, Problem{Level: "warning", Fix: "have it issued again with the names in subjectAltName",
			Text: "no subjectAltName: browsers and crypto/tls match names only there, not in the subject's CN"})
	}
	return out
}

// tlsIdleBytes and plainIdleBytes are what an idle client connection
// holds in a server, with and without TLS.
func tlsIdleBytes(server string) int64 {
	if server == nginx {
		return nginxTLSIdleBytes
	}
	return headroomTLSIdleBytes
}

func plainIdleBytes(server string) int64 {
	if server == nginx {
		return nginxIdleBytes
	}
	return headroomIdleBytes
}

// adviseECDSA suggests an ECDSA certificate beside each set of RSA-only
// certificates: a full handshake signs once with the server's key, and
// RSA signing costs several times ECDSA's (twice as much again in
// crypto/tls as in OpenSSL), so the same cores take that many more new
// connections. Clients without ECDSA, which are rare, keep the RSA one.
func adviseECDSA(cfg *conf.Config, t *TLSReport, server string, nm namer) []Fix {
	if t == nil {
		return nil
	}
	byFile := map[string]*Certificate{}
	for i := range t.Certificates {
		byFile[t.Certificates[i].File] = &t.Certificates[i]
	}
	isTLS := map[string]bool{}
	for _, a := range t.Addresses {
		isTLS[a] = true
	}
	var out []Fix
	fixOf := map[string]int{}
	for _, s := range cfg.HTTP.Servers {
		certs := s.Loc.SSL.Certificates
		if !servesTLS(s, isTLS) || len(certs) == 0 {
			continue
		}
		var files []string
		rsaOnly, key := true, ""
		for _, sc := range certs {
			c := byFile[sc.CertFile]
			if c == nil || !strings.HasPrefix(c.Key, "RSA-") {
				// Unread, or a key other than RSA: nothing to say.
				rsaOnly = false
				break
			}
			files = append(files, sc.CertFile)
			key = c.Key
		}
		if !rsaOnly {
			continue
		}
		where := "server block at " + nm.at(s.File, s.Line)
		set := strings.Join(files, "\x00")
		if i, ok := fixOf[set]; ok {
			out[i].Changes = append(out[i].Changes, Change{Join: "and", Where: where, Line: out[i].Changes[0].Line})
			continue
		}
		fixOf[set] = len(out)
		why := "a full handshake signs with the server's key, and RSA signing costs several times ECDSA's"
		if rc, ec := handshakeCost(server, key), handshakeCost(server, keyECDSAP256); rc != nil && ec != nil {
			why = fmt.Sprintf("a new TLS 1.3 connection costs %s of a core with %s and %s with %s in %s: one core takes %s new connections a second instead of %s",
				msRange(rc), key, msRange(ec), keyECDSAP256, server, rateRange(ec), rateRange(rc))
		}
		out = append(out, Fix{Limit: "ssl_certificate", From: key + " only", To: keyECDSAP256 + " beside it",
			Changes: []Change{{Where: where, Line: "ssl_certificate     ecdsa.crt;\nssl_certificate_key ecdsa.key;",
				Note: "after the RSA pair, which clients without ECDSA keep getting; a key and request for your CA: openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ecdsa.key -out ecdsa.csr"}},
			Why: why})
	}
	return out
}

// msRange writes a handshake cost as "0.29-0.47 ms".
func msRange(c *HandshakeCost) string {
	f := func(us int) string {
		if us >= 1000 {
			return fmt.Sprintf("%.1f", float64(us)/1000)
		}
		return fmt.Sprintf("%.2f", float64(us)/1000)
	}
	return f(c.LowMicros) + "-" + f(c.HighMicros) + " ms"
}

// rateRange writes the new connections a second one core does: "2100-3400",
// or one figure when the measurements agree.
func rateRange(c *HandshakeCost) string {
	if c.PerCoreLow == c.PerCoreHigh {
		return fmt.Sprintf("%d", c.PerCoreLow)
	}
	return fmt.Sprintf("%d-%d", c.PerCoreLow, c.PerCoreHigh)
}

// writeText writes the TLS section of the text report: a line per
// certificate with what it costs, its problems under it, then what the
// figures mean.
func (t *TLSReport) writeText(b *strings.Builder, server string) {
	errs, warns := 0, 0
	for _, c := range t.Certificates {
		for _, p := range c.Problems {
			if p.Level == "error" {
				errs++
			} else {
				warns++
			}
		}
	}
	fmt.Fprintf(b, "\nTLS (%d %s with ssl: %s", len(t.Addresses), plural(len(t.Addresses), "address listens", "addresses listen"), strings.Join(t.Addresses, ", "))
	if errs+warns > 0 {
		fmt.Fprintf(b, "; %d %s, %d %s", errs, plural(errs, "error", "errors"), warns, plural(warns, "warning", "warnings"))
	}
	b.WriteString(")\n")
	rows := [][]string{{"CERTIFICATE", "SERVER", "NAMES", "KEY", "EXPIRES", "NEW CONNECTION CPU", "PER CORE"}}
	if len(t.Certificates) == 0 {
		rows = append(rows, []string{"none: no server on these addresses has ssl_certificate"})
	}
	for _, c := range t.Certificates {
		servers := strings.Join(c.Servers, ", ")
		if c.Error != "" {
			rows = append(rows, []string{c.File, servers, c.Error})
			continue
		}
		names := strings.Join(c.Names, " ")
		if names == "" {
			names = c.Subject
		}
		expires := fmt.Sprintf("%s (%d %s)", c.NotAfter.Format(time.DateOnly), *c.DaysLeft, plural(*c.DaysLeft, "day", "days"))
		if *c.DaysLeft < 0 {
			expires = c.NotAfter.Format(time.DateOnly) + " (expired)"
		}
		cost, rate := "not measured", "-"
		if c.Handshake != nil {
			cost, rate = msRange(c.Handshake), rateRange(c.Handshake)+"/s"
		}
		rows = append(rows, []string{c.File, servers, names, c.Key, expires, cost, rate})
		for _, p := range c.Problems {
			line := "  " + p.Level + ": " + p.Text
			if p.Fix != "" {
				line += "; fix: " + p.Fix
			}
			rows = append(rows, []string{line})
		}
	}
	writeTable(b, "  ", rows)
	fmt.Fprintf(b, "  NEW CONNECTION CPU is one core's time for a new TLS 1.3 connection, most of it the full handshake (a resumed session costs less); PER CORE the new connections a second that makes, for each of the %d %s that run on their own core.\n",
		t.Workers, plural(t.Workers, "worker", "workers"))
	other := otherServer(server)
	fmt.Fprintf(b, "  An idle TLS connection holds %s in %s (%s in %s), a plain one %s.\n",
		bytesText(t.IdleBytes), server, bytesText(t.OtherIdleBytes), other, bytesText(t.PlainIdleBytes))
	var cmp []string
	for _, key := range []string{keyECDSAP256, keyRSA2048} {
		if a, o := handshakeCost(server, key), handshakeCost(other, key); a != nil && o != nil {
			cmp = append(cmp, fmt.Sprintf("%s %s in %s, %s in %s", key, msRange(a), server, msRange(o), other))
		}
	}
	fmt.Fprintf(b, "  Measured: %s; %s.\n", strings.Join(cmp, "; "), t.Source)
}
