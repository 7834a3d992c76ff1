package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"headroom/internal/capacity"
	"headroom/internal/conf"
	"headroom/internal/doctor"
	"headroom/internal/doctor/errorlog"
)

const doctorUsage = `Usage: headroom doctor [-c filename] [-p prefix] [--server nginx|headroom]
                       [--pid-file filename] [--want N] [--json]
       headroom doctor --error-log filename [--json]

Reports how many concurrent proxied requests and idle keep-alive
connections a server holds with a configuration on this machine, which
limit binds first, every limit that takes part, and the fixes in the order
that helps most.

Options:
  -h, --help            : this help
  -c filename           : configuration file, headroom's or any nginx.conf
                          (default: the embedded default configuration)
  -p prefix             : set prefix path (default: current directory)
  --server name         : report for nginx or headroom (default: nginx when
                          the configuration has directives headroom does not
                          run or the file is named nginx.conf, else headroom)
  --pid-file filename   : the running server's pid file (default: the
                          configuration's pid, or /run/nginx.pid for nginx)
  --want N              : concurrent proxied requests the fixes aim at
                          (default: what this machine's memory and ephemeral
                          ports allow)
  --error-log filename  : explain the capacity-related lines of an nginx or
                          headroom error log, grouped and counted, with
                          their cause and fix (alone, or after the capacity
                          report when -c is given too)
  --json                : write the report as JSON
`

// doctorOptions are the flags of "headroom doctor".
type doctorOptions struct {
	conf, prefix, server, pidFile string
	errorLog                      string
	want                          int
	json, help                    bool
}

// parseDoctorArgs reads the flags. Single-letter flags take their value as
// nginx's do (attached or as the next argument); long flags take it as the
// next argument or after "=".
func parseDoctorArgs(args []string) (*doctorOptions, error) {
	o := &doctorOptions{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			name, val, hasVal = strings.Cut(a, "=")
		} else if len(a) > 2 && a[0] == '-' && (a[1] == 'c' || a[1] == 'p') {
			name, val, hasVal = a[:2], a[2:], true
		}
		value := func(what string) (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option \"%s\" requires %s", name, what)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name {
		case "-h", "-?", "--help":
			o.help = true
		case "--json":
			if hasVal {
				return nil, fmt.Errorf("invalid option: \"%s\"", a)
			}
			o.json = true
		case "-c":
			o.conf, err = value("file name")
		case "-p":
			o.prefix, err = value("directory name")
		case "--server":
			o.server, err = value("parameter")
			if err == nil && o.server != "nginx" && o.server != "headroom" {
				err = fmt.Errorf("invalid option: \"--server %s\"", o.server)
			}
		case "--pid-file":
			o.pidFile, err = value("file name")
		case "--want":
			var s string
			if s, err = value("parameter"); err == nil {
				if o.want, err = strconv.Atoi(s); err != nil || o.want <= 0 {
					err = fmt.Errorf("invalid option: \"--want %s\"", s)
				}
			}
		case "--error-log":
			o.errorLog, err = value("file name")
		default:
			err = fmt.Errorf("invalid option: \"%s\"", a)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// runDoctor implements "headroom doctor [-c FILE] [-p PREFIX] [--json] [--pid-file F]".
func runDoctor(args []string, stdout, stderr io.Writer) int {
	o, err := parseDoctorArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "headroom: %v\n%s", err, doctorUsage)
		return 1
	}
	if o.help {
		fmt.Fprint(stderr, doctorUsage)
		return 0
	}
	var logReport *errorlog.Report
	if o.errorLog != "" {
		f, err := os.Open(o.errorLog)
		if err != nil {
			fmt.Fprintf(stderr, "headroom: [emerg] open() \"%s\" failed (%v)\n", o.errorLog, err)
			return 1
		}
		logReport, err = errorlog.Scan(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stderr, "headroom: [emerg] read() \"%s\" failed (%v)\n", o.errorLog, err)
			return 1
		}
		if o.conf == "" {
			if o.json {
				err = writeJSON(stdout, logReport)
			} else {
				err = logReport.WriteText(stdout)
			}
			if err != nil {
				fmt.Fprintf(stderr, "headroom: [alert] write() failed (%v)\n", err)
				return 1
			}
			return 0
		}
	}
	cfg, name, err := loadDoctorConfig(o)
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] %v\n", err)
		return 1
	}
	rep, err := doctor.Diagnose(cfg, capacity.System, doctor.Options{Server: o.server, ConfigName: name, PIDFile: o.pidFile, Want: o.want})
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [emerg] %v\n", err)
		return 1
	}
	switch {
	case o.json && logReport != nil:
		err = writeJSON(stdout, struct {
			Capacity *doctor.Report   `json:"capacity"`
			ErrorLog *errorlog.Report `json:"error_log"`
		}{rep, logReport})
	case o.json:
		err = rep.WriteJSON(stdout)
	default:
		err = rep.WriteText(stdout)
		if err == nil && logReport != nil {
			fmt.Fprintln(stdout)
			err = logReport.WriteText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "headroom: [alert] write() failed (%v)\n", err)
		return 1
	}
	return 0
}

// writeJSON writes v indented, as the reports' own JSON is.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// loadDoctorConfig reads the configuration as the server would, but
// leniently: directives headroom does not run are listed, not fatal, so
// that any nginx.conf can be read.
func loadDoctorConfig(o *doctorOptions) (*conf.Config, string, error) {
	opts := conf.LoadOptions{Prefix: o.prefix, Lenient: true}
	if opts.Prefix == "" {
		opts.Prefix, _ = os.Getwd()
	}
	name := "(embedded default)"
	if o.conf == "" {
		opts.File = "default.conf"
		opts.Source = defaultConfig
	} else {
		opts.File = resolve(opts.Prefix, o.conf)
		name = filepath.Clean(opts.File)
	}
	cfg, err := conf.Load(opts)
	return cfg, name, err
}
