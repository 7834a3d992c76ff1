package doctor

import (
	"strings"
	"testing"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// TestOpenFileCacheDescriptors checks that the descriptors
// open_file_cache keeps open are counted in each worker, for both
// servers: nginx's come out of each worker process's open file limit,
// headroom's out of each worker's share before its slots, and the report
// says so.
func TestOpenFileCacheDescriptors(t *testing.T) {
	const src = `worker_processes 1;
events { worker_connections 4096; }
http {
    %s
    server {
        listen 127.0.0.1:80;
        location / { root /srv/www; }
        location /app/ { proxy_pass http://127.0.0.1:9000; }
    }
}
`
	for _, tc := range []struct {
		name, server string
		host         capacity.FixedHost
		// proxied and idle are the figures without the cache; with
		// max=300 the binding descriptor limit takes 300 fewer
		// connections (half as many proxied requests).
		proxied, idle int
		cachedProxied int
		cachedIdle    int
	}{
		// nginx with a soft limit of 1024: 1024 - 5 - 2 logs - 1
		// listener - 1 channel = 1015 connections, 715 with the cache.
		{name: "nginx", server: nginx, host: debianMachine(1024, 524288),
			proxied: 507, idle: 1015, cachedProxied: 357, cachedIdle: 715},
		// headroom with a hard limit of 2048: (2048 - 32 - 3 logs - 2)
		// - 64 for temporary files = 1947 slots, 1647 with the cache;
		// clients hold (slots - 1 listener) / 2 of them.
		{name: "headroom", server: headroom, host: debianMachine(1024, 2048),
			proxied: 973, idle: 973, cachedProxied: 823, cachedIdle: 823},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report := func(directive string) *Report {
				t.Helper()
				cfg, err := conf.Load(conf.LoadOptions{File: "filecache.conf", Source: []byte(strings.Replace(src, "%s", directive, 1)), Prefix: "/srv/proxy"})
				if err != nil {
					t.Fatal(err)
				}
				rep, err := Diagnose(cfg, diskHost{tc.host, srvDisks}, Options{Server: tc.server})
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			plain := report("")
			cached := report("open_file_cache max=300;")
			if got := plain.Capacity; got.Proxied != tc.proxied || got.Idle != tc.idle {
				t.Errorf("without the cache: %d proxied, %d idle; want %d, %d", got.Proxied, got.Idle, tc.proxied, tc.idle)
			}
			if got := cached.Capacity; got.Proxied != tc.cachedProxied || got.Idle != tc.cachedIdle {
				t.Errorf("with open_file_cache max=300: %d proxied, %d idle; want %d, %d", got.Proxied, got.Idle, tc.cachedProxied, tc.cachedIdle)
			}
			note := false
			for _, n := range cached.Notes {
				note = note || strings.Contains(n, "open_file_cache keeps up to 300 descriptors")
			}
			if !note {
				t.Errorf("no note about open_file_cache's descriptors in %q", cached.Notes)
			}
		})
	}
}
