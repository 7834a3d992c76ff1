// Package http1 is a sans-I/O HTTP/1.1 codec for a reverse proxy.
//
// It turns bytes into parsed request and response heads and decodes and
// encodes chunked bodies. It never reads from or writes to a socket, never
// starts a goroutine and never allocates on the common path: every parsed
// field is a subslice of the caller's buffer, and the caller passes a
// Request or Response to reuse, together with the header slice it keeps
// across calls. This lets an event loop that owns its connections call the
// codec directly on its read buffer.
//
// The parsers are deliberately strict. A reverse proxy is the first line of
// defence against request smuggling, so anything that two HTTP
// implementations could frame differently (Content-Length together with
// Transfer-Encoding, duplicate Content-Length, obs-fold, whitespace before
// the colon, bare CR, unknown transfer codings, malformed chunk sizes) is
// rejected rather than repaired. Where nginx gives a specific answer, the
// codec gives the same status code, so that clients see the same behaviour
// as behind nginx.
//
// Parsing is stateless and prefix-consistent: when ParseRequest returns
// ErrNeedMore for a prefix of the input, calling it again on the longer
// input yields exactly what a single call on the longer input yields, and
// an error reported for a prefix is the error the whole input gets. Errors
// are decided in byte order, so a limit error is reported as soon as the
// bytes that exceed the limit are present, and a caller whose buffer holds
// MaxHeaderBytes bytes always gets a definite answer.
package http1
