package ssi

import (
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestZZNginxDiff(t *testing.T) {
	if os.Getenv("SSI_DIFF") == "" {
		t.Skip()
	}
	toks := []string{"<!--#", "-->", "<", "!", "-", "#", " ", "\t", "a", "b", `="`, `"`, "'", "\\", "=", ">", "aaaaaaaaa", strings.Repeat("c", 33), "<!--", "--", "x"}
	r := rand.New(rand.NewSource(7))
	const errmsg = "[an error occurred while processing the directive]"
	fails := 0
	for iter := 0; iter < 20000 && fails < 10; iter++ {
		var b strings.Builder
		n := 1 + r.Intn(25)
		for range n {
			b.WriteString(toks[r.Intn(len(toks))])
		}
		body := b.String()
		var p Parser
		p.Reset(8)
		var want strings.Builder
		var wantLog []string
		in := []byte(body)
		for {
			k, it := p.Next(in)
			in = in[k:]
			switch it.Kind {
			case Text:
				want.Write(it.Text)
			case Command:
				want.WriteString(errmsg)
				wantLog = append(wantLog, fmt.Sprintf("invalid SSI command: %q", it.Name))
			case Error:
				want.WriteString(errmsg)
				wantLog = append(wantLog, it.Err)
			}
			if it.Kind == None {
				break
			}
		}
		if e := p.PendingErr(); e != "" {
			wantLog = append(wantLog, e)
		}
		want.Write(p.End())
		fn := fmt.Sprintf("/tmp/ssitest/html/r/%d.html", iter)
		os.WriteFile(fn, []byte(body), 0o644)
		os.Truncate("/tmp/ssitest/logs/error.log", 0)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:18391/r/%d.html", iter))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		logb, _ := os.ReadFile("/tmp/ssitest/logs/error.log")
		var gotLog []string
		for _, line := range strings.Split(string(logb), "\n") {
			if !strings.Contains(line, "[error]") {
				continue
			}
			i := strings.Index(line, ": *")
			line = line[i+3:]
			line = line[strings.Index(line, " ")+1:]
			line = line[:strings.LastIndex(line, " while sending response to client")]
			gotLog = append(gotLog, line)
		}
		os.Remove(fn)
		// Go's %q differs from nginx's raw quoting; compare loosely for invalid command lines.
		for i := range wantLog {
			if strings.HasPrefix(wantLog[i], "invalid SSI command: ") {
				wantLog[i] = "invalid SSI command: \"" + unq(wantLog[i][len("invalid SSI command: "):]) + "\""
			}
		}
		if string(got) != want.String() || strings.Join(gotLog, "\n") != strings.Join(wantLog, "\n") {
			fails++
			t.Errorf("body %q\n nginx %q\n   ssi %q\n nginx log %q\n   ssi log %q", body, got, want.String(), gotLog, wantLog)
		}
	}
}

func unq(s string) string {
	var v string
	fmt.Sscanf(s, "%q", &v)
	return v
}
