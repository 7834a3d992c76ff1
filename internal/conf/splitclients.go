package conf

import (
	"strings"

	"headroom/internal/vars"
)

// SplitClients is a split_clients block: the value of its variable is
// chosen by the MurmurHash2 of Source's value, as nginx's split_clients
// module chooses it. Each part takes its share of the 2^32 hash values in
// order; "*" takes the rest, and with no "*" the hashes past the last
// part get the empty string.
type SplitClients struct {
	Source *vars.Template
	Parts  []SplitPart
}

// SplitPart is one line of a split_clients block.
type SplitPart struct {
	// Percent is the share in hundredths of a percent as written
	// ("0.5%" is 50); 0 is "*".
	Percent uint32
	// Below is the hash value the part ends before: the sum of the
	// shares so far scaled to 2^32-1, as nginx computes it. It is unused
	// for "*", which matches every hash.
	Below uint32
	Value string
}

func splitClientsDirectives() []*directive {
	return []*directive{
		{name: "split_clients", ctx: ctxHTTP, args: arg2, block: true, set: setSplitClients,
			syntax: "split_clients string $variable { ... }",
			doc:    "Defines a variable for A/B testing: the MurmurHash2 of the string picks a line by its percentage (up to two decimals, 100% at most in all); \"*\" takes what the others leave. The value is computed when the variable is first read."},
	}
}

func setSplitClients(b *builder, n *Node, _ *scope) error {
	src, err := b.template(n, n.Args[0])
	if err != nil {
		return err
	}
	name := n.Args[1]
	if len(name) < 2 || name[0] != '$' {
		return errAt(n, "invalid variable name \"%s\"", name)
	}
	name = name[1:]
	if idx, suffix := vars.Lookup(name); idx != vars.Unknown && suffix == "" {
		return errAt(n, "the duplicate \"%s\" variable", name)
	}
	sc := &SplitClients{Source: src}
	// A line with one word takes, as in nginx, the second word of the
	// line read before it: nginx reuses the array of words and reads the
	// value from its second slot.
	prev := n.Args[0]
	for _, e := range n.Block {
		if e.err != nil {
			return e.err
		}
		if e.IsBlock {
			return errAt(e, "unexpected \"{\"")
		}
		value := prev
		if len(e.Args) > 0 {
			value = e.Args[0]
			prev = value
		}
		p := SplitPart{Value: value}
		if e.Name != "*" {
			pct, ok := parsePercent(e.Name)
			if !ok {
				return errAt(e, "invalid percent value \"%s\"", e.Name)
			}
			p.Percent = pct
		}
		sc.Parts = append(sc.Parts, p)
	}
	var sum, last uint32
	for i := range sc.Parts {
		p := &sc.Parts[i]
		if p.Percent == 0 {
			sum = 10000
		} else {
			sum += p.Percent
		}
		if sum > 10000 {
			return &Error{File: n.File, Line: n.EndLine, Msg: "percent total is greater than 100%", CommandLine: n.cmdline}
		}
		if p.Percent != 0 {
			last += uint32(uint64(p.Percent) * 0xffffffff / 10000)
			p.Below = last
		}
	}
	slot := b.declareVar(name, false)
	v := &b.variables[slot]
	*v = Variable{Name: v.Name, Set: v.Set, SplitClients: sc}
	return nil
}

// parsePercent reads "12.5%" as hundredths of a percent (1250), as
// nginx's ngx_atofp with two decimals does: at most one dot, at most two
// digits after it, and not zero. Like nginx it keeps the low 32 bits of
// a value too large for them.
func parsePercent(s string) (uint32, bool) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok || num == "" {
		return 0, false
	}
	const cutoff = (1<<63 - 1) / 10
	var v int64
	point, dot := 2, false
	for i := 0; i < len(num); i++ {
		c := num[i]
		if point == 0 {
			return 0, false
		}
		if c == '.' {
			if dot {
				return 0, false
			}
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		if v >= cutoff && (v > cutoff || int64(c-'0') > (1<<63-1)%10) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		if dot {
			point--
		}
	}
	for ; point > 0; point-- {
		if v > cutoff {
			return 0, false
		}
		v *= 10
	}
	if v == 0 {
		return 0, false
	}
	return uint32(v), true
}

// MurmurHash2 is nginx's ngx_murmur_hash2: MurmurHash2 with seed 0,
// reading the data in little-endian 4-byte words.
func MurmurHash2(data []byte) uint32 {
	const m = 0x5bd1e995
	h := uint32(len(data))
	for len(data) >= 4 {
		k := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Pick returns the value of the part a hash falls in; ok is false when
// it falls past the last part and there is no "*".
func (sc *SplitClients) Pick(hash uint32) (string, bool) {
	for i := range sc.Parts {
		p := &sc.Parts[i]
		if p.Percent == 0 || hash < p.Below {
			return p.Value, true
		}
	}
	return "", false
}
