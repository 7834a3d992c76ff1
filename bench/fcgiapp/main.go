// Command fcgiapp is the benchmark's FastCGI application: it answers every
// request with the same 1 KiB text/html page, the way a small PHP page
// would, and keeps the connection when the proxy asks it to
// (fastcgi_keep_conn), so that proxies can keep their FastCGI connections.
// It is Go's net/http/fcgi, which serves each connection on a goroutine of
// its own: the proxies' CPU time per request is what the benchmark
// compares, and the application only has to keep up.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/fcgi"
	"strings"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18482", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	page := []byte("<html><body>" + strings.Repeat("x", 1024-len("<html><body></body></html>")) + "</body></html>")
	log.Fatal(fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	})))
}
