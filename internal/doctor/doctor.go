package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"headroom/internal/capacity"
	"headroom/internal/conf"
)

// Options say what to report on.
type Options struct {
	// Server is "nginx" or "headroom", or empty to choose from the
	// configuration (see chooseServer).
	Server string
	// ConfigName names the configuration in the report; Config.File when
	// empty.
	ConfigName string
	// PIDFile names the running server's pid file, instead of the one the
	// configuration names.
	PIDFile string
	// Want is the number of concurrent proxied requests the fixes aim at;
	// 0 aims at what this machine's memory and ephemeral ports allow.
	Want int
	// Now is the time certificates are judged at; the zero time is the
	// present.
	Now time.Time
}

// nginxPIDFile is where Debian's nginx writes its pid when the
// configuration names none (its --pid-path).
const nginxPIDFile = "/run/nginx.pid"

// Diagnose reads the machine through h and reports what the chosen server
// holds with cfg, which limit binds first, and how to raise it. cfg should
// be loaded with conf.LoadOptions.Lenient, so that directives headroom
// does not run are listed rather than fatal. The free space of the
// temporary file directories is read through h's Statfs when h is a
// DiskHost, with statfs(2) when h is capacity.System, and is unknown
// otherwise; likewise the zone_sync store is asked through h's
// DialTimeout when h is a NetHost, from this machine when h is
// capacity.System, and not at all otherwise.
func Diagnose(cfg *conf.Config, h capacity.Host, o Options) (*Report, error) {
	server, reason, err := chooseServer(cfg, o.Server)
	if err != nil {
		return nil, err
	}
	if o.Want < 0 {
		return nil, fmt.Errorf("invalid number of concurrent requests \"%d\"", o.Want)
	}
	m := capacity.ReadMachine(h)
	ps := locate(cfg)
	nm := newNamer(cfg)
	p := gather(cfg, m)
	p.server = server

	rep := &Report{Config: o.ConfigName, Server: server, ServerReason: reason}
	if rep.Config == "" {
		rep.Config = cfg.File
	}
	pidFile := o.PIDFile
	if pidFile == "" {
		pidFile = cfg.PID
		if server == nginx && !ps.pid.ok() {
			pidFile = nginxPIDFile
		}
	}
	run, note := running(h, pidFile)
	rep.LimitsOf = "a server started from this shell"
	if src := m.NofileSoft.Source; src != "inherited from this shell" {
		rep.LimitsOf += " (" + src + ")"
	}
	if run != nil {
		useRunning(&p, rep, run, pidFile)
	} else {
		rep.RunningNote = note
	}

	r := evaluate(p)
	rep.Capacity = capacityOf(p, r)
	rep.Startup = r.startup
	other := p
	other.server = otherServer(server)
	other.workerNofile = 0
	rep.Other = capacityOf(other, evaluate(other))
	rep.Limits = limits(tableInput{p: p, m: m, r: r, run: run, pidFile: pidFile, ps: ps, nm: nm})
	rep.Memory = memoryModel(p, r.workers)
	rep.TempDirs = tempDirs(cfg, p.levels, diskReader(h), nm)
	rep.Caches = cacheDirs(cfg, diskReader(h), nm)
	rep.TempFilesPerWorker = r.tempFiles

	fc := fixContext{ps: ps, nm: nm, m: m, main: nm.file(cfg.File)}
	rep.Want, rep.WantReason = o.Want, "--want"
	if o.Want == 0 {
		rep.Want, rep.WantReason = ceiling(p)
	}
	fixes, last := planFixes(p, rep.Want, fc)
	rep.Fixes = fixes
	rep.Remaining = remaining(last, rep.Want)
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep.TLS = tlsReport(cfg, p, r.workers, h, now, nm)
	rep.HTTP2 = http2Report(cfg, &rep.Capacity)
	rep.Advice = append(advise(p, r, fc), adviseECDSA(cfg, rep.TLS, p.server, nm)...)
	if p.server != "nginx" {
		rep.Advice = append(rep.Advice, adviseHTTP2(rep.HTTP2, &rep.Capacity)...)
	}
	rep.Notes = notes(p, r)
	if n := fleetNote(cfg, p.server); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	if cfg.HTTP != nil && cfg.HTTP.ZoneSync != nil {
		var synced []string
		for _, name := range sortedNames(cfg.HTTP.LimitReqZones) {
			if cfg.HTTP.LimitReqZones[name].Sync {
				synced = append(synced, name)
			}
		}
		for _, name := range sortedNames(cfg.HTTP.LimitConnZones) {
			if cfg.HTTP.LimitConnZones[name].Sync && !slices.Contains(synced, name) {
				synced = append(synced, name)
			}
		}
		rep.ZoneSync = zoneSyncReport(cfg, probeStore(cfg.HTTP.ZoneSync, netDialer(h), synced, syncedServerKeys(cfg)), nm)
	}
	rep.Unsupported = []Unsupported{}
	for _, u := range cfg.Unsupported {
		rep.Unsupported = append(rep.Unsupported, Unsupported{Name: u.Name, Detail: u.Detail, Where: nm.at(u.File, u.Line)})
	}
	// Lists are never null in the JSON, so that readers can range over
	// them without a check.
	for _, l := range []*[]string{&rep.Startup, &rep.Notes} {
		if *l == nil {
			*l = []string{}
		}
	}
	for _, l := range []*[]Fix{&rep.Fixes, &rep.Advice} {
		if *l == nil {
			*l = []Fix{}
		}
	}
	return rep, nil
}

// useRunning makes the model use a running server's limits, which are the
// ones in effect, and records the server in the report.
func useRunning(p *params, rep *Report, run *capacity.Process, pidFile string) {
	p.soft, p.hard, p.running = run.Soft, run.Hard, true
	if p.server == nginx && run.Worker != nil {
		p.workerNofile = run.Worker.Soft
	}
	if run.MemoryMax.OK {
		p.memLimit = 0
		if run.MemoryMax.Value != capacity.Unlimited {
			p.memLimit = run.MemoryMax.Value
		}
	}
	rep.LimitsOf = fmt.Sprintf("the running server, pid %d (%s)", run.PID, run.Name)
	rep.Running = &Running{PIDFile: pidFile, PID: run.PID, Name: run.Name, Soft: rlimJSON(run.Soft), Hard: rlimJSON(run.Hard)}
	if run.Worker != nil {
		rep.Running.WorkerPID = run.Worker.PID
		rep.Running.WorkerSoft = rlimJSON(run.Worker.Soft)
		rep.Running.WorkerHard = rlimJSON(run.Worker.Hard)
	}
}

// chooseServer picks the server to report for: the one asked for, else
// nginx for a configuration headroom cannot run or a file named
// nginx.conf, else headroom.
func chooseServer(cfg *conf.Config, asked string) (server, reason string, err error) {
	switch asked {
	case nginx, headroom:
		return asked, "--server " + asked, nil
	case "":
	default:
		return "", "", fmt.Errorf("invalid server \"%s\", it must be \"nginx\" or \"headroom\"", asked)
	}
	if n := len(cfg.Unsupported); n > 0 {
		return nginx, fmt.Sprintf("the configuration has %d %s headroom does not run (--server headroom to report for headroom)", n, plural(n, "directive", "directives")), nil
	}
	if filepath.Base(cfg.File) == "nginx.conf" {
		return nginx, "the file is named nginx.conf (--server headroom to report for headroom)", nil
	}
	return headroom, "headroom runs every directive of the configuration (--server nginx to report for nginx)", nil
}

func otherServer(s string) string {
	if s == nginx {
		return headroom
	}
	return nginx
}

// running finds the server named by a pid file. When there is none, the
// note says why, in nginx's words.
func running(h capacity.Host, pidFile string) (*capacity.Process, string) {
	if pidFile == "" {
		return nil, "no pid file (pid off)"
	}
	b, err := h.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Sprintf("no running server: open() \"%s\" failed %s", pidFile, sysError(err))
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return nil, fmt.Sprintf("no running server: invalid PID number \"%s\" in \"%s\"", s, pidFile)
	}
	proc, err := capacity.ReadProcess(h, pid)
	if err != nil {
		return nil, fmt.Sprintf("no running server: \"%s\" names pid %d, which does not run (%v)", pidFile, pid, err)
	}
	return proc, ""
}

// sysError renders an error as nginx does: "(2: No such file or
// directory)".
func sysError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("(%d: %s)", int(errno), capitalize(errno.Error()))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "(2: No such file or directory)"
	}
	return "(" + err.Error() + ")"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// notes are findings about the configuration that the figures do not
// show.
func notes(p params, r result) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range selfProxied(p) {
		if seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, fmt.Sprintf("requests proxied to %s come back to a listener of this configuration, so each one holds a second client connection there: about half as many of them fit", a))
	}
	if p.server == nginx && r.workers > 1 {
		out = append(out, "nginx workers do not share slots: the busiest worker runs out first, before the total is reached")
	}
	if !p.proxies {
		out = append(out, "no location proxies: the figures count requests the server answers itself")
	}
	if p.cachedFiles > 0 {
		if p.server == nginx {
			out = append(out, fmt.Sprintf("open_file_cache keeps up to %d descriptors open in each worker process, outside worker_connections: the open file limit's figures count them", p.cachedFiles))
		} else {
			out = append(out, fmt.Sprintf("open_file_cache keeps up to %d descriptors open in each worker, beyond its slots: the open file limit's figures count them (a file being sent still takes a slot)", p.cachedFiles))
		}
	}
	return out
}
