package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// DiskHost is a capacity.Host that also reads how much space a file
// system has free. Diagnose reads the temporary file directories through
// it when h is one; capacity.System reads this machine's file systems
// with statfs(2), and any other Host leaves the free space unknown, since
// it describes a machine whose disks it does not say.
type DiskHost interface {
	capacity.Host
	// Statfs reads the file system that holds path, as statfs(2) does.
	// When path does not exist, the error satisfies
	// errors.Is(err, fs.ErrNotExist).
	Statfs(path string) (DiskSpace, error)
}

// DiskSpace is what statfs(2) says of a file system.
type DiskSpace struct {
	// Free is the space available to an unprivileged process (f_bavail
	// blocks), Total the file system's size.
	Free, Total uint64
}

// tempWarnFloor is the least free space doctor is content with in a
// directory where temporary files go, however small the files: 1 GiB,
// nginx's default proxy_max_temp_file_size, the room nginx's defaults
// let a single response take.
const tempWarnFloor = 1 << 30

// statfser reads a file system's free space; nil when unknown.
type statfser func(path string) (DiskSpace, error)

// diskReader is how Diagnose reads free space from h.
func diskReader(h capacity.Host) statfser {
	if d, ok := h.(DiskHost); ok {
		return d.Statfs
	}
	if h == capacity.System {
		return systemStatfs
	}
	return nil
}

// systemStatfs reads this machine's file system with statfs(2).
func systemStatfs(path string) (DiskSpace, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return DiskSpace{}, err
	}
	bsize := uint64(st.Bsize)
	return DiskSpace{Free: uint64(st.Bavail) * bsize, Total: uint64(st.Blocks) * bsize}, nil
}

// tempUse is what the locations that proxy write in one directory.
type tempUse struct {
	path string
	// bodies and responses are set when the directory is a
	// client_body_temp_path or a proxy_temp_path of some location.
	bodies, responses bool
	// bodyFiles and responseFiles are set when a location may write
	// such files there; maxBody (-1: no bound) and maxResponse are the
	// largest file sizes.
	bodyFiles, responseFiles bool
	maxBody, maxResponse     int64
}

// tempUses gathers the distinct temporary file directories of the
// locations that proxy, in the order they first appear.
func tempUses(levels []level) []*tempUse {
	var out []*tempUse
	byPath := map[string]*tempUse{}
	get := func(path string) *tempUse {
		u := byPath[path]
		if u == nil {
			u = &tempUse{path: path}
			byPath[path] = u
			out = append(out, u)
		}
		return u
	}
	for _, l := range levels {
		b := get(l.bodyTemp)
		b.bodies = true
		if l.bodyToFile {
			b.bodyFiles = true
			switch {
			case l.maxBody <= 0 || b.maxBody < 0:
				b.maxBody = -1
			default:
				b.maxBody = max(b.maxBody, l.maxBody)
			}
		}
		r := get(l.proxyTemp)
		r.responses = true
		if l.spooled && l.maxTempFile > 0 {
			r.responseFiles = true
			r.maxResponse = max(r.maxResponse, l.maxTempFile)
		}
	}
	return out
}

// tempSources finds where each temporary file directory is named: the
// first client_body_temp_path or proxy_temp_path that resolves to it.
func tempSources(cfg *conf.Config, nm namer) map[string]string {
	out := map[string]string{}
	for _, f := range cfg.Files {
		nodes, _ := conf.Parse(f.Path, f.Content)
		walk(nodes, func(n *conf.Node) {
			if (n.Name != "client_body_temp_path" && n.Name != "proxy_temp_path") || len(n.Args) == 0 {
				return
			}
			path := n.Args[0]
			if !filepath.IsAbs(path) && cfg.Prefix != "" {
				path = strings.TrimSuffix(cfg.Prefix, "/") + "/" + path
			}
			if _, ok := out[path]; !ok {
				out[path] = nm.at(n.File, n.Line)
			}
		})
	}
	return out
}

// tempDirs reports each temporary file directory with its free space,
// read with statfs (nil: unknown) on the directory or, when it does not
// exist yet, its nearest parent that does.
func tempDirs(cfg *conf.Config, levels []level, statfs statfser, nm namer) []TempDir {
	sources := tempSources(cfg, nm)
	out := []TempDir{}
	for _, u := range tempUses(levels) {
		d := TempDir{Path: u.path, For: []string{}, Source: "default"}
		if s, ok := sources[u.path]; ok {
			d.Source = s
		}
		if u.bodies {
			d.For = append(d.For, "client_body_temp_path")
		}
		if u.responses {
			d.For = append(d.For, "proxy_temp_path")
		}
		readFree(&d, statfs)

		// What one request writes here at most, and the terms of it.
		var need int64
		var terms []string
		bounded := true
		if u.bodyFiles {
			if u.maxBody < 0 {
				bounded = false
				terms = append(terms, "client_max_body_size 0")
			} else {
				need += u.maxBody
				terms = append(terms, "client_max_body_size "+sizeText(u.maxBody))
			}
		}
		if u.responseFiles {
			need += u.maxResponse
			terms = append(terms, "proxy_max_temp_file_size "+sizeText(u.maxResponse))
		}
		var notes []string
		switch {
		case len(terms) == 0:
			d.RequestBytes = new(int64)
			notes = append(notes, "no files are written here: "+noFilesReason(u))
		case !bounded:
			d.WarnBelowBytes = tempWarnFloor
			notes = append(notes, "a request body has no bound here (client_max_body_size 0)")
		default:
			d.RequestBytes = &need
			d.WarnBelowBytes = max(need, tempWarnFloor)
			note := fmt.Sprintf("one request writes up to %s here (%s)", bytesText(need), strings.Join(terms, " + "))
			if d.FreeBytes != nil && need > 0 && *d.FreeBytes >= need {
				note += fmt.Sprintf("; room for %d at once", *d.FreeBytes/need)
			}
			notes = append(notes, note)
		}
		if d.StatfsPath != "" && !d.Exists {
			notes = append(notes, "not created yet (the server creates it at start): the free space is that of "+d.StatfsPath)
		}
		d.Note = strings.Join(notes, "; ")
		if d.FreeBytes != nil && d.WarnBelowBytes > 0 && *d.FreeBytes < d.WarnBelowBytes {
			below := "1 GiB"
			if d.WarnBelowBytes > tempWarnFloor {
				below = fmt.Sprintf("the %s one request may write here", bytesText(d.WarnBelowBytes))
			}
			var fails []string
			if u.bodyFiles {
				fails = append(fails, "a request body that outgrows it is answered with 500")
			}
			if u.responseFiles {
				fails = append(fails, "a response that outgrows it is cut short")
			}
			d.Warning = fmt.Sprintf("%s free, less than %s: %s, and the error log says \"(28: No space left on device)\"",
				bytesText(*d.FreeBytes), below, strings.Join(fails, "; "))
		}
		out = append(out, d)
	}
	return out
}

// noFilesReason says why no location writes files in a directory.
func noFilesReason(u *tempUse) string {
	var why []string
	if u.bodies {
		why = append(why, "request bodies stream upstream (proxy_request_buffering off)")
	}
	if u.responses {
		why = append(why, "responses stay in memory (proxy_max_temp_file_size 0, or proxy_buffering off with X-Accel-Buffering ignored)")
	}
	return strings.Join(why, ", and ")
}

// readFree fills in the free space of d's file system: that of its
// directory, or of the nearest parent that exists.
func readFree(d *TempDir, statfs statfser) {
	if statfs == nil {
		d.Error = "the machine described gives no file system figures"
		return
	}
	path := filepath.Clean(d.Path)
	for {
		ds, err := statfs(path)
		if err == nil {
			d.Exists = path == filepath.Clean(d.Path)
			d.StatfsPath = path
			free, total := int64(min(ds.Free, 1<<62)), int64(min(ds.Total, 1<<62))
			d.FreeBytes, d.TotalBytes = &free, &total
			return
		}
		parent := filepath.Dir(path)
		if !errors.Is(err, fs.ErrNotExist) || parent == path {
			d.Error = fmt.Sprintf("statfs() \"%s\" failed %s", path, sysError(err))
			return
		}
		path = parent
	}
}
