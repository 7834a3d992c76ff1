// Package dns builds DNS queries and reads their answers by hand, for the
// resolver that runs on each worker's event loop: a query is a few bytes
// appended to a buffer and an answer is read in place, so resolving a
// name costs no goroutine and no dependency. Only what nginx's resolver
// uses is read: the header, the question, and the A, AAAA and CNAME
// records of the answer section (with their TTLs); other sections are
// not looked at.
package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Record types and the class the resolver asks for.
const (
	TypeA     uint16 = 1
	TypeCNAME uint16 = 5
	TypeDNAME uint16 = 39
	TypeAAAA  uint16 = 28
	classIN   uint16 = 1
)

// Response codes, as nginx names them in its log lines.
const (
	RCodeFormErr  = 1
	RCodeServFail = 2
	RCodeNXDomain = 3
	RCodeNotImp   = 4
	RCodeRefused  = 5
)

// headerLen is the fixed size of a message's header.
const headerLen = 12

// maxName is the longest name the resolver sends or reads, written with
// dots: nginx's limit, which lets four labels of 63 bytes through.
const maxName = 255

// ErrShort is nginx's complaint about an answer that ends before what its
// counts and lengths promise.
var ErrShort = errors.New("short DNS response")

// AppendQuery appends a standard query with recursion desired for one
// name and type. It fails for a name that cannot be sent: an empty
// label, a label over 63 bytes or a name over 255.
func AppendQuery(b []byte, id uint16, name string, qtype uint16) ([]byte, error) {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > maxName {
		return b, fmt.Errorf("invalid name %q", name)
	}
	b = binary.BigEndian.AppendUint16(b, id)
	b = append(b, 0x01, 0x00) // RD
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
	for len(name) > 0 {
		label := name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			label, name = name[:i], name[i+1:]
			if name == "" {
				return b, fmt.Errorf("invalid name")
			}
		} else {
			name = ""
		}
		if label == "" || len(label) > 63 {
			return b, fmt.Errorf("invalid label %q", label)
		}
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, classIN), nil
}

// Answer is what the resolver needs of a response.
type Answer struct {
	ID        uint16
	Flags     uint16
	RCode     int
	Truncated bool
	// QName is the question's name, lower-cased; QType its type.
	QName string
	QType uint16
	// Records is the number of answer records.
	Records int
	// Addrs are the addresses of the records of the asked type, in the
	// answer's order, whatever name owns them (nginx takes an A record
	// that follows a CNAME whatever its owner).
	Addrs []netip.Addr
	// CNAME is the target of the last CNAME record, lower-cased; empty
	// without one.
	CNAME string
	// TTL is the least TTL of the answer records (negative ones count
	// as 0); meaningful when Records > 0.
	TTL uint32
}

// ParseHeader reads the header and checks that the message is a response
// to a standard query and, over UDP, may be truncated; it is what the
// resolver looks at before anything else (its ID and response code).
func ParseHeader(msg []byte) (Answer, error) {
	var a Answer
	if len(msg) < headerLen {
		return a, ErrShort
	}
	a.ID = binary.BigEndian.Uint16(msg)
	a.Flags = binary.BigEndian.Uint16(msg[2:])
	a.RCode = int(a.Flags & 0xf)
	a.Truncated = a.Flags&0x0200 != 0
	if a.Flags&0xf870 != 0x8000 {
		return a, fmt.Errorf("invalid UDP DNS response %d fl:%04X", a.ID, a.Flags)
	}
	return a, nil
}

// Parse reads a response as nginx's resolver does: the header, exactly
// one question, then the answer records; an A or AAAA record of the
// other type, a record of the wrong length or class, or a name that is
// malformed make the answer invalid with nginx's words, and bytes
// missing make it ErrShort. A response with an error code is returned
// after its question, without its records.
func Parse(msg []byte) (Answer, error) {
	a, err := ParseHeader(msg)
	if err != nil {
		return a, err
	}
	if binary.BigEndian.Uint16(msg[4:]) != 1 {
		return a, errors.New("invalid number of questions in DNS response")
	}
	name, off, err := readName(msg, headerLen)
	if err != nil {
		return a, err
	}
	if name == "" {
		return a, errors.New("zero-length domain name in DNS response")
	}
	a.QName = name
	if off+4 > len(msg) {
		return a, ErrShort
	}
	a.QType = binary.BigEndian.Uint16(msg[off:])
	if class := binary.BigEndian.Uint16(msg[off+2:]); class != classIN {
		return a, fmt.Errorf("unknown query class %d in DNS response", class)
	}
	off += 4
	if a.RCode != 0 {
		return a, nil
	}
	nan := int(binary.BigEndian.Uint16(msg[6:]))
	a.TTL = ^uint32(0)
	for range nan {
		start := off
		off, err = skipName(msg, off)
		if err != nil {
			return a, err
		}
		if off-start == 1 {
			// The root name owns no record the resolver asked for.
			return a, errors.New("invalid name in DNS response")
		}
		if off+10 > len(msg) {
			return a, ErrShort
		}
		typ := binary.BigEndian.Uint16(msg[off:])
		class := binary.BigEndian.Uint16(msg[off+2:])
		ttl := binary.BigEndian.Uint32(msg[off+4:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if class != classIN {
			return a, fmt.Errorf("unexpected RR class %d", class)
		}
		if int32(ttl) < 0 {
			ttl = 0
		}
		a.TTL = min(a.TTL, ttl)
		if off+rdlen > len(msg) {
			return a, ErrShort
		}
		rdata := msg[off : off+rdlen]
		switch typ {
		case TypeA, TypeAAAA:
			size, what := 4, "A"
			if typ == TypeAAAA {
				size, what = 16, "AAAA"
			}
			if typ != a.QType {
				return a, fmt.Errorf("unexpected %s record in DNS response", what)
			}
			if rdlen != size {
				return a, fmt.Errorf("invalid %s record in DNS response", what)
			}
			ip, _ := netip.AddrFromSlice(rdata)
			a.Addrs = append(a.Addrs, ip)
		case TypeCNAME:
			target, _, err := readName(msg, off)
			if err != nil {
				return a, err
			}
			a.CNAME = target
		}
		off += rdlen
		a.Records++
	}
	return a, nil
}

// skipName steps over a name at off without reading it: labels up to a
// zero byte or a compression pointer.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return off, ErrShort
		}
		c := msg[off]
		switch {
		case c == 0:
			return off + 1, nil
		case c&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return off, ErrShort
			}
			return off + 2, nil
		case c&0xc0 != 0:
			return off, errors.New("invalid label type in DNS response")
		}
		off += 1 + int(c)
	}
}

// readName reads the name at off, following compression pointers, and
// returns it lower-cased (without the final dot) and the offset after it
// where it is written. A pointer loop, a pointer forward or past the
// end, or a name over 255 bytes is an error.
func readName(msg []byte, off int) (string, int, error) {
	var sb strings.Builder
	end := -1
	wire := 1
	for jumps := 0; ; {
		if off >= len(msg) {
			return "", 0, ErrShort
		}
		c := msg[off]
		switch {
		case c == 0:
			if end < 0 {
				end = off + 1
			}
			return strings.ToLower(sb.String()), end, nil
		case c&0xc0 == 0xc0:
			if off+2 > len(msg) {
				return "", 0, ErrShort
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if end < 0 {
				end = off + 2
			}
			// A pointer must point back, which also rules out loops.
			jumps++
			if ptr >= off || jumps > 64 {
				return "", 0, errors.New("compression pointers loop in DNS response")
			}
			off = ptr
			continue
		case c&0xc0 != 0:
			return "", 0, errors.New("invalid label type in DNS response")
		}
		n := int(c)
		if off+1+n > len(msg) {
			return "", 0, ErrShort
		}
		wire += 1 + n
		if wire-1 > maxName+1 {
			return "", 0, errors.New("name is out of DNS response")
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.Write(msg[off+1 : off+1+n])
		off += 1 + n
	}
}

// RCodeText is nginx's text for a response code, or for 110, its code
// for a resolution that timed out.
func RCodeText(code int) string {
	switch code {
	case RCodeFormErr:
		return "Format error"
	case RCodeServFail:
		return "Server failure"
	case RCodeNXDomain:
		return "Host not found"
	case RCodeNotImp:
		return "Unimplemented"
	case RCodeRefused:
		return "Operation refused"
	case CodeTimedOut:
		return "Operation timed out"
	}
	return "Unknown error"
}

// CodeTimedOut is the code nginx reports for a name not resolved within
// resolver_timeout (ETIMEDOUT).
const CodeTimedOut = 110
