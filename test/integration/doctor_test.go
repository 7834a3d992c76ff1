package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// startLine is headroom's start-up message with its plan.
var startLine = regexp.MustCompile(`started: (\d+) workers, (\d+) connection slots each \((\d+) for clients`)

// TestDoctorAgreesWithRuntime runs headroom and "headroom doctor" on the
// same configuration under the same limits: the slots per worker and the
// requests each worker can carry that doctor predicts are what the
// running server plans, because both come from the one capacity model.
func TestDoctorAgreesWithRuntime(t *testing.T) {
	for _, tg := range targets {
		if !tg.isHeadroom() {
			continue
		}
		t.Run(tg.name, func(t *testing.T) {
			tg.require(t)
			for _, wc := range []int{0, 300} {
				pc := proxyConfig{workerConnections: wc, http: `
    server {
        listen 127.0.0.1:{{PORT}};
        location / { return 200 "ok\n"; }
    }`}
				if wc == 0 {
					// No worker_connections: derived from the open file limit.
					pc.workerConnections = -1
				}
				p := startProxyConfig(t, tg, pc)
				m := startLine.FindStringSubmatch(p.readLog("error.log"))
				if m == nil {
					t.Fatalf("no start line in the error log:\n%s", p.readLog("error.log"))
				}
				workers, _ := strconv.Atoi(m[1])
				slots, _ := strconv.Atoi(m[2])
				clients, _ := strconv.Atoi(m[3])
				out, stderr, code := runCLI(t, tg, "doctor", "--json", "--server", "headroom", "-p", p.prefix+"/", "-c", p.conf)
				if code != 0 {
					t.Fatalf("doctor: exit %d: %s", code, stderr)
				}
				var rep struct {
					Capacity struct {
						Workers          int `json:"workers"`
						SlotsPerWorker   int `json:"slots_per_worker"`
						ProxiedPerWorker int `json:"proxied_per_worker"`
					} `json:"capacity"`
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("doctor --json: %v\n%s", err, out)
				}
				c := rep.Capacity
				got := fmt.Sprintf("%d workers, %d slots, %d requests each", c.Workers, c.SlotsPerWorker, c.ProxiedPerWorker)
				want := fmt.Sprintf("%d workers, %d slots, %d requests each", workers, slots, clients)
				t.Logf("worker_connections %d: %s", wc, got)
				if got != want {
					t.Errorf("worker_connections %d: doctor says %s, the server plans %s", wc, got, want)
				}
				p.stop()
			}
		})
	}
}
