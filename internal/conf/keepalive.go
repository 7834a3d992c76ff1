package conf

// KeepaliveDisable is the set of browsers keepalive_disable names.
type KeepaliveDisable uint8

// The browsers of keepalive_disable.
const (
	KeepaliveDisableMSIE6 KeepaliveDisable = 1 << iota
	KeepaliveDisableSafari
)

// setKeepaliveDisable reads keepalive_disable: none, or msie6 and/or
// safari, as nginx's bitmask slot does.
func setKeepaliveDisable(b *builder, n *Node, sc *scope) error {
	if sc.raw.keepaliveDisable != nil {
		return duplicate(n)
	}
	var v KeepaliveDisable
	for _, a := range n.Args {
		switch a {
		case "none":
			// Adds no browser; as in nginx, it does not clear the others.
		case "msie6":
			v |= KeepaliveDisableMSIE6
		case "safari":
			v |= KeepaliveDisableSafari
		default:
			return errAt(n, "invalid value \"%s\"", a)
		}
	}
	sc.raw.keepaliveDisable = &v
	return nil
}
