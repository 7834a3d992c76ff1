package proxy

import (
	"bytes"
	"strings"
	"testing"

	"headroom/internal/engine"
	"headroom/internal/http1"
)

// fcgiRec lays out a record with the given padding.
func fcgiRec(typ byte, content string, pad int) string {
	b := appendRecordHeader(nil, typ, len(content))
	b[6] = byte(pad)
	return string(b) + content + strings.Repeat("\x00", pad)
}

// readAnswer reads everything the FastCGI transport makes of an answer
// given to its socket piece bytes at a time.
func readAnswer(t *testing.T, answer string, piece int, keepConn, noBody bool, catch []string) (string, error) {
	t.Helper()
	in := &memTransport{room: -1}
	ft := &fcgiTransport{inner: in}
	ft.reset(0, 0, keepConn, noBody, catch, 4096)
	return readThrough(t, ft, in, answer, piece, !keepConn)
}

// readThrough reads everything a transport over in makes of an answer
// given to in piece bytes at a time, as the upstream attempt would read
// it, in small reads; eof ends the socket's stream after the answer. It
// ends at an error, at the stream's end, or when nothing more comes once
// the answer is all in.
func readThrough(t *testing.T, tr transport, in *memTransport, answer string, piece int, eof bool) (string, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, 7)
	for rounds := 0; rounds < 100000; rounds++ {
		if len(in.in) == 0 && len(answer) > 0 {
			n := min(piece, len(answer))
			in.in, answer = []byte(answer[:n]), answer[n:]
			in.eof = eof && len(answer) == 0
		}
		n, err := tr.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case n > 0:
		case err == engine.ErrAgain && len(answer) == 0:
			return string(out), nil
		case err == engine.ErrAgain:
		case err != nil:
			return string(out), err
		default:
			return string(out), nil
		}
	}
	t.Fatal("the transport did not end")
	return "", nil
}

// dechunked writes a translated answer with its chunked body decoded,
// and "<end>" after the last chunk, so that answers read in different
// pieces (and so chunked differently) compare equal.
func dechunked(s string) string {
	head, body, ok := strings.Cut(s, "\r\n\r\n")
	if !ok || !strings.Contains(head, "Transfer-Encoding: chunked") {
		return s
	}
	var d http1.ChunkedDecoder
	out := head + "\r\n\r\n"
	in := []byte(body)
	for {
		n, data, done, err := d.Next(in)
		if err != nil {
			return out + "<bad chunks>"
		}
		out += string(data)
		in = in[n:]
		if done {
			return out + "<end>" + string(in)
		}
		if n == 0 && data == nil {
			return out
		}
	}
}

// TestFastCGIAnswer checks how an application's records become the
// HTTP/1.1 answer the upstream attempt reads, whatever pieces the socket
// gives them in: the CGI head's Status (the first one, as it came) as
// the status line, 302 for a Location alone, LF or CRLF lines, padding
// and STDERR between the records, chunks without a Content-Length, the
// length kept with one, no body for HEAD or 204, and the answers nginx
// refuses.
func TestFastCGIAnswer(t *testing.T) {
	end := fcgiRec(fcgiEndRequest, "\x00\x00\x00\x00\x00\x00\x00\x00", 0)
	tests := []struct {
		name     string
		answer   string
		keepConn bool
		noBody   bool
		catch    []string
		want     string
		failMsg  string
	}{
		{name: "a head and a body, unknown length",
			answer: fcgiRec(fcgiStdout, "Content-Type: text/html\r\n\r\nhello", 3) + fcgiRec(fcgiStdout, " world", 0) + end,
			want:   "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		{name: "LF lines, a Status with a reason, the first Status wins",
			answer: fcgiRec(fcgiStdout, "Status: 404 Not Here\nStatus: 500\nX-A: b\n\nbody", 0) + end,
			want:   "HTTP/1.1 404 Not Here\r\nStatus: 404 Not Here\r\nStatus: 500\r\nX-A: b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nbody\r\n0\r\n\r\n"},
		{name: "a Status without a reason stays without one",
			answer: fcgiRec(fcgiStdout, "Status: 201\r\n\r\n", 0) + end,
			want:   "HTTP/1.1 201 \r\nStatus: 201\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"},
		{name: "a Location alone is 302",
			answer: fcgiRec(fcgiStdout, "Location: /else\r\n\r\n", 0) + end,
			want:   "HTTP/1.1 302 Moved Temporarily\r\nLocation: /else\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"},
		{name: "a Content-Length frames the body, and cuts what is more",
			answer: fcgiRec(fcgiStdout, "Content-Length: 3\r\n\r\nabcdef", 0) + end,
			want:   "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"},
		{name: "the head across records, STDERR between them",
			answer: fcgiRec(fcgiStdout, "X-A: 1\r", 0) + fcgiRec(fcgiStderr, "a warning\n", 2) + fcgiRec(fcgiStdout, "\n\r", 0) + fcgiRec(fcgiStdout, "\nx", 0) + end,
			want:   "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n"},
		{name: "a kept connection says nothing of closing",
			answer: fcgiRec(fcgiStdout, "\r\nok", 0) + end, keepConn: true,
			want: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
		{name: "HEAD drops the body",
			answer: fcgiRec(fcgiStdout, "Content-Type: text/plain\r\n\r\nbody", 0) + end, noBody: true,
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
		{name: "204 drops the body",
			answer: fcgiRec(fcgiStdout, "Status: 204 No Content\r\n\r\nbody", 0) + end,
			want:   "HTTP/1.1 204 No Content\r\nStatus: 204 No Content\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
		{name: "framing fields of the application's are not passed",
			answer: fcgiRec(fcgiStdout, "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", 0) + end,
			want:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"},
		{name: "the end before the head's end",
			answer: fcgiRec(fcgiStdout, "X-A: 1\r\n", 0) + end, failMsg: "upstream prematurely closed FastCGI stdout"},
		{name: "an invalid status",
			answer: fcgiRec(fcgiStdout, "Status: abc\r\n\r\n", 0) + end, failMsg: `upstream sent invalid status "abc"`},
		{name: "an unexpected record",
			answer: fcgiRec(fcgiParams, "", 0), failMsg: "upstream sent unexpected FastCGI record: 4"},
		{name: "another protocol version",
			answer: "\x02\x06\x00\x01\x00\x00\x00\x00", failMsg: "upstream sent unsupported FastCGI protocol version: 2"},
		{name: "a head too big",
			answer: fcgiRec(fcgiStdout, "X-A: "+strings.Repeat("a", 5000), 0), failMsg: "upstream sent too big header"},
		{name: "fastcgi_catch_stderr",
			answer: fcgiRec(fcgiStderr, "PHP Fatal error: x", 0) + fcgiRec(fcgiStdout, "\r\n", 0) + end, catch: []string{"Fatal"}, failMsg: ""},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 3, 8, 1 << 20} {
			got, err := readAnswer(t, tt.answer, piece, tt.keepConn, tt.noBody, tt.catch)
			if tt.want != "" {
				if err != nil || dechunked(got) != dechunked(tt.want) {
					t.Errorf("%s, pieces of %d:\n got %q (%v)\nwant %q", tt.name, piece, got, err, tt.want)
				}
				continue
			}
			if err != errGatewayInvalid {
				t.Errorf("%s, pieces of %d: got %q (%v), want it refused", tt.name, piece, got, err)
			}
		}
	}
	// The message the attempt logs for a refused answer.
	in := &memTransport{room: -1, in: []byte(fcgiRec(fcgiStdout, "Status: abc\r\n\r\n", 0))}
	ft := &fcgiTransport{inner: in}
	ft.reset(0, 0, false, false, nil, 4096)
	if _, err := ft.Read(make([]byte, 100)); err != errGatewayInvalid || ft.failMsg != `upstream sent invalid status "abc"` {
		t.Errorf("invalid status: %v, %q", err, ft.failMsg)
	}
}

// TestFastCGIRequestFraming checks what the transport writes of a
// request: its own records as they are, the body as STDIN records ended
// by an empty one (or the empty one alone for no body), a body that
// streams in chunks without its framing, and nothing taken while the
// socket holds bytes of an earlier piece.
func TestFastCGIRequestFraming(t *testing.T) {
	head := "HEADRECORDS"
	write := func(ft *fcgiTransport, in *memTransport, data string) {
		t.Helper()
		for p := []byte(data); len(p) > 0; {
			n, err := ft.Write(p)
			if err == engine.ErrAgain {
				in.room = 5
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		for {
			done, err := ft.Flush()
			if err != nil {
				t.Fatal(err)
			}
			if done {
				return
			}
			in.room = 5
		}
	}
	stdin := func(s string) string { return fcgiRec(fcgiStdin, s, 0) }
	for _, tt := range []struct {
		name    string
		bodyLen int64
		sent    string
		want    string
	}{
		{"a body of known length", 10, head + "0123456789", head + stdin("0123456789") + stdin("")},
		{"a body in chunks", -1, head + "5\r\n01234\r\n3;x=y\r\n567\r\n0\r\n\r\n", head + stdin("01234") + stdin("567") + stdin("")},
		{"no body", 0, head, head},
	} {
		for _, room := range []int{-1, 5} {
			in := &memTransport{room: room}
			ft := &fcgiTransport{inner: in}
			ft.reset(len(head), tt.bodyLen, false, false, nil, 4096)
			write(ft, in, tt.sent)
			if string(in.out) != tt.want {
				t.Errorf("%s, room %d:\n got %q\nwant %q", tt.name, room, in.out, tt.want)
			}
		}
	}
	// A large body goes in records of at most a piece's size.
	in := &memTransport{room: -1}
	ft := &fcgiTransport{inner: in}
	body := strings.Repeat("x", 70000)
	ft.reset(0, int64(len(body)), false, false, nil, 4096)
	write(ft, in, body)
	want := stdin(body[:fcgiStdinPiece]) + stdin(body[fcgiStdinPiece:2*fcgiStdinPiece]) + stdin(body[2*fcgiStdinPiece:]) + stdin("")
	if string(in.out) != want {
		t.Errorf("a large body: %d bytes written, want %d", len(in.out), len(want))
	}
}

// TestFastCGIParams checks the encoding of names and values: one byte
// for a length below 128, four with the high bit above.
func TestFastCGIParams(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want []byte
	}{{0, []byte{0}}, {127, []byte{127}}, {128, []byte{0x80, 0, 0, 128}}, {70000, []byte{0x80, 0x01, 0x11, 0x70}}} {
		if got := appendParamLen(nil, tt.n); !bytes.Equal(got, tt.want) {
			t.Errorf("%d: %x, want %x", tt.n, got, tt.want)
		}
	}
}

// FuzzFastCGIAnswer gives the transport arbitrary bytes as an
// application's answer: it must end (bytes, an error or the end), never
// make more than a bounded amount of output of its input, and, when it
// translated a head, make one the HTTP/1 parser reads or refuses without
// trouble.
func FuzzFastCGIAnswer(f *testing.F) {
	end := fcgiRec(fcgiEndRequest, "\x00\x00\x00\x00\x00\x00\x00\x00", 0)
	f.Add([]byte(fcgiRec(fcgiStdout, "Status: 404 x\r\nA: b\r\n\r\nbody", 2)+end), 3)
	f.Add([]byte(fcgiRec(fcgiStderr, "oops", 0)+fcgiRec(fcgiStdout, "\n\nx", 0)+end), 1)
	f.Add([]byte(fcgiRec(fcgiStdout, "Content-Length: 2\n\nabc", 0)+end), 8)
	f.Fuzz(func(t *testing.T, answer []byte, piece int) {
		if piece <= 0 || piece > 1<<16 {
			piece = 1 << 16
		}
		got, _ := readAnswer(t, string(answer), piece, false, false, []string{"x"})
		// Chunk framing adds at most 12 bytes a record, the status
		// line and framing fields about 80.
		if len(got) > 2*len(answer)+200 {
			t.Fatalf("%d bytes out of %d in", len(got), len(answer))
		}
		if strings.HasPrefix(got, "HTTP/1.1 ") {
			var resp http1.Response
			http1.ParseResponse([]byte(got), &resp, &http1.Limits{MaxRequestLine: 8192, MaxHeaderLine: 8192, MaxHeaderBytes: 8192, MaxHeaders: 100})
		}
	})
}
