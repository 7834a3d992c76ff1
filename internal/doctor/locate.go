package doctor

import (
	"fmt"
	"path/filepath"
	"strings"

	"headroom/internal/conf"
)

// place is where a directive is written.
type place struct {
	file string
	line int
}

func (p place) ok() bool { return p.file != "" }

// places are the main and events directives a report names. conf.Config
// keeps their values but not where they were written, so the files read
// are parsed again (without includes: every file read is in Config.Files).
type places struct {
	workerProcesses, workerConnections, workerRlimit place
	events, pid                                      place
}

// locate finds the directives. The names searched for exist only in the
// main and events contexts, so their first occurrence at any depth is the
// one in effect (nginx refuses duplicates).
func locate(cfg *conf.Config) places {
	var ps places
	for _, f := range cfg.Files {
		nodes, _ := conf.Parse(f.Path, f.Content)
		walk(nodes, func(n *conf.Node) {
			var p *place
			switch n.Name {
			case "worker_processes":
				p = &ps.workerProcesses
			case "worker_connections":
				p = &ps.workerConnections
			case "worker_rlimit_nofile":
				p = &ps.workerRlimit
			case "events":
				p = &ps.events
			case "pid":
				p = &ps.pid
			}
			if p != nil && !p.ok() {
				*p = place{n.File, n.Line}
			}
		})
	}
	return ps
}

func walk(nodes []*conf.Node, f func(*conf.Node)) {
	for _, n := range nodes {
		f(n)
		walk(n.Block, f)
	}
}

// namer shows file names relative to the main file's directory, so that
// "nginx.conf:3" reads at a glance; the report's header has the full path.
type namer struct{ dir string }

func newNamer(cfg *conf.Config) namer {
	return namer{dir: filepath.Dir(cfg.File)}
}

func (n namer) file(path string) string {
	if rel, err := filepath.Rel(n.dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func (n namer) at(file string, line int) string {
	return fmt.Sprintf("%s:%d", n.file(file), line)
}

func (n namer) place(p place) string { return n.at(p.file, p.line) }
