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

func get(t *testing.T, iter int, body string) (string, []string) {
	fn := fmt.Sprintf("/tmp/ssitest/html/p/r/%d.html", iter)
	os.WriteFile(fn, []byte(body), 0o644)
	os.Truncate("/tmp/ssitest/logs/error.log", 0)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:18391/p/r/%d.html", iter))
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
		if k := strings.LastIndex(line, " while sending response to client"); k >= 0 {
			line = line[:k]
		}
		gotLog = append(gotLog, line)
	}
	os.Remove(fn)
	return string(got), gotLog
}

func lk(dst, name []byte) ([]byte, bool) {
	if string(name) == "foo" {
		return append(dst, "FooVal"...), true
	}
	return dst, false
}

func parseOne(s string) (Item, bool) {
	var p Parser
	p.Reset(256)
	n, it := p.Next([]byte(s))
	return it, n == len(s) && it.Kind == Command
}

func TestZZNginxEval(t *testing.T) {
	if os.Getenv("SSI_DIFF") == "" {
		t.Skip()
	}
	toks := []string{"$", "{", "}", "f", "o", "O", "F", "\\", "\\\"", "'", "a", "_", "-", ".", "/", "$foo", "${foo}", "$FOO", "\\$", "\\\\", "${"}
	r := rand.New(rand.NewSource(3))
	const errmsg = "[an error occurred while processing the directive]"
	fails := 0
	for iter := 0; iter < 4000 && fails < 10; iter++ {
		var b strings.Builder
		for range 1 + r.Intn(8) {
			b.WriteString(toks[r.Intn(len(toks))])
		}
		v := b.String()
		set := `<!--#set var="v" value="` + v + `" -->`
		it, ok := parseOne(set)
		if !ok || len(it.Params) != 2 {
			continue
		}
		body := set + `|<!--#echo var="v" encoding="none" -->|<!--#include file="` + v + `" set="w" -->`
		ev, err := Eval(nil, it.Params[1].Value, lk)
		want := ""
		var wantLog []string
		if err != nil {
			want = errmsg + "|(none)|" + errmsg
			wantLog = []string{err.Error(), err.Error()}
		} else {
			want = "|" + string(ev) + "|"
			pv, _ := EvalPath(nil, it.Params[1].Value, []byte("/p/r/x.html"), lk)
			_ = pv
			wantLog = nil
		}
		got, gotLog := get(t, iter, body)
		if err == nil {
			// include output varies; check only the echo part
			if i := strings.LastIndex(got, "|"); i >= 0 {
				got = got[:i+1]
			}
			gotLog = nil
		}
		if got != want || strings.Join(gotLog, "\n") != strings.Join(wantLog, "\n") {
			fails++
			t.Errorf("value %q\n nginx %q\n   ssi %q\n nginx log %q\n   ssi log %q", v, got, want, gotLog, wantLog)
		}
	}
}

func TestZZNginxIf(t *testing.T) {
	if os.Getenv("SSI_DIFF") == "" {
		t.Skip()
	}
	toks := []string{"$foo", "$FOO", "${foo}", "foo", "FooVal", "fooval", " ", " ", "=", "!=", "!", "/", "/", "^", "F", "o", "(", ")", "+", "?", "\\", "\\/", "$1", "x", ".", "$", "'", "Ab", "*", "|"}
	r := rand.New(rand.NewSource(5))
	const errmsg = "[an error occurred while processing the directive]"
	fails, ran, trues := 0, 0, 0
	defer func() { t.Logf("ran %d, true %d", ran, trues) }()
	for iter := 0; iter < 6000 && fails < 10; iter++ {
		var b strings.Builder
		for range 1 + r.Intn(7) {
			b.WriteString(toks[r.Intn(len(toks))])
		}
		e := b.String()
		if iter%2 == 0 {
			lefts := []string{"$foo", "$FOO", "${foo}", "x", "", "$nope", "Fo"}
			ops := []string{"=", "!=", " = ", " != "}
			rtoks := []string{"(F)", "(o+)", "(x)?", "^", "$", ".", "(?P<n>o)", "(a|(o))", "o*", "$foo", "F", "V", "\\.", "(X)?"}
			var rb strings.Builder
			for range r.Intn(4) {
				rb.WriteString(rtoks[r.Intn(len(rtoks))])
			}
			e = lefts[r.Intn(len(lefts))] + ops[r.Intn(len(ops))] + "/" + rb.String() + "/"
		}
		ran++
		cmd := `<!--#if expr="` + e + `" -->`
		it, ok := parseOne(cmd)
		if !ok || len(it.Params) != 1 {
			continue
		}
		body := cmd + `T<!--#echo var="0" -->,<!--#echo var="1" -->,<!--#echo var="2" --><!--#else -->F<!--#endif -->`
		var caps []string
		res, err := Condition(it.Params[0].Value, lk, func(subject []byte, idx []int, names []string) {
			for g := 0; g < 3; g++ {
				if 2*g+1 < len(idx) {
					if idx[2*g] < 0 {
						caps = append(caps, "")
					} else {
						caps = append(caps, string(subject[idx[2*g]:idx[2*g+1]]))
					}
				} else {
					caps = append(caps, "(none)")
				}
			}
		})
		var want string
		switch {
		case err != nil:
			want = errmsg + "T(none),(none),(none)" + errmsg + "F" + errmsg
		case res:
			trues++
			if caps == nil {
				caps = []string{"(none)", "(none)", "(none)"}
			}
			want = "T" + strings.Join(caps, ",")
		default:
			want = "F"
		}
		got, gotLog := get(t, iter, body)
		if got != want {
			fails++
			t.Errorf("expr %q\n nginx %q\n   ssi %q (err %v)\n nginx log %q", e, got, want, err, gotLog)
		}
	}
}
