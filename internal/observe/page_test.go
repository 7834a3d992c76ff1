package observe

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestStatusPageSelfContained checks that the page loads nothing from
// anywhere: no URL with a scheme or a network-path reference, no external
// script, style sheet, font or image.
func TestStatusPageSelfContained(t *testing.T) {
	page := string(StatusPage)
	if len(page) == 0 {
		t.Fatal("StatusPage is empty")
	}
	lower := strings.ToLower(page)
	for _, bad := range []string{"http://", "https://", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "@font-face"} {
		if i := strings.Index(lower, bad); i >= 0 {
			t.Errorf("page contains %q at byte %d: %q", bad, i, pageAround(page, i))
		}
	}
	// The page needs no src, href or similar attribute at all, in its
	// markup or in what its script writes.
	attr := regexp.MustCompile(`(?i)\b(src|href|action|srcset|poster)\s*=`)
	for _, m := range attr.FindAllStringIndex(page, -1) {
		t.Errorf("page has a reference attribute: %q", pageAround(page, m[0]))
	}
	for _, bad := range []string{`"//`, `'//`, "`//"} {
		if i := strings.Index(page, bad); i >= 0 {
			t.Errorf("page contains a network-path reference at byte %d: %q", i, pageAround(page, i))
		}
	}
}

// TestStatusPageWellFormed parses the page's markup: elements nest and
// close, ids are unique, and there is exactly one inline script and one
// inline style sheet.
func TestStatusPageWellFormed(t *testing.T) {
	page := string(StatusPage)
	if !strings.HasPrefix(page, "<!DOCTYPE html>") {
		t.Errorf("page does not start with <!DOCTYPE html>: %q", pageAround(page, 0))
	}
	tags, err := scanPageTags(page)
	if err != nil {
		t.Fatal(err)
	}
	void := map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
		"img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}
	var stack []string
	count := map[string]int{}
	ids := map[string]bool{}
	idAttr := regexp.MustCompile(`\bid="([^"]*)"`)
	for _, tg := range tags {
		if tg.closing {
			if len(stack) == 0 || stack[len(stack)-1] != tg.name {
				t.Fatalf("</%s> at byte %d does not close the open element (open: %v)", tg.name, tg.pos, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		count[tg.name]++
		if m := idAttr.FindStringSubmatch(tg.attrs); m != nil {
			if ids[m[1]] {
				t.Errorf("id %q appears twice", m[1])
			}
			ids[m[1]] = true
		}
		if tg.name == "script" && strings.Contains(tg.attrs, "src") {
			t.Errorf("script element with attributes %q: the script must be inline", tg.attrs)
		}
		if !void[tg.name] && !tg.selfClosing {
			stack = append(stack, tg.name)
		}
	}
	if len(stack) != 0 {
		t.Errorf("elements left open at the end: %v", stack)
	}
	for name, want := range map[string]int{"html": 1, "head": 1, "body": 1, "title": 1, "script": 1, "style": 1} {
		if count[name] != want {
			t.Errorf("%d <%s> elements, want %d", count[name], name, want)
		}
	}
}

// TestStatusPageContract checks what readers of the page's document rely
// on: the JSON it asks for, how many samples it keeps, the body's
// data-samples, the hidden #history and the ids of the figures.
func TestStatusPageContract(t *testing.T) {
	page := string(StatusPage)
	for _, want := range []string{
		`location.pathname + "?format=json"`,
		`setInterval(poll, 1000)`,
		`var KEEP = 300;`,
		`<body data-samples="0">`,
		`document.body.dataset.samples = `,
		`<div id="history" hidden></div>`,
		// Per-worker figures, built for every worker as worker-ID-FIELD.
		`var p = "worker-" + w.id;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, id := range []string{
		"requests-total", "requests-rate", "accepted-total", "accepted-rate", "handled-total", "handled-rate",
		"active", "reading", "writing", "waiting",
		"tls-handshakes-rate", "tls-handshakes-total", "tls-failed-rate", "tls-failed-total", "tls-cpu-percent", "tls-cpu-per-handshake",
		"responses-1xx-rate", "responses-2xx-rate", "responses-3xx-rate", "responses-4xx-rate", "responses-5xx-rate",
		"responses-1xx-total", "responses-2xx-total", "responses-3xx-total", "responses-4xx-total", "responses-5xx-total",
		"pressure-accept-paused-total", "pressure-idle-clients-closed-total", "pressure-idle-upstreams-closed-total",
		"pressure-rotated-total", "pressure-queued-total", "pressure-rejected-total",
		"pressure-accept-paused-rate", "pressure-queued-rate", "pressure-rejected-rate",
		"workers", "listeners", "zones", "upstreams", "history", "samples", "poll-state", "version", "pid", "uptime",
	} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("page lacks an element with id %q", id)
		}
	}
	for _, field := range []string{"-slots", "-client-budget", "-client-active", "-client-idle",
		"-upstream-active", "-upstream-idle", "-used", "-free", "-slot-queue", "-accept"} {
		if !strings.Contains(page, `p + "`+field+`"`) {
			t.Errorf("page builds no per-worker element %q", "worker-ID"+field)
		}
	}
	// Every field of the JSON the page draws.
	for _, key := range []string{"time_ms", "uptime_seconds", "connections", "responses", "workers", "slots",
		"client_budget", "client_active", "client_idle", "upstream_active", "upstream_idle", "accept_paused",
		"slot_queue", "listeners", "backlog", "queue", "pressure", "idle_clients_closed", "idle_upstreams_closed",
		"rotated", "queued", "rejected", "zones", "delayed", "upstreams", "queue_max", "servers", "state",
		"max_conns", "failures", "tls", "handshakes", "handshakes_failed", "handshake_seconds"} {
		if !strings.Contains(page, key) {
			t.Errorf("page never reads %q", key)
		}
	}
}

// pageTag is one start or end tag of the markup.
type pageTag struct {
	name        string
	attrs       string
	closing     bool
	selfClosing bool
	pos         int
}

var pageTagName = regexp.MustCompile(`^</?([a-zA-Z][a-zA-Z0-9-]*)`)

// scanPageTags lists the tags of an HTML document, skipping comments, the
// doctype and the text of script and style elements.
func scanPageTags(s string) ([]pageTag, error) {
	var tags []pageTag
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			break
		}
		i += j
		switch {
		case strings.HasPrefix(s[i:], "<!--"):
			k := strings.Index(s[i:], "-->")
			if k < 0 {
				return nil, pageErrorAt(s, i, "unterminated comment")
			}
			i += k + 3
			continue
		case strings.HasPrefix(s[i:], "<!"):
			k := strings.IndexByte(s[i:], '>')
			if k < 0 {
				return nil, pageErrorAt(s, i, "unterminated declaration")
			}
			i += k + 1
			continue
		}
		m := pageTagName.FindStringSubmatch(s[i:])
		if m == nil {
			return nil, pageErrorAt(s, i, "'<' that starts no tag")
		}
		k := strings.IndexByte(s[i:], '>')
		if k < 0 {
			return nil, pageErrorAt(s, i, "unterminated tag")
		}
		body := s[i+len(m[0]) : i+k]
		tg := pageTag{name: strings.ToLower(m[1]), attrs: body, closing: s[i+1] == '/', pos: i}
		tg.selfClosing = strings.HasSuffix(body, "/")
		if strings.Count(body, `"`)%2 != 0 {
			return nil, pageErrorAt(s, i, "unbalanced quotes in tag")
		}
		tags = append(tags, tg)
		i += k + 1
		if !tg.closing && (tg.name == "script" || tg.name == "style") {
			end := strings.Index(strings.ToLower(s[i:]), "</"+tg.name)
			if end < 0 {
				return nil, pageErrorAt(s, i, "unterminated <"+tg.name+">")
			}
			i += end
		}
	}
	return tags, nil
}

// pageErrorAt describes a fault of the markup at byte i.
func pageErrorAt(s string, i int, what string) error {
	return fmt.Errorf("line %d: %s: %q", 1+strings.Count(s[:i], "\n"), what, pageAround(s, i))
}

// pageAround returns the text near byte i, for messages.
func pageAround(s string, i int) string {
	lo, hi := max(0, i-30), min(len(s), i+50)
	return s[lo:hi]
}
