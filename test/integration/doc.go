// Package integration holds the end-to-end and differential tests of
// headroom. Every test starts a real proxy process from a generated nginx
// configuration and talks to it over loopback TCP, with upstream servers
// running inside the test process. The same tests run against headroom and
// against nginx, which is the reference for every expected status, header
// and byte; see test/README.md.
package integration
