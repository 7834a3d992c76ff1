package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// chromiumBin is Debian's chromium package's launcher.
const chromiumBin = "/usr/bin/chromium"

// TestStatusPage opens the status_page location in headless Chromium while
// requests flow through the proxy, and reads the page's document as it
// updates: the script must poll the JSON every second, count its samples,
// show each worker's slots and budget, and the requests figure must grow
// from one sample to the next. nginx has no status_page, so only headroom
// is a target.
//
// Chromium is driven through its DevTools protocol on the pipe that
// --remote-debugging-pipe opens, in real time: --dump-dom with
// --virtual-time-budget runs the page's one-second timer in virtual time,
// so all its polls land within a few milliseconds of each other and the
// figures have no time to move.
func TestStatusPage(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			tg.require(t)
			if _, err := os.Stat(chromiumBin); err != nil {
				t.Skipf("chromium not installed (%s: %v): status page test skipped; apt-get install chromium", chromiumBin, err)
			}
			statusPage(t, tg)
		})
	}
}

// pageView is what the test reads from the status page's document.
type pageView struct {
	Samples       string `json:"samples"`
	History       string `json:"history"`
	RequestsTotal string `json:"requestsTotal"`
	RequestsText  string `json:"requestsText"`
	RequestsRate  string `json:"requestsRate"`
	PollState     string `json:"pollState"`
	Workers       []struct {
		ID         string `json:"id"`
		Slots      string `json:"slots"`
		SlotsText  string `json:"slotsText"`
		Budget     string `json:"budget"`
		BudgetText string `json:"budgetText"`
		ChartPath  string `json:"chartPath"`
	} `json:"workers"`
	Listener       string `json:"listener"`
	ServerState    string `json:"serverState"`
	ServerRequests string `json:"serverRequests"`
}

// pageScript collects a pageView from the document.
const pageScript = `(() => {
	const el = (id) => document.getElementById(id);
	const text = (id) => el(id) ? el(id).textContent : "";
	const value = (id) => el(id) ? (el(id).dataset.value || "") : "";
	return {
		samples: document.body ? (document.body.dataset.samples || "") : "",
		history: text("history"),
		requestsTotal: value("requests-total"),
		requestsText: text("requests-total"),
		requestsRate: value("requests-rate"),
		pollState: text("poll-state"),
		workers: Array.from(document.querySelectorAll(".worker[data-worker]")).map((w) => {
			const p = "worker-" + w.dataset.worker;
			const area = el(p + "-area-ca");
			return {
				id: w.dataset.worker,
				slots: value(p + "-slots"), slotsText: text(p + "-slots"),
				budget: value(p + "-client-budget"), budgetText: text(p + "-client-budget"),
				chartPath: area ? area.getAttribute("d") : "",
			};
		}),
		listener: el("listener-0") ? el("listener-0").dataset.address : "",
		serverState: text("upstream-0-server-0-state"),
		serverRequests: value("upstream-0-server-0-requests"),
	};
})()`

func statusPage(t *testing.T, tg *target) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "backend\n")
	}))
	t.Cleanup(backend.Close)
	upAddr := strings.TrimPrefix(backend.URL, "http://")
	p := startProxyConfig(t, tg, proxyConfig{workerConnections: 512, http: fmt.Sprintf(`
    upstream backend {
        server %s;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:{{PORT}};
        location /status { status_page; }
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`, upAddr)})

	// The JSON the page reads, as a client of the endpoint sees it.
	var snap struct {
		Workers []struct {
			ID           int `json:"id"`
			Slots        int `json:"slots"`
			ClientBudget int `json:"client_budget"`
		} `json:"workers"`
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(p.url("/status?format=json"))
	if err != nil {
		t.Fatalf("GET /status?format=json: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET /status?format=json: %d %q, want 200 application/json; body %q", resp.StatusCode, ct, body)
	}
	if err := json.Unmarshal(body, &snap); err != nil || len(snap.Workers) == 0 {
		t.Fatalf("status JSON without workers (%v): %s", err, body)
	}
	st, hdr, page := get(t, p.url("/status"))
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.HasPrefix(page, "<!DOCTYPE html>") {
		t.Fatalf("GET /status: %d %q %.40q, want 200, an HTML page", st, hdr.Get("Content-Type"), page)
	}

	// Steady load for as long as the browser looks at the page.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load, stopLoad := context.WithCancel(ctx)
	var loaded atomic.Int64
	var wg sync.WaitGroup
	const loaders = 4
	tr := &http.Transport{MaxIdleConnsPerHost: loaders}
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	for i := 0; i < loaders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; load.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(load, "GET", p.url(fmt.Sprintf("/load/%d/%d", i, n)), nil)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						loaded.Add(1)
					}
				}
				select {
				case <-load.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
		}(i)
	}
	defer func() {
		stopLoad()
		wg.Wait()
		tr.CloseIdleConnections()
	}()

	start := time.Now()
	b := startChromium(t)
	if err := b.open(ctx, p.url("/status")); err != nil {
		t.Fatalf("opening the status page in chromium: %v\n%s", err, b.stderrTail())
	}

	// Wait for four samples: three intervals of one second. Reading may
	// fail while the navigation replaces the document.
	var v pageView
	for {
		err := b.evaluate(ctx, pageScript, &v)
		if n, _ := strconv.Atoi(v.Samples); err == nil && n >= 4 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("after %v the page has %q samples, want 4 (poll state %q, last error %v)\n%s",
				time.Since(start).Round(time.Millisecond), v.Samples, v.PollState, err, b.stderrTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("page after %v: %d samples, requests %s (%s), %s/s; %d load requests answered",
		time.Since(start).Round(time.Millisecond), len(strings.Split(v.History, ",")), v.RequestsTotal, v.RequestsText, v.RequestsRate, loaded.Load())
	for _, e := range b.exceptions() {
		t.Errorf("page script: %s", e)
	}

	// The requests figure moves.
	var hist []uint64
	for _, f := range strings.Split(v.History, ",") {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("#history %q: %v", v.History, err)
		}
		hist = append(hist, n)
	}
	if len(hist) < 3 {
		t.Fatalf("#history holds %d samples (%q), want at least 3", len(hist), v.History)
	}
	if first, last := hist[0], hist[len(hist)-1]; last <= first {
		t.Errorf("requests did not grow across the samples: %v", hist)
	}
	if want := strconv.FormatUint(hist[len(hist)-1], 10); v.RequestsTotal != want {
		t.Errorf("#requests-total is %q, want the last sample's %s", v.RequestsTotal, want)
	}
	if n, err := strconv.ParseUint(v.RequestsTotal, 10, 64); err != nil || v.RequestsText != groupThousands(n) {
		t.Errorf("#requests-total reads %q, want %q", v.RequestsText, groupThousands(n))
	}
	if r, err := strconv.ParseFloat(v.RequestsRate, 64); err != nil || r <= 0 {
		t.Errorf("#requests-rate is %q, want a positive rate", v.RequestsRate)
	}

	// Every worker's slots and client budget are shown, with a chart.
	if len(v.Workers) != len(snap.Workers) {
		t.Fatalf("page shows %d workers, the JSON has %d", len(v.Workers), len(snap.Workers))
	}
	for i, w := range v.Workers {
		want := snap.Workers[i]
		if w.ID != strconv.Itoa(want.ID) || w.Slots != strconv.Itoa(want.Slots) || w.Budget != strconv.Itoa(want.ClientBudget) {
			t.Errorf("worker %s: slots %q, client budget %q; want worker %d with %d and %d",
				w.ID, w.Slots, w.Budget, want.ID, want.Slots, want.ClientBudget)
		}
		if w.SlotsText != groupThousands(uint64(want.Slots)) || w.BudgetText != groupThousands(uint64(want.ClientBudget)) {
			t.Errorf("worker %s reads %q slots and %q client budget", w.ID, w.SlotsText, w.BudgetText)
		}
		if !strings.HasPrefix(w.ChartPath, "M") {
			t.Errorf("worker %s: chart not drawn (path %q)", w.ID, w.ChartPath)
		}
	}
	if v.Listener != p.addr {
		t.Errorf("first listener shown is %q, want %s", v.Listener, p.addr)
	}
	if n, _ := strconv.Atoi(v.ServerRequests); v.ServerState != "up" || n == 0 {
		t.Errorf("upstream server shown as %q with %q requests, want up and some", v.ServerState, v.ServerRequests)
	}
	if loaded.Load() == 0 {
		t.Error("no load request was answered 200")
	}
}

// groupThousands writes n with commas between groups of three digits, as
// the page shows figures.
func groupThousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// browser is a headless Chromium driven through the DevTools protocol on
// the pipe that --remote-debugging-pipe opens: JSON messages ended by a NUL
// byte, commands on the browser's descriptor 3, answers and events on its
// descriptor 4.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	done    chan struct{}
	toPipe  *os.File
	logPath string
	// tab addresses commands to the attached tab (the protocol's
	// sessionId); empty for the browser itself.
	tab string

	mu      sync.Mutex
	next    int
	waiting map[int]chan devtoolsMessage
	errs    []string
}

// devtoolsMessage is a command's answer or an event.
type devtoolsMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	TabID  string          `json:"sessionId"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// startChromium starts the browser with an empty profile; it is closed,
// and its process group killed, when the test ends.
func startChromium(t *testing.T) *browser {
	// Output goes to a file rather than through a pipe, so that waiting
	// for the browser does not also wait for child processes that hold
	// the pipe.
	logPath := filepath.Join(t.TempDir(), "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	profile := t.TempDir()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, toPipe: cmdW, logPath: logPath,
		waiting: map[int]chan devtoolsMessage{}, done: make(chan struct{})}
	b.cmd = exec.Command(chromiumBin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-proxy-server", "--no-first-run", "--no-default-browser-check",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows",
		"--window-size=1280,1000", "--user-data-dir="+profile,
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, evW}
	b.cmd.Stdout = logFile
	b.cmd.Stderr = logFile
	// Its own process group, so that the renderer and other child processes
	// are killed with it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", chromiumBin, err)
	}
	cmdR.Close()
	evW.Close()
	go func() {
		b.cmd.Wait()
		close(b.done)
	}()
	go b.read(evR)
	// Registered after TempDir, so it runs first: the profile directory is
	// removed once the browser is gone.
	t.Cleanup(b.close)
	return b
}

// read dispatches answers to their callers and keeps the page's uncaught
// exceptions and console errors.
func (b *browser) read(r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.waiting {
				close(ch)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		var m devtoolsMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		switch {
		case m.ID != 0:
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case m.Method == "Runtime.exceptionThrown":
			b.mu.Lock()
			b.errs = append(b.errs, "uncaught exception: "+string(m.Params))
			b.mu.Unlock()
		case m.Method == "Runtime.consoleAPICalled" && bytes.Contains(m.Params, []byte(`"type":"error"`)):
			b.mu.Lock()
			b.errs = append(b.errs, "console error: "+string(m.Params))
			b.mu.Unlock()
		}
	}
}

// call sends one command to the attached tab (to the browser before one
// is attached) and decodes its result into out (when not nil).
func (b *browser) call(ctx context.Context, method string, params, out any) error {
	return b.callIn(ctx, b.tab, method, params, out)
}

// callIn sends one command to the given tab; "" is the browser itself.
func (b *browser) callIn(ctx context.Context, tab, method string, params, out any) error {
	ch := make(chan devtoolsMessage, 1)
	b.mu.Lock()
	b.next++
	id := b.next
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if tab != "" {
		msg["sessionId"] = tab
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.toPipe.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: chromium closed its pipe", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: no answer: %w", method, ctx.Err())
	}
}

// open creates a tab, attaches to it, starts collecting its errors and
// loads url in it.
func (b *browser) open(ctx context.Context, url string) error {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.callIn(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return err
	}
	var attached struct {
		TabID string `json:"sessionId"`
	}
	if err := b.callIn(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return err
	}
	b.tab = attached.TabID
	if err := b.call(ctx, "Runtime.enable", map[string]any{}, nil); err != nil {
		return err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return errors.New("navigating to " + url + ": " + nav.ErrorText)
	}
	return nil
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func (b *browser) evaluate(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	err := b.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if err != nil {
		return err
	}
	if len(res.ExceptionDetails) > 0 {
		return fmt.Errorf("evaluating: %s", res.ExceptionDetails)
	}
	return json.Unmarshal(res.Result.Value, out)
}

// exceptions returns the page's uncaught exceptions and console errors.
func (b *browser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// stderrTail is the end of what chromium printed, for failure messages.
func (b *browser) stderrTail() string {
	out, _ := os.ReadFile(b.logPath)
	if len(out) > 8000 {
		out = out[len(out)-8000:]
	}
	return "chromium output (end):\n" + string(out)
}

// close asks the browser to quit, then kills its process group.
func (b *browser) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	b.callIn(ctx, "", "Browser.close", map[string]any{}, nil)
	cancel()
	b.toPipe.Close()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.t.Logf("chromium still running 5s after Browser.close; killing it")
	}
	// Child processes that outlived the browser process go with its group.
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.t.Errorf("chromium did not exit after SIGKILL")
	}
}
