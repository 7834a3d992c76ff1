// Command headroom is a reverse proxy that reads nginx's configuration
// language and runs nginx's architecture: a few event loops, each owning a
// fixed set of connection slots. Its command line is nginx's.
package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/logs"
	"headroom/internal/memreturn"
	"headroom/internal/proxy"
)

// Version is headroom's own version.
const Version = "0.1.0"

//go:embed default.conf
var defaultConfig []byte

// options are the command-line flags, spelled as nginx's.
type options struct {
	help, version, configure bool
	test, dump, quiet        bool
	signal                   string
	prefix                   string
	conf                     string
	errorLog                 string
	directives               string
}

const usage = `Usage: headroom [-?hvVtTq] [-s signal] [-p prefix]
             [-e filename] [-c filename] [-g directives]
       headroom doctor [-c filename] [--json] [--error-log filename] ...
                (what will run out first, and what to change;
                 "headroom doctor -h" for its options)

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to a master process: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: current directory)
  -e filename   : set error log file (default: stderr)
  -c filename   : set configuration file (default: the embedded default
                  configuration, which proxies 127.0.0.1:8080 to a built-in
                  server on 127.0.0.1:8081)
  -g directives : set global directives out of configuration file
`

// parseArgs reads nginx-style flags: single letters that may be grouped
// ("-tq"), with a value either attached ("-cfile") or as the next argument.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" {
			// nginx ignores a lone dash.
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			return nil, fmt.Errorf("invalid option: \"%s\"", a)
		}
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case '?', 'h':
				o.help = true
			case 'v':
				o.version = true
			case 'V':
				o.version, o.configure = true, true
			case 't':
				o.test = true
			case 'T':
				o.test, o.dump = true, true
			case 'q':
				o.quiet = true
			case 's', 'p', 'c', 'g', 'e':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option \"-%c\" requires %s", c, map[byte]string{'s': "parameter", 'p': "directory name", 'c': "file name", 'g': "parameter", 'e': "file name"}[c])
					}
					i++
					val = args[i]
				}
				switch c {
				case 's':
					switch val {
					case "stop", "quit", "reopen", "reload":
					default:
						return nil, fmt.Errorf("invalid option: \"-s %s\"", val)
					}
					o.signal = val
				case 'p':
					o.prefix = val
				case 'c':
					o.conf = val
				case 'g':
					o.directives = val
				case 'e':
					o.errorLog = val
				}
				j = len(a)
			default:
				return nil, fmt.Errorf("invalid option: \"%c\"", c)
			}
		}
	}
	return o, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "doctor" {
		return runDoctor(args[1:], os.Stdout, stderr)
	}
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "headroom: %v\n", err)
		return 1
	}
	if o.help {
		fmt.Fprintf(stderr, "headroom version: headroom/%s (nginx/%s)\n%s", Version, proxy.NginxVersion, usage)
		return 0
	}
	if o.version {
		fmt.Fprintf(stderr, "nginx version: nginx/%s (headroom %s)\n", proxy.NginxVersion, Version)
		if o.configure {
			// nginx names its TLS library and version here, and tools
			// (nginx's test suite among them) read that version to know
			// which TLS features the binary has. headroom has Go's
			// crypto/tls, whose features (TLS 1.3, ALPN, SNI, session
			// tickets, certificates chosen per handshake) are those of
			// OpenSSL 1.1.1 for such tools; the line says both.
			fmt.Fprintf(stderr, "built with %s crypto/tls (TLS features as with OpenSSL 1.1.1)\n", runtime.Version())
			// nginx's line for a TLS library with SNI, which tools
			// (nginx's test suite among them) look for.
			fmt.Fprintf(stderr, "TLS SNI support enabled\n")
			fmt.Fprintf(stderr, "configure arguments: %s\n", configureArguments())
		}
		return 0
	}
	errlog := logs.NewErrorLog()
	if o.errorLog != "" && o.errorLog != "stderr" {
		if err := errlog.Open([]logs.Target{{Path: resolve(o.prefix, o.errorLog), Level: logs.Error}}); err != nil {
			fmt.Fprintf(stderr, "headroom: [alert] could not open error log file: %v\n", err)
		}
	}
	cfg, err := loadConfig(o)
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] %v\n", err)
		if o.test {
			fmt.Fprintf(stderr, "headroom: configuration file %s test failed\n", configName(o))
		}
		return 1
	}
	if o.test {
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "headroom: [warn] %v\n", w)
		}
		if !o.quiet {
			fmt.Fprintf(stderr, "headroom: the configuration file %s syntax is ok\n", configName(o))
			fmt.Fprintf(stderr, "headroom: configuration file %s test is successful\n", configName(o))
		}
		if o.dump {
			for _, f := range cfg.Files {
				fmt.Printf("# configuration file %s:\n%s\n", f.Path, f.Content)
			}
		}
		return 0
	}
	if o.signal != "" {
		return sendSignal(cfg, o.signal, stderr)
	}
	if cfg.Daemon && os.Getenv(daemonEnv) == "" {
		return daemonize(stderr)
	}
	return serve(o, cfg, errlog, stderr)
}

// configName is the configuration's name in messages.
func configName(o *options) string {
	if o.conf == "" {
		return "(embedded default)"
	}
	return resolve(o.prefix, o.conf)
}

func resolve(prefix, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	if prefix == "" {
		prefix, _ = os.Getwd()
	}
	return filepath.Join(prefix, p)
}

func loadConfig(o *options) (*conf.Config, error) {
	opts := conf.LoadOptions{Prefix: o.prefix, Directives: o.directives}
	if o.conf == "" {
		opts.File = "default.conf"
		opts.Source = defaultConfig
		if opts.Prefix == "" {
			opts.Prefix, _ = os.Getwd()
		}
	} else {
		opts.File = o.conf
		if opts.Prefix == "" {
			// nginx's compiled-in prefix is its install directory; headroom
			// has none, so relative paths are taken from the current one.
			opts.Prefix, _ = os.Getwd()
		}
		opts.File = resolve(opts.Prefix, o.conf)
	}
	return conf.Load(opts)
}

// sendSignal implements "-s": the pid file names the running process.
func sendSignal(cfg *conf.Config, name string, stderr io.Writer) int {
	if cfg.PID == "" {
		fmt.Fprintf(stderr, "headroom: [error] no pid file in configuration\n")
		return 1
	}
	b, err := os.ReadFile(cfg.PID)
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [error] open() \"%s\" failed (%v)\n", cfg.PID, err)
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "headroom: [error] invalid PID number \"%s\" in \"%s\"\n", strings.TrimSpace(string(b)), cfg.PID)
		return 1
	}
	sig := map[string]syscall.Signal{"stop": syscall.SIGTERM, "quit": syscall.SIGQUIT, "reopen": syscall.SIGUSR1, "reload": syscall.SIGHUP}[name]
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "headroom: [error] kill(%d, %d) failed (%v)\n", pid, sig, err)
		return 1
	}
	return 0
}

// daemonEnv marks the re-executed child of "daemon on;".
const daemonEnv = "HEADROOM_DAEMON_CHILD"

// daemonize starts a copy of the process in its own session and waits
// until it reports that it serves (or why it could not), so that errors
// such as a failed bind reach the terminal as they do with nginx.
func daemonize(stderr io.Writer) int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] pipe() failed (%v)\n", err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] %v\n", err)
		return 1
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] %v\n", err)
		return 1
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	if len(msg) > 0 && msg[0] == 0 {
		return 0
	}
	stderr.Write(msg)
	return 1
}

// readyPipe is the pipe inherited by the daemon child, if any.
func readyPipe() *os.File {
	if os.Getenv(daemonEnv) == "" {
		return nil
	}
	return os.NewFile(3, "ready")
}

func serve(o *options, cfg *conf.Config, errlog *logs.ErrorLog, stderr io.Writer) int {
	ready := readyPipe()
	fail := func(format string, args ...any) int {
		msg := fmt.Sprintf("headroom: [emerg] "+format+"\n", args...)
		if ready != nil {
			ready.WriteString(msg)
			ready.Close()
		}
		fmt.Fprint(stderr, msg)
		errlog.Logf(logs.Emerg, 0, format, args...)
		return 1
	}
	for _, w := range cfg.Warnings {
		errlog.Logf(logs.Warn, 0, "%v", w)
	}
	if err := errlog.Open(errorLogTargets(cfg)); err != nil {
		return fail("%v", err)
	}
	srv, err := start(cfg, errlog, nil)
	if err != nil {
		return fail("%v", err)
	}
	// The pid file is opened before the user switches, as nginx's
	// master, which stays root, writes it: it usually lives in a
	// directory only root may write (/run), as Debian's nginx.conf has
	// it with "user www-data".
	var pidFile *os.File
	if cfg.PID != "" {
		pidFile, err = os.OpenFile(cfg.PID, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			srv.Close()
			return fail("open() \"%s\" failed (%s)", cfg.PID, logs.SysError(err))
		}
		defer pidFile.Close()
	}
	if err := switchUser(cfg, errlog); err != nil {
		srv.Close()
		return fail("%v", err)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1)
	srv.Run()
	// Garbage left by bursts (handshakes above all) goes back to the
	// system once the process is quiet, rather than at the runtime's
	// next collection, which an idle server may not reach for minutes.
	stopReturn := make(chan struct{})
	defer close(stopReturn)
	go memreturn.Run(stopReturn)
	// The pid file is written once the start line is logged and the
	// workers run: whoever waits for it (an init script, a test) finds the
	// server ready.
	if pidFile != nil {
		if _, err := pidFile.WriteString(strconv.Itoa(os.Getpid()) + "\n"); err != nil {
			srv.Stop()
			return fail("write() to \"%s\" failed (%s)", cfg.PID, logs.SysError(err))
		}
		defer func() {
			// Without root the file may not be removable from its
			// directory: emptied, it names no process that is gone.
			if os.Remove(cfg.PID) != nil {
				pidFile.Truncate(0)
			}
		}()
	}
	if ready != nil {
		ready.Write([]byte{0})
		ready.Close()
		devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if devnull != nil {
			syscall.Dup2(int(devnull.Fd()), 0)
			syscall.Dup2(int(devnull.Fd()), 1)
			syscall.Dup2(int(devnull.Fd()), 2)
		}
	}
	notify("READY=1\nMAINPID=" + strconv.Itoa(os.Getpid()))
	// draining are the servers of earlier configurations still finishing
	// their requests after a reload, with the channel closed when they end.
	type oldServer struct {
		srv  *proxy.Server
		done <-chan struct{}
	}
	var draining []oldServer
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			errlog.Logf(logs.Notice, 0, "signal %d (SIGHUP) received, reconfiguring", sig)
			notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicMicros()))
			draining = slices.DeleteFunc(draining, func(d oldServer) bool {
				select {
				case <-d.done:
					return true
				default:
					return false
				}
			})
			if next, ncfg := reload(o, cfg, srv, errlog); next != nil {
				old := srv
				srv, cfg = next, ncfg
				srv.Run()
				done := old.Drain(cfg.WorkerShutdownTimeout, false)
				draining = append(draining, oldServer{old, done})
				go func(next *proxy.Server) {
					<-done
					next.PredecessorDone()
					errlog.Logf(logs.Notice, 0, "workers of the previous configuration exited")
				}(srv)
			}
			notify("READY=1")
		case syscall.SIGUSR1:
			errlog.Logf(logs.Notice, 0, "signal %d (SIGUSR1) received, reopening logs", sig)
			if err := srv.ReopenLogs(); err != nil {
				errlog.Logf(logs.Alert, 0, "reopening logs failed (%v)", err)
			}
			errlog.Open(errorLogTargets(cfg))
		case syscall.SIGQUIT:
			errlog.Logf(logs.Notice, 0, "signal %d (SIGQUIT) received, shutting down", sig)
			notify("STOPPING=1")
			done := srv.Drain(cfg.WorkerShutdownTimeout, true)
			all := make(chan struct{})
			go func() {
				<-done
				for _, d := range draining {
					<-d.done
				}
				close(all)
			}()
			// As with nginx, SIGTERM or SIGINT during a graceful shutdown
			// turns it into a fast one.
			for {
				select {
				case <-all:
					errlog.Logf(logs.Notice, 0, "exit")
					return 0
				case sig := <-sigs:
					if sig != syscall.SIGTERM && sig != syscall.SIGINT {
						continue
					}
					errlog.Logf(logs.Notice, 0, "signal %d received during the graceful shutdown, exiting at once", sig)
					for _, d := range draining {
						d.srv.Stop()
					}
					srv.Stop()
					errlog.Logf(logs.Notice, 0, "exit")
					return 0
				}
			}
		default:
			name := map[os.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			errlog.Logf(logs.Notice, 0, "signal %d (%s) received, exiting", sig, name)
			notify("STOPPING=1")
			for _, d := range draining {
				d.srv.Stop()
			}
			srv.Stop()
			errlog.Logf(logs.Notice, 0, "exit")
			return 0
		}
	}
	return 0
}

// errorLogTargets are the configuration's error_log destinations.
func errorLogTargets(cfg *conf.Config) []logs.Target {
	var targets []logs.Target
	for _, e := range cfg.ErrorLogs {
		targets = append(targets, logs.Target{Path: e.Path, Level: logs.ParseLevel(e.Level), Syslog: e.Syslog})
	}
	return targets
}

// start plans the capacity for a configuration and opens its server,
// taking over the listening sockets of prev (a reload) where the
// addresses match. The server is not running yet.
func start(cfg *conf.Config, errlog *logs.ErrorLog, prev *proxy.Server) (*proxy.Server, error) {
	workers := cfg.WorkerProcesses
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// Each loop keeps its scheduler processor while it waits for events
	// under load (engine.Loop.wait), so there must be one per loop, as
	// nginx has a process per worker whatever the CPU count.
	if runtime.GOMAXPROCS(0) < workers {
		runtime.GOMAXPROCS(workers)
	}
	soft, hard, err := capacity.Limits()
	if err != nil {
		return nil, fmt.Errorf("getrlimit(RLIMIT_NOFILE) failed (%v)", err)
	}
	listeners := len(cfg.Listeners())
	in := capacity.Input{NofileSoft: soft, NofileHard: hard, WorkerRlimitNofile: cfg.WorkerRlimitNofile,
		Workers: workers, WorkerConnections: cfg.Events.WorkerConnections, Listeners: listeners, LogFiles: cfg.ReservedLogFiles(), WorkerLogFiles: cfg.WorkerLogFiles(),
		WorkerCachedFiles: cfg.WorkerCachedFiles()}
	plan := capacity.Compute(in)
	if err := capacity.Apply(plan.Nofile); err != nil {
		errlog.Logf(logs.Warn, 0, "%v", err)
		soft, hard, _ = capacity.Limits()
		in.NofileSoft, in.NofileHard, in.WorkerRlimitNofile = soft, hard, int(soft)
		plan = capacity.Compute(in)
	}
	for _, w := range plan.Warnings {
		errlog.Logf(logs.Warn, 0, "%s", w)
	}
	if plan.Derived {
		errlog.Logf(logs.Notice, 0, "worker_connections %d derived from the open file limit %d for %d workers", plan.WorkerConnections, plan.Nofile, workers)
	}
	srv, err := proxy.New(cfg, proxy.Options{Workers: workers, Slots: plan.WorkerConnections, AllowedSlots: plan.Allowed, Nofile: plan.Nofile, TempFiles: plan.TempFiles,
		ErrorLog: errlog, Version: Version, Inherit: prev})
	if err != nil {
		return nil, err
	}
	clients := capacity.ClientBudget(plan.WorkerConnections, listeners)
	what := "headroom/" + Version + " started"
	if prev != nil {
		what = "configuration reloaded"
	}
	errlog.Logf(logs.Notice, 0, "%s: %d workers, %d connection slots each (%d for clients, the rest for their upstream connections); open file limit %d, which allows worker_connections %d",
		what, workers, plan.WorkerConnections, clients, plan.Nofile, plan.Allowed)
	return srv, nil
}

// reload reads the configuration again and opens a server for it on the
// same listening sockets. On any error the message is logged, as nginx
// logs it, and nil is returned: the running configuration keeps serving.
func reload(o *options, cur *conf.Config, srv *proxy.Server, errlog *logs.ErrorLog) (*proxy.Server, *conf.Config) {
	cfg, err := loadConfig(o)
	if err != nil {
		errlog.Logf(logs.Emerg, 0, "%v", err)
		errlog.Logf(logs.Notice, 0, "the configuration was not reloaded; the running one keeps serving")
		return nil, nil
	}
	for _, w := range cfg.Warnings {
		errlog.Logf(logs.Warn, 0, "%v", w)
	}
	if cfg.PID != cur.PID || cfg.User != cur.User {
		errlog.Logf(logs.Warn, 0, "changes of \"pid\" and \"user\" take effect only after a restart")
	}
	if err := errlog.Open(errorLogTargets(cfg)); err != nil {
		errlog.Logf(logs.Emerg, 0, "%v", err)
		errlog.Open(errorLogTargets(cur))
		return nil, nil
	}
	next, err := start(cfg, errlog, srv)
	if err != nil {
		errlog.Logf(logs.Emerg, 0, "%v", err)
		errlog.Logf(logs.Notice, 0, "the configuration was not reloaded; the running one keeps serving")
		errlog.Open(errorLogTargets(cur))
		return nil, nil
	}
	return next, cfg
}

// switchUser applies the "user" directive when the process runs as root;
// otherwise it is ignored with nginx's warning.
func switchUser(cfg *conf.Config, errlog *logs.ErrorLog) error {
	if cfg.User == "" {
		return nil
	}
	if os.Geteuid() != 0 {
		errlog.Logf(logs.Warn, 0, "the \"user\" directive makes sense only if the master process runs with super-user privileges, ignored")
		return nil
	}
	fields := strings.Fields(cfg.User)
	u, err := user.Lookup(fields[0])
	if err != nil {
		return fmt.Errorf("getpwnam(\"%s\") failed", fields[0])
	}
	// Without a group, the group of the user's name, as nginx takes it
	// (not the user's primary group).
	group := fields[0]
	if len(fields) > 1 {
		group = fields[1]
	}
	grp, err := user.LookupGroup(group)
	if err != nil {
		return fmt.Errorf("getgrnam(\"%s\") failed", group)
	}
	gid := grp.Gid
	g, _ := strconv.Atoi(gid)
	uid, _ := strconv.Atoi(u.Uid)
	if err := proxy.ChownTempDirs(cfg, uid, g); err != nil {
		return err
	}
	if err := syscall.Setgid(g); err != nil {
		return fmt.Errorf("setgid(%d) failed (%v)", g, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid(%d) failed (%v)", uid, err)
	}
	return nil
}
