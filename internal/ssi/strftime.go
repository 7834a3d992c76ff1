package ssi

import (
	"strconv"
	"strings"
	"time"
)

// DefaultTimeFormat is the format of $date_local, $date_gmt and
// $last_modified until a "config timefmt" command changes it.
const DefaultTimeFormat = "%A, %d-%b-%Y %H:%M:%S %Z"

var (
	longDays = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	longMons = [12]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// Strftime appends t formatted by the C strftime format to dst, the way
// the GNU C library does in the C locale, and returns the extended buffer.
//
// It knows the conversions %a %A %b %h %B %c %C %d %D %e %F %g %G %H %I
// %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z
// %Z and %%, the flags "_" (pad with spaces), "-" (do not pad numbers),
// "0" (pad with zeros), "^" (upper case) and "#" (swap the case of names),
// a field width, and the E and O modifiers, which change nothing in the C
// locale on the conversions that accept them. An unknown conversion, or a
// "%" at the end, is written as it stands (padded to its width).
//
// nginx formats into a 2048-byte buffer and treats a result that is empty
// or does not fit as a failure of the variable; the caller checks the
// length of what was appended.
//
// A format that is exactly "%s" gives the seconds since the epoch, as
// nginx prints them itself for that format; inside a longer format, %s of
// a time in UTC is off by the local zone's offset, as with the C library.
//
// %Z is the zone abbreviation of t's location, except that for time.UTC it
// is "GMT", as the C library names the zone of gmtime, which nginx uses for
// $date_gmt.
func Strftime(dst []byte, format []byte, t time.Time) []byte {
	if string(format) == "%s" {
		return strconv.AppendInt(dst, t.Unix(), 10)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		start := i
		var f spec
		i++
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '_', '-', '0':
				f.pad = format[i]
			case '^':
				f.upper = true
			case '#':
				f.swap = true
			default:
				break flags
			}
		}
		for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
			if f.width < 1000 {
				f.width = f.width*10 + int(format[i]-'0')
			}
		}
		var mod byte
		if i < len(format) && (format[i] == 'E' || format[i] == 'O') {
			mod = format[i]
			i++
		}
		if i == len(format) {
			return field(f, dst, format[start:], false)
		}
		ok := false
		if validModifier(mod, format[i]) {
			dst, ok = f.conv(dst, format[i], t)
		}
		if !ok {
			dst = field(f, dst, format[start:i+1], false)
		}
	}
	return dst
}

// validModifier reports whether the C library accepts the modifier mod
// ('E', 'O' or 0 for none) on conversion c; where it does not, the whole
// conversion is written as it stands.
func validModifier(mod, c byte) bool {
	switch mod {
	case 'E':
		return !strings.ContainsRune("aAbhBdDeFgGHIjklmMSUVwW", rune(c))
	case 'O':
		return !strings.ContainsRune("aAcDFxXY", rune(c))
	}
	return true
}

// spec is the flags and width of one conversion.
type spec struct {
	pad   byte // 0, '_', '-' or '0'
	upper bool
	swap  bool
	width int
}

// conv appends conversion c of t; it reports false for an unknown c.
func (f spec) conv(dst []byte, c byte, t time.Time) ([]byte, bool) {
	switch c {
	case 'a':
		return f.name(dst, longDays[t.Weekday()][:3], true), true
	case 'A':
		return f.name(dst, longDays[t.Weekday()], true), true
	case 'b', 'h':
		return f.name(dst, longMons[t.Month()-1][:3], true), true
	case 'B':
		return f.name(dst, longMons[t.Month()-1], true), true
	case 'c':
		return f.sub(dst, "%a %b %e %H:%M:%S %Y", t), true
	case 'C':
		y := t.Year()
		cent := y / 100
		if y < 0 && y%100 != 0 {
			cent--
		}
		return f.num(dst, cent, 2, '0'), true
	case 'd':
		return f.num(dst, t.Day(), 2, '0'), true
	case 'D', 'x':
		return f.sub(dst, "%m/%d/%y", t), true
	case 'e':
		return f.num(dst, t.Day(), 2, ' '), true
	case 'F':
		return f.sub(dst, "%Y-%m-%d", t), true
	case 'g':
		y, _ := t.ISOWeek()
		return f.num(dst, mod100(y), 2, '0'), true
	case 'G':
		y, _ := t.ISOWeek()
		return f.num(dst, y, 1, '0'), true
	case 'H':
		return f.num(dst, t.Hour(), 2, '0'), true
	case 'I':
		return f.num(dst, hour12(t), 2, '0'), true
	case 'j':
		return f.num(dst, t.YearDay(), 3, '0'), true
	case 'k':
		return f.num(dst, t.Hour(), 2, ' '), true
	case 'l':
		return f.num(dst, hour12(t), 2, ' '), true
	case 'm':
		return f.num(dst, int(t.Month()), 2, '0'), true
	case 'M':
		return f.num(dst, t.Minute(), 2, '0'), true
	case 'n':
		return f.name(dst, "\n", false), true
	case 'p', 'P':
		// %P, and %p with the "#" flag, are in lower case.
		s := [2]string{"AM", "PM"}
		if c == 'P' || f.swap {
			s = [2]string{"am", "pm"}
			f.upper = false
		}
		return f.name(dst, s[t.Hour()/12], false), true
	case 'r':
		return f.sub(dst, "%I:%M:%S %p", t), true
	case 'R':
		return f.sub(dst, "%H:%M", t), true
	case 's':
		// The C library computes %s with mktime, which reads the
		// broken-down time as local time: for a time in UTC (gmtime) it
		// is off by the local zone's offset.
		u := t.Unix()
		if t.Location() == time.UTC {
			u = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.Local).Unix()
		}
		return f.num64(dst, u, 1, ' '), true
	case 'S':
		return f.num(dst, t.Second(), 2, '0'), true
	case 't':
		return f.name(dst, "\t", false), true
	case 'T', 'X':
		return f.sub(dst, "%H:%M:%S", t), true
	case 'u':
		return f.num(dst, (int(t.Weekday())+6)%7+1, 1, '0'), true
	case 'U':
		return f.num(dst, (t.YearDay()-1+7-int(t.Weekday()))/7, 2, '0'), true
	case 'V':
		_, w := t.ISOWeek()
		return f.num(dst, w, 2, '0'), true
	case 'w':
		return f.num(dst, int(t.Weekday()), 1, '0'), true
	case 'W':
		return f.num(dst, (t.YearDay()-1+7-(int(t.Weekday())+6)%7)/7, 2, '0'), true
	case 'y':
		return f.num(dst, mod100(t.Year()), 2, '0'), true
	case 'Y':
		return f.num(dst, t.Year(), 1, '0'), true
	case 'z':
		// The sign is written as a field of its own, padded to the
		// width like a name, and the hours and minutes as a number, as
		// the C library does.
		_, off := t.Zone()
		sign := "+"
		if off < 0 {
			sign = "-"
			off = -off
		}
		off /= 60
		dst = f.name(dst, sign, false)
		return f.num(dst, off/60*100+off%60, 4, '0'), true
	case 'Z':
		name, _ := t.Zone()
		if t.Location() == time.UTC {
			name = "GMT"
		}
		if f.swap {
			f.swap = false
			return f.name(dst, string(lowerASCII([]byte(name))), false), true
		}
		return f.name(dst, name, false), true
	case '%':
		return f.name(dst, "%", false), true
	}
	return dst, false
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}

func mod100(y int) int {
	y %= 100
	if y < 0 {
		y += 100
	}
	return y
}

// sub appends the conversion that stands for the format s; a width applies
// to the whole result.
func (f spec) sub(dst []byte, s string, t time.Time) []byte {
	mark := len(dst)
	dst = Strftime(dst, []byte(s), t)
	if f.upper {
		upperASCII(dst[mark:])
	}
	return f.padLeft(dst, mark, ' ')
}

// name appends the string s as a field.
func (f spec) name(dst []byte, s string, swappable bool) []byte {
	return field(f, dst, s, swappable)
}

// field appends s padded on the left to the field width, with spaces or,
// with the "0" flag, zeros. With the "^" flag, or with "#" when swappable
// is true (names of days and months), it is written in capitals.
func field[T string | []byte](f spec, dst []byte, s T, swappable bool) []byte {
	mark := len(dst)
	dst = append(dst, s...)
	if f.upper || (f.swap && swappable) {
		upperASCII(dst[mark:])
	}
	return f.padLeft(dst, mark, ' ')
}

// num appends v with at least digits digits, padded on the left with pad
// unless a flag says otherwise: "_" pads with spaces, "0" with zeros, and
// "-" only to the field width, with spaces. A width wider than digits
// pads to the width. The padding goes before a minus sign.
func (f spec) num(dst []byte, v, digits int, pad byte) []byte {
	return f.num64(dst, int64(v), digits, pad)
}

func (f spec) num64(dst []byte, v int64, digits int, pad byte) []byte {
	switch f.pad {
	case '_':
		pad = ' '
	case '0':
		pad = '0'
	case '-':
		pad = ' '
		digits = 0
	}
	digits = max(digits, f.width)
	var b [24]byte
	s := strconv.AppendInt(b[:0], v, 10)
	for n := len(s); n < digits; n++ {
		dst = append(dst, pad)
	}
	return append(dst, s...)
}

// padLeft pads dst[mark:] on the left to the field width.
func (f spec) padLeft(dst []byte, mark int, pad byte) []byte {
	n := len(dst) - mark
	if f.width <= n {
		return dst
	}
	if f.pad == '0' {
		pad = '0'
	}
	k := f.width - n
	for range k {
		dst = append(dst, 0)
	}
	copy(dst[mark+k:], dst[mark:mark+n])
	for j := mark; j < mark+k; j++ {
		dst[j] = pad
	}
	return dst
}

func upperASCII(b []byte) {
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
}
