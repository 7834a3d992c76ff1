package conf

import (
	"math"
	"time"
)

// atoi parses a non-negative decimal number the way nginx's ngx_atoi does:
// digits only, no sign, no spaces, and failure on overflow.
func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if n > (math.MaxInt-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseSize reads nginx's "size" values: a number with an optional k or m
// suffix (either case). nginx's size parser has no "g"; offsets do.
func parseSize(s string) (int64, bool) {
	return parseScaled(s, false)
}

// ParseSize reads a size as nginx's ngx_parse_size does, for values the
// proxy evaluates per request (limit_rate with variables, set
// $limit_rate).
func ParseSize(s string) (int64, bool) { return parseSize(s) }

// parseOffset reads nginx's "offset" values, which also accept g.
func parseOffset(s string) (int64, bool) {
	return parseScaled(s, true)
}

func parseScaled(s string, allowG bool) (int64, bool) {
	if s == "" {
		return 0, false
	}
	scale := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		scale = 1 << 10
		s = s[:len(s)-1]
	case 'm', 'M':
		scale = 1 << 20
		s = s[:len(s)-1]
	case 'g', 'G':
		if allowG {
			scale = 1 << 30
			s = s[:len(s)-1]
		}
	}
	n, ok := atoi(s)
	if !ok || int64(n) > math.MaxInt64/scale {
		return 0, false
	}
	return int64(n) * scale, true
}

// Time units in the order nginx requires them to appear ("1h 30m", never
// "30m 1h"); each may be used once.
const (
	stepStart = iota
	stepYear
	stepMonth
	stepWeek
	stepDay
	stepHour
	stepMin
	stepSec
	stepMsec
	stepLast
)

// parseTime reads nginx's time values: numbers with units ms, s, m, h, d,
// w, M and y, largest first, optionally separated by spaces; a number
// without unit means seconds. isSec selects nginx's "seconds" parser,
// which rejects milliseconds, while the default "milliseconds" parser
// rejects months and years, as nginx does.
func parseTime(s string, isSec bool) (time.Duration, bool) {
	const maxMs = int64(math.MaxInt64 / int64(time.Millisecond))
	var total, value int64
	valid := false
	step := stepStart
	if !isSec {
		step = stepMonth
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= '0' && c <= '9' {
			d := int64(c - '0')
			if value > (maxMs-d)/10 {
				return 0, false
			}
			value = value*10 + d
			valid = true
			i++
			continue
		}
		i++
		var scale int64 // in seconds, or 0 for milliseconds
		next := step
		switch c {
		case 'y':
			if step > stepStart {
				return 0, false
			}
			next, scale = stepYear, 365*24*3600
		case 'M':
			if step >= stepMonth {
				return 0, false
			}
			next, scale = stepMonth, 30*24*3600
		case 'w':
			if step >= stepWeek {
				return 0, false
			}
			next, scale = stepWeek, 7*24*3600
		case 'd':
			if step >= stepDay {
				return 0, false
			}
			next, scale = stepDay, 24*3600
		case 'h':
			if step >= stepHour {
				return 0, false
			}
			next, scale = stepHour, 3600
		case 'm':
			if i < len(s) && s[i] == 's' {
				if isSec || step >= stepMsec {
					return 0, false
				}
				i++
				next, scale = stepMsec, 0
				break
			}
			if step >= stepMin {
				return 0, false
			}
			next, scale = stepMin, 60
		case 's':
			if step >= stepSec {
				return 0, false
			}
			next, scale = stepSec, 1
		case ' ':
			if step >= stepSec {
				return 0, false
			}
			next, scale = stepLast, 1
		default:
			return 0, false
		}
		step = next
		ms := int64(1)
		if scale != 0 {
			ms = scale * 1000
		}
		if value > maxMs/ms {
			return 0, false
		}
		value *= ms
		if total > maxMs-value {
			return 0, false
		}
		total += value
		value = 0
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if !valid {
		return 0, false
	}
	// A trailing number without unit is seconds.
	if value > maxMs/1000 {
		return 0, false
	}
	value *= 1000
	if total > maxMs-value {
		return 0, false
	}
	return time.Duration(total+value) * time.Millisecond, true
}
