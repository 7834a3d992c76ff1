package conf

// EachLocConf calls fn for the settings of every server, location (named
// ones too) and if block of a location, so that whatever a level can
// name (log files, temporary directories) is found wherever it is set.
func (c *Config) EachLocConf(fn func(*LocConf)) {
	if c.HTTP == nil {
		return
	}
	var ifs func([]ScriptOp)
	ifs = func(ops []ScriptOp) {
		for _, op := range ops {
			if op.If != nil {
				if op.If.Loc != nil {
					fn(op.If.Loc)
				}
				ifs(op.If.Body)
			}
		}
	}
	var walk func([]*Location)
	walk = func(ls []*Location) {
		for _, l := range ls {
			fn(l.Loc)
			ifs(l.Loc.Script)
			walk(l.Locations)
		}
	}
	for _, s := range c.HTTP.Servers {
		fn(s.Loc)
		walk(s.Locations)
		walk(s.Named)
	}
}
