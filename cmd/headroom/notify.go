package main

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// notify sends a state line to systemd when it runs headroom as a
// Type=notify service (sd_notify's protocol: one datagram to the socket
// named by NOTIFY_SOCKET, "@" standing for the abstract namespace). It
// does nothing elsewhere.
func notify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Write([]byte(state))
}

// monotonicMicros is CLOCK_MONOTONIC in microseconds, which systemd
// wants with RELOADING=1 to match the reload with its READY=1.
func monotonicMicros() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}
