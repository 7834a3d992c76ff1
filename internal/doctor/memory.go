package doctor

import (
	"fmt"
	"strings"
)

// Memory per connection, in one place so that every memory figure of a
// report rests on the same estimate. The idle figures and the base sizes
// are measurements from bench/run.sh (docs/benchmarks.md, the run with
// headroom: RSS growth over 10,000 idle keep-alive client connections, and
// RSS before them, with 1 and 2 workers). The active figures are the
// buffers each server takes for a request in progress, at the sizes the
// configuration gives them: the most any location that proxies lets one
// request take. Kernel memory for sockets is in neither: it is the same
// for both servers, and outside RSS.
const (
	// headroomIdleBytes: 344 bytes of RSS per idle keep-alive connection
	// (docs/benchmarks.md, "memory per idle connection again", 1 worker
	// and 9000 connections; later runs measured 285 to 358).
	headroomIdleBytes = 344
	// headroomPoolBytes is the size of the buffers of each worker's pool
	// (internal/proxy, bufSize); a proxied request takes up to
	// headroomPooled of them: its client's in and out, its upstream's in
	// and out.
	headroomPoolBytes = 16 << 10
	headroomPooled    = 4
	// headroomBaseBytes and headroomWorkerBytes: 10.7 MiB of RSS with 1
	// worker and 11.2 MiB with 2, before any connection.
	headroomBaseBytes   = 10700 << 10
	headroomWorkerBytes = 500 << 10

	// nginxIdleBytes: 545 bytes of RSS per idle keep-alive connection
	// (docs/benchmarks.md, nginx 1.22 with 1 worker).
	nginxIdleBytes = 545
	// nginxHeaderBytes and nginxPoolBytes: client_header_buffer_size 1k
	// and request_pool_size 4k, nginx's defaults on x86-64 (headroom does
	// not read those two directives, so their defaults are counted).
	nginxHeaderBytes = 1 << 10
	nginxPoolBytes   = 4 << 10
	// nginxBaseBytes and nginxWorkerBytes: 16.2 MiB of RSS for the master
	// and 1 worker, 25.3 MiB with 2 workers.
	nginxBaseBytes   = 16200 << 10
	nginxWorkerBytes = 9100 << 10
)

// memorySource names the estimate's origin in reports, and
// memoryTLSSource the TLS figures' when they take part.
const (
	memorySource    = "idle connections and base RSS as measured by bench/run.sh in docs/benchmarks.md, buffers at their configured sizes as each server takes them"
	memoryTLSSource = "; TLS connections as measured by bench/tls.sh"
)

// level is one location that proxies, with the settings that size what
// a request there holds: its buffers in memory and its temporary files.
type level struct {
	// name is "location /api/" and at where it is ("site.conf:25").
	name, at string
	// bodyBuffer is client_body_buffer_size; bodyInFile is set with
	// client_body_in_file_only, which writes a body straight to a file.
	bodyBuffer int
	bodyInFile bool
	// bodyToFile is set when a body larger than bodyBuffer may be
	// written to a file: proxy_request_buffering on, an HTTP/1.0
	// upstream (a chunked body is read whole for it), or
	// client_body_in_file_only. maxBody is client_max_body_size (0: no
	// bound).
	bodyToFile bool
	maxBody    int64
	// headBuffer is proxy_buffer_size, the upstream response head's
	// buffer.
	headBuffer int
	// spooled is set when a response may be buffered: proxy_buffering
	// on, or an upstream's "X-Accel-Buffering: yes" when it is not
	// ignored. buffersNum and buffersSize are proxy_buffers; maxTempFile
	// proxy_max_temp_file_size.
	spooled                 bool
	buffersNum, buffersSize int
	maxTempFile             int64
	// bodyTemp and proxyTemp are client_body_temp_path and
	// proxy_temp_path.
	bodyTemp, proxyTemp string
}

// requestBuffers is what one request at l holds in buffers when every
// one is in use, for server, with the terms that make it up.
func requestBuffers(server string, l *level) (int64, []string) {
	var total int64
	var terms []string
	add := func(n int, term string) {
		total += int64(n)
		terms = append(terms, term)
	}
	if server == nginx {
		add(nginxHeaderBytes, "client_header_buffer_size 1k")
		add(nginxPoolBytes, "request_pool_size 4k")
		if l == nil {
			return total, terms
		}
		// nginx reads a body into a buffer of client_body_buffer_size,
		// buffered or not; a response head into proxy_buffer_size, and a
		// buffered response into proxy_buffers.
		add(l.bodyBuffer, "client_body_buffer_size "+sizeText(int64(l.bodyBuffer)))
		add(l.headBuffer, "proxy_buffer_size "+sizeText(int64(l.headBuffer)))
		if l.spooled {
			add(l.buffersNum*l.buffersSize, fmt.Sprintf("proxy_buffers %d %s", l.buffersNum, sizeText(int64(l.buffersSize))))
		}
		return total, terms
	}
	pooled := headroomPooled
	if l == nil {
		add(pooled*headroomPoolBytes, fmt.Sprintf("%d x 16 KiB pooled", pooled))
		return total, terms
	}
	// A response head larger than a pooled buffer is read into a buffer
	// of proxy_buffer_size instead of the upstream's pooled one.
	bigHead := l.headBuffer > headroomPoolBytes
	if bigHead {
		pooled--
	}
	add(pooled*headroomPoolBytes, fmt.Sprintf("%d x 16 KiB pooled", pooled))
	if bigHead {
		add(l.headBuffer, "proxy_buffer_size "+sizeText(int64(l.headBuffer)))
	}
	// A body is held in memory up to client_body_buffer_size, before it
	// goes upstream whole (a chunked body that arrived with its head is
	// held so even with proxy_request_buffering off), unless
	// client_body_in_file_only writes it straight to a file.
	if !l.bodyInFile {
		add(l.bodyBuffer, "client_body_buffer_size "+sizeText(int64(l.bodyBuffer)))
	}
	// A client slower than its upstream leaves the response in a spool:
	// proxy_buffers in memory, framed through a pooled scratch buffer.
	if l.spooled {
		add(l.buffersNum*l.buffersSize, fmt.Sprintf("proxy_buffers %d %s", l.buffersNum, sizeText(int64(l.buffersSize))))
		add(headroomPoolBytes, "a 16 KiB scratch buffer")
	}
	return total, terms
}

// memoryModel is the estimate for p's server with a number of workers:
// a proxied request costs its two connections and the buffers of the
// location that lets a request take the most.
func memoryModel(p params, workers int) MemoryModel {
	extra := int64(max(workers, 1) - 1)
	mm := MemoryModel{Source: memorySource}
	var worst *level
	var active int64
	var terms []string
	for i := range p.levels {
		l := &p.levels[i]
		if n, ts := requestBuffers(p.server, l); worst == nil || n > active {
			worst, active, terms = l, n, ts
		}
	}
	if worst == nil {
		active, terms = requestBuffers(p.server, nil)
	}
	mm.Buffers = strings.Join(terms, " + ")
	if worst != nil {
		mm.BuffersWhere = worst.name + " at " + worst.at
		if n := len(p.levels); n > 1 {
			mm.BuffersWhere += fmt.Sprintf(", the most of the %d locations that proxy", n)
		}
	}
	if p.server == nginx {
		mm.BaseBytes = nginxBaseBytes + extra*nginxWorkerBytes
	} else {
		mm.BaseBytes = headroomBaseBytes + extra*headroomWorkerBytes
	}
	// A client of an address that listens with ssl holds its TLS state
	// for as long as it is open, idle or not: about twenty times a plain
	// connection in headroom. With some addresses plain, every client is
	// counted as a TLS one, which bounds the estimate from above.
	mm.PlainIdleBytes = plainIdleBytes(p.server)
	mm.IdleBytes, mm.TLS, mm.UpstreamTLS = mm.PlainIdleBytes, p.tlsListens > 0, p.upstreamTLS
	upstream := mm.PlainIdleBytes
	if mm.TLS {
		mm.IdleBytes = tlsIdleBytes(p.server)
	}
	if mm.UpstreamTLS {
		upstream = tlsIdleBytes(p.server)
	}
	if mm.TLS || mm.UpstreamTLS {
		mm.Source += memoryTLSSource
	}
	mm.RequestBytes = mm.IdleBytes + upstream + active
	return mm
}

// sizeText writes a size as the configuration would: "8k", "1024m", or
// bytes.
func sizeText(n int64) string {
	switch {
	case n != 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dm", n>>20)
	case n != 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%dk", n>>10)
	}
	return fmt.Sprintf("%d", n)
}
