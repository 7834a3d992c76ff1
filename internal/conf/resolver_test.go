package conf

import "testing"

// TestResolverSockets checks the count of name-server sockets a worker
// opens, which the capacity plan sets aside: one per address family the
// resolvers of every level use.
func TestResolverSockets(t *testing.T) {
	for _, tc := range []struct {
		name, http string
		want       int
	}{
		{"none", `server { listen 127.0.0.1:8080; }`, 0},
		{"one IPv4", `resolver 127.0.0.1; server { listen 127.0.0.1:8080; }`, 1},
		{"IPv4 at two levels", `resolver 127.0.0.1; server { listen 127.0.0.1:8080; resolver 127.0.0.2:5353; }`, 1},
		{"both families", `resolver 127.0.0.1; server { listen 127.0.0.1:8080; location / { resolver [::1]; } }`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "events {}\nhttp { " + tc.http + " }\n"
			cfg, err := Load(LoadOptions{File: "t.conf", Prefix: t.TempDir(), Source: []byte(src)})
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.ResolverSockets(); got != tc.want {
				t.Errorf("ResolverSockets() = %d, want %d", got, tc.want)
			}
		})
	}
}
