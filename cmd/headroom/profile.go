//go:build profile

package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// With -tags profile, HEADROOM_CPUPROFILE=file writes a CPU profile of the
// first HEADROOM_PROFILE_SECONDS (default 10) seconds of the process, and
// HEADROOM_ALLOCPROFILE=file the allocations made in that time (every
// 512th byte sampled), to find what a request allocates.
func init() {
	d := 10 * time.Second
	if s, err := time.ParseDuration(os.Getenv("HEADROOM_PROFILE_SECONDS") + "s"); err == nil {
		d = s
	}
	if path := os.Getenv("HEADROOM_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			time.AfterFunc(d, func() {
				pprof.StopCPUProfile()
				f.Close()
			})
		}
	}
	if path := os.Getenv("HEADROOM_ALLOCPROFILE"); path != "" {
		runtime.MemProfileRate = 512
		time.AfterFunc(d, func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
}
