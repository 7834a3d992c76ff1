package ssi

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestZZStrftimeC(t *testing.T) {
	if os.Getenv("SSI_DIFF") == "" {
		t.Skip()
	}
	epochs := []int64{1709622489, 1609459200, 1704067199, 1709668800 + 3600*13, 0, 1234567890, 951782400, 1735603200, 1230768000}
	convs := "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%"
	var fmts []string
	for _, c := range convs {
		for _, pre := range []string{"%", "%_", "%-", "%0", "%^", "%#", "%10", "%_5", "%E", "%O", "%-3", "%03"} {
			fmts = append(fmts, pre+string(c))
		}
	}
	fmts = append(fmts, "%Q", "abc%", "%", "%5", "%-", "x%Ey", "%%%", "%q%J", "%EQ", "%^a %#A %#Z %#p %^p", "%+", "%:z")
	est, _ := time.LoadLocation("America/New_York")
	for _, e := range epochs {
		for _, f := range fmts {
			for _, mode := range []string{"g", "l"} {
				cmd := exec.Command("/tmp/sft/s", strconv.FormatInt(e, 10), mode, f)
				cmd.Env = []string{"TZ=America/New_York"}
				out, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				tm := time.Unix(e, 0).UTC()
				if mode == "l" {
					tm = tm.In(est)
				}
				got := string(Strftime(nil, []byte(f), tm))
				if got != string(out) {
					t.Errorf("%d %s %q: got %q, C %q", e, mode, f, got, out)
				}
			}
		}
	}
}
