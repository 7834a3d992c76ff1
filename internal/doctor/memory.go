package doctor

// Memory per connection, in one place so that every memory figure of a
// report rests on the same estimate. The idle figures and the base sizes
// are measurements from bench/run.sh (docs/benchmarks.md, the run with
// headroom: RSS growth over 10,000 idle keep-alive client connections, and
// RSS before them, with 1 and 2 workers). The active figures are the
// buffers each server takes for a request in progress. Kernel memory for
// sockets is in neither: it is the same for both servers, and outside RSS.
const (
	// headroomIdleBytes: 123 bytes of RSS per idle keep-alive connection
	// (docs/benchmarks.md, 1 worker).
	headroomIdleBytes = 123
	// headroomActiveBytes: one 16 KiB buffer from the worker's pool per
	// active connection (internal/proxy, bufSize); a proxied request has
	// two, its client's and its upstream's.
	headroomActiveBytes = 16 << 10
	// headroomBaseBytes and headroomWorkerBytes: 10.7 MiB of RSS with 1
	// worker and 11.2 MiB with 2, before any connection.
	headroomBaseBytes   = 10700 << 10
	headroomWorkerBytes = 500 << 10

	// nginxIdleBytes: 545 bytes of RSS per idle keep-alive connection
	// (docs/benchmarks.md, nginx 1.22 with 1 worker).
	nginxIdleBytes = 545
	// nginxActiveBytes: nginx's default buffers for a proxied request on
	// x86-64 with every one in use: client_header_buffer_size 1k,
	// request_pool_size 4k, proxy_buffer_size 4k and proxy_buffers 8 4k.
	nginxActiveBytes = (1 + 4 + 4 + 8*4) << 10
	// nginxBaseBytes and nginxWorkerBytes: 16.2 MiB of RSS for the master
	// and 1 worker, 25.3 MiB with 2 workers.
	nginxBaseBytes   = 16200 << 10
	nginxWorkerBytes = 9100 << 10
)

// memorySource names the estimate's origin in reports.
const memorySource = "idle connections and base RSS as measured by bench/run.sh in docs/benchmarks.md, buffers as each server takes them"

// memoryModel is the estimate for one server with a number of workers.
func memoryModel(server string, workers int) MemoryModel {
	extra := int64(max(workers, 1) - 1)
	if server == nginx {
		return MemoryModel{
			BaseBytes:    nginxBaseBytes + extra*nginxWorkerBytes,
			IdleBytes:    nginxIdleBytes,
			RequestBytes: 2*nginxIdleBytes + nginxActiveBytes,
			Source:       memorySource,
		}
	}
	return MemoryModel{
		BaseBytes:    headroomBaseBytes + extra*headroomWorkerBytes,
		IdleBytes:    headroomIdleBytes,
		RequestBytes: 2 * (headroomIdleBytes + headroomActiveBytes),
		Source:       memorySource,
	}
}
