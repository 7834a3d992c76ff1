// Package doctor reports a server's capacity: from a configuration and
// this machine's limits it predicts how many proxied requests and idle
// keep-alive connections the server holds at once, names the limit that
// binds first, lists every limit that takes part with where its value
// comes from, and orders the changes that raise capacity, each with the
// exact line to write and the capacity after it. Memory per request
// counts the buffers at the sizes the configuration gives them, and the
// directories where request bodies and responses that outgrow them go
// are listed with their free space.
//
// It predicts for nginx as well as for headroom, since the two run out
// differently: nginx's worker processes each have their own open file
// limit and share each worker's slots between clients and upstream
// connections, failing requests when the slots run out; headroom's
// workers are threads of one process sharing one open file limit, and
// keep half of each worker's slots for upstream connections, so that
// clients past the budget wait in the listen backlog instead. headroom's
// figures come from package capacity, the model the runtime sizes itself
// with, so a report and a running server cannot disagree.
package doctor
