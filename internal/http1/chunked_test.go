package http1

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// decodeAll feeds in to a fresh decoder, at most step bytes at a time
// (step <= 0: everything available), and returns the concatenated payload,
// the bytes consumed, done and the error.
func decodeAll(in []byte, step int) (payload []byte, consumed int, done bool, err error) {
	var d ChunkedDecoder
	avail := 0
	for {
		if step <= 0 {
			avail = len(in)
		} else if avail < consumed+step {
			avail = min(consumed+step, len(in))
		}
		n, data, dn, e := d.Next(in[consumed:avail])
		consumed += n
		payload = append(payload, data...)
		if e != nil {
			return payload, consumed, false, e
		}
		if dn {
			return payload, consumed, true, nil
		}
		if n == 0 && data == nil {
			if avail == len(in) {
				return payload, consumed, false, nil
			}
			avail = min(avail+max(step, 1), len(in))
		}
	}
}

func TestChunkedValid(t *testing.T) {
	cases := []struct {
		name, in, want string
		rest           int // bytes after the body
	}{
		{"one chunk", "5|hello|0||", "hello", 0},
		{"several chunks", "5|hello|1|,|6| world|0||", "hello, world", 0},
		{"hex sizes", "a|0123456789|A|abcdefghij|0||", "0123456789abcdefghij", 0},
		{"leading zeros", "0005|hello|000||", "hello", 0},
		{"empty body", "0||", "", 0},
		{"extension", "5;name|hello|0;last||", "hello", 0},
		{"extension value", "5;name=value|hello|0||", "hello", 0},
		{"quoted extension", "5;a=\"q \\\" \\\\ ;=\t\x80\"|hello|0||", "hello", 0},
		{"several extensions with BWS", "5 ; a = b ;c=\"d\"; e|hello|0||", "hello", 0},
		{"trailing whitespace after size", "5 \t|hello|0 ||", "hello", 0},
		{"trailer", "5|hello|0|Expires: never|X-Sum: abc \t||", "hello", 0},
		{"empty trailer value", "0|X:||", "", 0},
		{"bare LF", "5\nhello\n0\nX: y\n\n", "hello", 0},
		{"mixed LF", "5\r\nhello\n0\nX: y\r\n\n", "hello", 0},
		{"data containing CRLF", "4|a\r\nb|0||", "a\r\nb", 0},
		{"bytes after end", "1|x|0||GET / HTTP/1.1", "x", 14},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(crlf(tc.in))
			for _, step := range []int{0, 1, 2, 3, 7} {
				payload, n, done, err := decodeAll(in, step)
				if err != nil || !done {
					t.Fatalf("step %d: done %v err %v", step, done, err)
				}
				if string(payload) != tc.want || n != len(in)-tc.rest {
					t.Fatalf("step %d: payload %q consumed %d, want %q %d", step, payload, n, tc.want, len(in)-tc.rest)
				}
			}
		})
	}
}

func TestChunkedInvalid(t *testing.T) {
	cases := []struct {
		name, in string
		want     *Error
	}{
		{"0x prefix", "0x5|hello|0||", errChunkSize},
		{"empty size", "|hello|0||", errChunkSize},
		{"non-hex", "g|", errChunkSize},
		{"negative", "-1|", errChunkSize},
		{"plus", "+1|", errChunkSize},
		{"leading space", " 5|hello|0||", errChunkSize},
		{"space inside size", "5 5|", errChunkSize},
		{"overflow", "8000000000000000|", errChunkTooLarge},
		{"overflow long", "fffffffffffffffff|", errChunkTooLarge},
		{"ext without name", "5;|hello|0||", errChunkExt},
		{"ext empty name before value", "5;=x|hello|0||", errChunkExt},
		{"ext bad name char", "5;a@b|hello|0||", errChunkExt},
		{"ext missing value", "5;a=|hello|0||", errChunkExt},
		{"ext space in value", "5;a=b c|hello|0||", errChunkExt},
		{"ext space in name", "5;a b|hello|0||", errChunkExt},
		{"ext control", "5;a\x01|hello|0||", errChunkExt},
		{"ext NUL", "5;a=\x00|hello|0||", errChunkExt},
		{"ext unterminated quote", "5;a=\"b|hello|0||", errChunkExt},
		{"ext control in quote", "5;a=\"\x01\"|hello|0||", errChunkExt},
		{"ext bad quoted pair", "5;a=\"\\\x01\"|hello|0||", errChunkExt},
		{"ext junk after quote", "5;a=\"b\"c|hello|0||", errChunkExt},
		{"bare CR after size", "5\rhello|0||", errChunkBareCR},
		{"missing CRLF after data", "5|helloX|0||", errChunkDataEnd},
		{"data longer than size", "3|hello|0||", errChunkDataEnd},
		{"CR then junk after data", "5|hello\rX0||", errChunkDataEnd},
		{"trailer obs-fold", "0|X: a| b||", errTrailer},
		{"trailer no colon", "0|X||", errTrailer},
		{"trailer space before colon", "0|X : a||", errTrailer},
		{"trailer NUL", "0|X: \x00||", errTrailer},
		{"trailer bare CR", "0|X: a\rb||", errChunkBareCR},
		{"final bare CR", "0|\rX", errChunkBareCR},
		{"size line too long", strings.Repeat("0", maxChunkLine) + "5|hello|0||", errChunkLine},
		{"endless extension", "5;a=\"" + strings.Repeat("x", maxChunkLine), errChunkLine},
		{"endless trailer", "0|X: " + strings.Repeat("x", maxTrailerBytes), errTrailerSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(crlf(tc.in))
			for _, step := range []int{0, 1, 5} {
				_, _, done, err := decodeAll(in, step)
				if err != tc.want || done {
					t.Fatalf("step %d: done %v err %v, want %v", step, done, err, tc.want)
				}
			}
			// The error sticks.
			var d ChunkedDecoder
			for i := 0; i < 100; i++ {
				n, _, _, err := d.Next(in)
				if err != nil {
					if n2, _, _, err2 := d.Next([]byte("0\r\n\r\n")); err2 != err || n2 != 0 {
						t.Fatalf("error did not stick: %v", err2)
					}
					return
				}
				in = in[n:]
			}
			t.Fatal("no error")
		})
	}
}

func TestChunkedLongSizeWithinLimit(t *testing.T) {
	in := []byte(strings.Repeat("0", maxChunkLine-3) + "5\r\nhello\r\n0\r\n\r\n")
	if payload, _, done, err := decodeAll(in, 0); err != nil || !done || string(payload) != "hello" {
		t.Fatalf("%q %v %v", payload, done, err)
	}
}

func TestChunkedIncomplete(t *testing.T) {
	in := []byte(crlf("5|hello|0|X: y||"))
	for i := 0; i < len(in); i++ {
		_, _, done, err := decodeAll(in[:i], 0)
		if done || err != nil {
			t.Fatalf("prefix %d: done %v err %v", i, done, err)
		}
	}
}

func TestChunkedNextContract(t *testing.T) {
	var d ChunkedDecoder
	n, data, done, err := d.Next(nil)
	if n != 0 || data != nil || done || err != nil {
		t.Fatal("empty input must need more")
	}
	in := []byte("5\r\nhel")
	n, data, done, err = d.Next(in)
	if n != 6 || string(data) != "hel" || done || err != nil {
		t.Fatalf("got %d %q %v %v", n, data, done, err)
	}
	if cap(data) != len(data) {
		t.Error("data capacity not capped")
	}
	n, data, _, _ = d.Next([]byte("lo\r\n0\r\n"))
	if n != 2 || string(data) != "lo" {
		t.Fatalf("got %d %q", n, data)
	}
	n, data, done, _ = d.Next([]byte("\r\n0\r\n"))
	if n != 5 || data != nil || done {
		t.Fatalf("got %d %q %v", n, data, done)
	}
	n, _, done, _ = d.Next([]byte("\r\nrest"))
	if n != 2 || !done {
		t.Fatalf("got %d %v", n, done)
	}
	if n, _, done, _ = d.Next([]byte("rest")); n != 0 || !done {
		t.Fatalf("after done: %d %v", n, done)
	}
	d.Reset()
	if _, data, _, _ = d.Next([]byte("1\r\nz")); string(data) != "z" {
		t.Fatalf("after Reset: %q", data)
	}
}

func TestAppendChunk(t *testing.T) {
	if got := AppendChunk([]byte("x"), nil); string(got) != "x" {
		t.Errorf("empty chunk appended %q", got)
	}
	for _, n := range []int{1, 9, 10, 15, 16, 255, 256, 4096, 65535, 1 << 20} {
		data := bytes.Repeat([]byte{'d'}, n)
		enc := AppendChunk(nil, data)
		enc = AppendLastChunk(enc)
		if want := strconv.FormatInt(int64(n), 16) + "\r\n"; !bytes.HasPrefix(enc, []byte(want)) {
			t.Errorf("size %d encoded as %q", n, enc[:8])
		}
		payload, consumed, done, err := decodeAll(enc, 0)
		if err != nil || !done || consumed != len(enc) || !bytes.Equal(payload, data) {
			t.Errorf("round trip of %d bytes: %v %v %d", n, err, done, consumed)
		}
	}
	if got := string(AppendChunk(nil, []byte("hello, world!!!!!"))); got != "11\r\nhello, world!!!!!\r\n" {
		t.Errorf("got %q", got)
	}
	if got := string(AppendLastChunk([]byte("a"))); got != "a0\r\n\r\n" {
		t.Errorf("got %q", got)
	}
}

// TestChunkedUnread checks that payload given back with Unread comes
// again from the next call, and the framing after it is read as before.
func TestChunkedUnread(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")
	consumed, data, done, err := d.Next(in)
	if err != nil || done || string(data) != "hello" {
		t.Fatalf("first: %d %q %v %v", consumed, data, done, err)
	}
	// The caller took "hel" only.
	d.Unread(2)
	consumed -= 2
	in = in[consumed:]
	var got []byte
	for len(in) > 0 {
		n, data, done, err := d.Next(in)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, data...)
		in = in[n:]
		if done {
			break
		}
		if n == 0 {
			t.Fatal("no progress")
		}
	}
	if string(got) != "loabc" || len(in) != 0 {
		t.Errorf("after Unread: got %q, %d bytes left", got, len(in))
	}
}
