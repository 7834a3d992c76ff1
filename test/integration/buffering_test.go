package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRequestBuffering checks proxy_request_buffering on, nginx's
// default: the upstream is not connected to until the whole body is in;
// a body larger than client_body_buffer_size goes through a temporary
// file (logged at warn, removed afterwards) and arrives whole; with
// client_body_in_file_only on the file stays; a temporary file that
// cannot be created is a 500 and a crit line, never a truncated body.
func TestRequestBuffering(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		up := newUpstream(t, "up", func(c *upConn, r *upRequest) {
			c.respond(200, fmt.Sprintf("%s %d %s", r.Method, len(r.Body), r.Headers.get("Content-Length")))
		})
		p := startProxy(t, tg, fmt.Sprintf(`
    client_body_temp_path {{PREFIX}}/body;
    server {
        listen 127.0.0.1:{{PORT}};
        location / { proxy_pass http://%[1]s; }
        location /keep/ { proxy_pass http://%[1]s; client_body_in_file_only on; client_body_temp_path {{PREFIX}}/kept 1 2; }
        location /broken/ { proxy_pass http://%[1]s; client_body_temp_path {{PREFIX}}/broken; }
        location /stream/ { proxy_pass http://%[1]s; proxy_request_buffering off; }
        location /small/ { proxy_pass http://%[1]s; client_body_buffer_size 1k; proxy_set_header X-File $request_body_file; }
    }`, up.addr))
		bodyDir := filepath.Join(p.prefix, "body")

		t.Run("no upstream connection before the body is in", func(t *testing.T) {
			conns := up.connCount()
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write("POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
			time.Sleep(300 * time.Millisecond)
			if n := up.connCount() - conns; n != 0 {
				t.Errorf("the upstream got %d connections while the body was incomplete", n)
			}
			rc.write("56789")
			if resp := rc.read("POST"); resp.Status != 200 || string(resp.Body) != "POST 10 10" {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
		})

		t.Run("streamed with buffering off", func(t *testing.T) {
			conns := up.connCount()
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write("POST /stream/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234")
			deadline := time.Now().Add(3 * time.Second)
			for up.connCount() == conns && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if up.connCount() == conns {
				t.Errorf("no upstream connection while the body streams")
			}
			rc.write("56789")
			if resp := rc.read("POST"); resp.Status != 200 || string(resp.Body) != "POST 10 10" {
				t.Errorf("got %d %q", resp.Status, resp.Body)
			}
		})

		t.Run("large body through a temporary file", func(t *testing.T) {
			body := payload(200<<10, 7)
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write(fmt.Sprintf("PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(body)))
			rc.write(string(body[:1000]))
			time.Sleep(50 * time.Millisecond)
			rc.write(string(body[1000:]))
			resp := rc.read("PUT")
			if want := fmt.Sprintf("PUT %d %d", len(body), len(body)); resp.Status != 200 || string(resp.Body) != want {
				t.Fatalf("got %d %q, want %q", resp.Status, resp.Body, want)
			}
			if got := up.lastRequest().Body; string(got) != string(body) {
				t.Errorf("the upstream got a different body of %d bytes", len(got))
			}
			if !strings.Contains(p.readLog("error.log"), "a client request body is buffered to a temporary file "+bodyDir+"/") {
				t.Errorf("no warn line naming the temporary file in %s", bodyDir)
			}
			waitEmptyDir(t, bodyDir)
		})

		t.Run("what came with the head stays in memory", func(t *testing.T) {
			// client_body_buffer_size 1k: a 2000-byte body that arrived
			// with the head is kept in memory, one that comes after it
			// goes to a file, as nginx keeps them.
			body := strings.Repeat("m", 2000)
			for _, later := range []bool{false, true} {
				rc := dialRaw(t, p.addr)
				head := fmt.Sprintf("POST /small/x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(body))
				if later {
					rc.write(head)
					time.Sleep(50 * time.Millisecond)
					rc.write(body)
				} else {
					rc.write(head + body)
				}
				resp := rc.read("POST")
				rc.c.Close()
				if resp.Status != 200 {
					t.Fatalf("later=%v: status %d", later, resp.Status)
				}
				file := up.lastRequest().Headers.get("X-File")
				if inFile := file != ""; inFile != later {
					t.Errorf("body sent later=%v: X-File %q, want a file only for the body sent later", later, file)
				}
			}
		})

		t.Run("chunked body sent with its length", func(t *testing.T) {
			body := payload(50<<10, 8)
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write("POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
			rc.write(chunk(body, 9))
			resp := rc.read("POST")
			if want := fmt.Sprintf("POST %d %d", len(body), len(body)); resp.Status != 200 || string(resp.Body) != want {
				t.Fatalf("got %d %q, want %q", resp.Status, resp.Body, want)
			}
			if ur := up.lastRequest(); ur.Chunked || string(ur.Body) != string(body) {
				t.Errorf("upstream: chunked=%v, %d body bytes", ur.Chunked, len(ur.Body))
			}
		})

		t.Run("client_body_in_file_only on keeps the file", func(t *testing.T) {
			resp := sendRaw(t, p.addr, "POST /keep/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
			if resp.Status != 200 || string(resp.Body) != "POST 5 5" {
				t.Fatalf("got %d %q", resp.Status, resp.Body)
			}
			var files []string
			filepath.Walk(filepath.Join(p.prefix, "kept"), func(path string, info os.FileInfo, err error) error {
				if err == nil && info.Mode().IsRegular() {
					files = append(files, path)
				}
				return nil
			})
			if len(files) != 1 {
				t.Fatalf("kept files: %v, want one", files)
			}
			// Levels 1 2: the last digit names the first directory, the
			// two before it the second.
			name := filepath.Base(files[0])
			if want := filepath.Join(p.prefix, "kept", name[9:], name[7:9], name); len(name) != 10 || files[0] != want {
				t.Errorf("kept file %s, want %s", files[0], want)
			}
			if b, _ := os.ReadFile(files[0]); string(b) != "hello" {
				t.Errorf("kept file holds %q", b)
			}
		})

		t.Run("temporary file cannot be created", func(t *testing.T) {
			dir := filepath.Join(p.prefix, "broken")
			// A file where the directory should be: opening a file in it
			// fails with ENOTDIR, whoever the server runs as.
			os.RemoveAll(dir)
			if err := os.WriteFile(dir, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			body := strings.Repeat("x", 100<<10)
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			rc.write(fmt.Sprintf("POST /broken/x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
			resp := rc.read("POST")
			if resp.Status != 500 {
				t.Errorf("got %d, want 500", resp.Status)
			}
			if log := p.readLog("error.log"); !strings.Contains(log, "[crit]") || !strings.Contains(log, dir) {
				t.Errorf("no crit line naming %s", dir)
			}
		})
	})
}

// waitEmptyDir waits up to 2 s for dir to hold no regular file.
func waitEmptyDir(t *testing.T, dir string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		left = left[:0]
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				left = append(left, path)
			}
			return nil
		})
		if len(left) == 0 {
			return
		}
	}
	t.Errorf("temporary files left in %s: %v", dir, left)
}
