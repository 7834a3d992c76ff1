//go:build profile

package main

import (
	"os"
	"runtime/pprof"
	"time"
)

// With -tags profile, HEADROOM_CPUPROFILE=file writes a CPU profile of the
// first HEADROOM_PROFILE_SECONDS (default 10) seconds of the process.
func init() {
	path := os.Getenv("HEADROOM_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	pprof.StartCPUProfile(f)
	d := 10 * time.Second
	if s, err := time.ParseDuration(os.Getenv("HEADROOM_PROFILE_SECONDS") + "s"); err == nil {
		d = s
	}
	time.AfterFunc(d, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
