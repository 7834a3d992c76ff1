package resp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks, for arbitrary bytes, what an event loop relies on:
// Parse does not panic; it takes a reply only once all of it is there,
// reads nothing past it, and gives the same reply whatever follows; every
// shorter prefix asks for more; a protocol error stays one however many
// bytes follow; and the reply re-encodes to exactly the bytes it took.
// It does so under the default limits and under small ones, which a
// reply within both must not notice.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range malformedCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("*3\r\n:1\r\n:1500\r\n:0\r\n+OK\r\n$-1\r\n"))
	f.Add(AppendCommand(nil, "SET", "k", "v\r\n", ""))

	small := Limits{MaxBulk: 16, MaxElements: 8, MaxDepth: 3}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := check(t, b, Limits{})
		vs, ns, errs := check(t, b, small)
		if errs == nil && (err != nil || ns != n || !equal(vs, v)) {
			t.Fatalf("%q: %s, %d under small limits but %s, %d, %v under the defaults", b, show(vs), ns, show(v), n, err)
		}
	})
}

// check runs the properties FuzzParse lists under lim and returns what
// Parse made of b.
func check(t *testing.T, b []byte, lim Limits) (Value, int, error) {
	v, n, err := Parse(b, lim)
	if n < 0 || n > len(b) {
		t.Fatalf("%q: n = %d out of range", b, n)
	}
	switch {
	case err == ErrNeedMore:
		if n != 0 || v.Kind != 0 {
			t.Fatalf("%q: ErrNeedMore with %s, n = %d", b, show(v), n)
		}
		for k := range len(b) {
			if _, _, err := Parse(b[:k], lim); err != ErrNeedMore {
				t.Fatalf("%q needs more, but its prefix %q gives %v", b, b[:k], err)
			}
		}
		return v, n, err
	case err != nil:
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("%q: error %v is neither ErrNeedMore nor a protocol error", b, err)
		}
		if n != 0 || v.Kind != 0 {
			t.Fatalf("%q: error with %s, n = %d", b, show(v), n)
		}
		for _, extra := range [][]byte{[]byte("\r\n"), []byte("+OK\r\n"), bytes.Repeat([]byte(":1\r\n"), 8)} {
			if _, _, err2 := Parse(append(b[:len(b):len(b)], extra...), lim); !errors.Is(err2, ErrProtocol) {
				t.Fatalf("%q: %v, but with %q after it: %v", b, err, extra, err2)
			}
		}
		return v, n, err
	}
	if n == 0 {
		t.Fatalf("%q: a reply of no bytes", b)
	}
	if v.Kind < KindSimple || v.Kind > KindNull {
		t.Fatalf("%q: reply of kind %d", b, v.Kind)
	}
	whole := b[:n:n]
	if v2, n2, err2 := Parse(whole, lim); err2 != nil || n2 != n || !equal(v2, v) {
		t.Fatalf("%q: %s from b but %s, %d, %v from b[:n]", b, show(v), show(v2), n2, err2)
	}
	for _, extra := range [][]byte{[]byte("+OK\r\n"), []byte("\x00garbage"), []byte("*")} {
		if v2, n2, err2 := Parse(append(whole, extra...), lim); err2 != nil || n2 != n || !equal(v2, v) {
			t.Fatalf("%q: %s, %d from b but %s, %d, %v with %q after the reply", b, show(v), n, show(v2), n2, err2, extra)
		}
	}
	for k := range n {
		if _, _, err := Parse(b[:k], lim); err != ErrNeedMore {
			t.Fatalf("%q: reply of %d bytes, but its prefix %q gives %v", b, n, b[:k], err)
		}
	}
	if enc := encode(nil, v, whole); !bytes.Equal(enc, whole) {
		t.Fatalf("%q: %s re-encodes as %q", whole, show(v), enc)
	}
	return v, n, err
}
