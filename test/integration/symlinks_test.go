package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlinkRoot makes a document root readable by nginx's workers (they
// run as nobody when nginx starts as root) with symbolic links: to a
// file, to a directory with an index, to a file another user owns (when
// the test may give it away), an index file that is a link, and a ".gz"
// neighbour that is one. It returns the root and whether the file of
// another owner exists.
func symlinkRoot(t *testing.T) (string, bool) {
	t.Helper()
	root, err := os.MkdirTemp("", "headroom-symlinks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	for _, d := range []string{"", "dir", "idxlink", "cache"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
		os.Chmod(filepath.Join(root, d), 0o755)
	}
	files := map[string]string{
		"file.txt":       "file\n",
		"dir/index.html": "index\n",
		"a.txt":          "plain\n",
		"other.txt":      "other\n",
		"idxlink/real":   "real\n",
		"cache/f.txt":    "first\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"link": "file.txt", "dirlink": "dir", "linkother": "other.txt", "a.txt.gz": "file.txt", "idxlink/index.html": "real"}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	other := os.Getuid() == 0 && os.Lchown(filepath.Join(root, "other.txt"), 65534, 65534) == nil
	return root, other
}

// TestDisableSymlinks compares disable_symlinks and open_file_cache with
// nginx: the answers wherever a file is opened or tested (static files,
// index, try_files, if -f, gzip_static, from=), the error log's lines,
// and what open_file_cache keeps: a file replaced within
// open_file_cache_valid is still sent from the descriptor opened first,
// and with open_file_cache_errors a missing file stays missing.
func TestDisableSymlinks(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg *target) {
		root, otherOwner := symlinkRoot(t)
		p := startProxy(t, tg, fmt.Sprintf(`
    server {
        listen 127.0.0.1:{{PORT}};
        location /off/ { alias %[1]s/; }
        location /on/ { alias %[1]s/; disable_symlinks on; }
        location /owner/ { alias %[1]s/; disable_symlinks if_not_owner; }
        location /from/ { alias %[1]s/dirlink/; disable_symlinks on from=$document_root; }
        location ~ ^/exact/(.+)$ { alias %[1]s/$1; disable_symlinks on from=$document_root; }
        location /tf/ { alias %[1]s/; disable_symlinks on; try_files $uri /off/file.txt; }
        location /if/ {
            alias %[1]s/;
            disable_symlinks on;
            if (-f $request_filename) { return 204; }
        }
        location /gz/ { alias %[1]s/; disable_symlinks on; gzip_static always; }
        location /c/ {
            alias %[1]s/cache/;
            open_file_cache max=8 inactive=1m;
            open_file_cache_errors on;
        }
        location /cs/ {
            alias %[1]s/;
            disable_symlinks on;
            open_file_cache max=8;
            open_file_cache_errors on;
        }
    }`, root))
		get := func(uri string) *response {
			t.Helper()
			rc := dialRaw(t, p.addr)
			defer rc.c.Close()
			return rc.roundTrip("GET " + uri + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		}
		loop := "failed (40: Too many levels of symbolic links)"
		for _, c := range []struct {
			uri    string
			status int
			body   string
			owner  bool
		}{
			{uri: "/off/link", status: 200, body: "file\n"},
			{uri: "/on/file.txt", status: 200, body: "file\n"},
			{uri: "/on/link", status: 403},
			{uri: "/on/dirlink", status: 403},
			{uri: "/on/dirlink/index.html", status: 404},
			{uri: "/on/dir/", status: 200, body: "index\n"},
			{uri: "/on/dirlink/", status: 404},
			{uri: "/on/idxlink/", status: 403},
			{uri: "/owner/link", status: 200, body: "file\n"},
			{uri: "/owner/linkother", status: 403, owner: true},
			{uri: "/from/index.html", status: 200, body: "index\n"},
			{uri: "/exact/link", status: 200, body: "file\n"},
			{uri: "/tf/link", status: 200, body: "file\n"},
			{uri: "/if/file.txt", status: 204},
			{uri: "/if/link", status: 403},
			{uri: "/gz/a.txt", status: 200, body: "plain\n"},
			{uri: "/cs/link", status: 403},
			{uri: "/cs/link", status: 403},
		} {
			if c.owner && !otherOwner {
				continue
			}
			resp := get(c.uri)
			if resp.Status != c.status || c.body != "" && string(resp.Body) != c.body {
				t.Errorf("%s: %d %q, want %d %q", c.uri, resp.Status, resp.Body, c.status, c.body)
			}
		}

		// open_file_cache: the first f.txt stays in use after a new one
		// takes its name, and a missing file stays missing.
		if r := get("/c/f.txt"); string(r.Body) != "first\n" {
			t.Fatalf("/c/f.txt: %d %q", r.Status, r.Body)
		}
		if r := get("/c/late.txt"); r.Status != 404 {
			t.Errorf("/c/late.txt: %d, want 404", r.Status)
		}
		os.WriteFile(filepath.Join(root, "cache", "f.new"), []byte("second\n"), 0o644)
		os.Rename(filepath.Join(root, "cache", "f.new"), filepath.Join(root, "cache", "f.txt"))
		os.WriteFile(filepath.Join(root, "cache", "late.txt"), []byte("late\n"), 0o644)
		if r := get("/c/f.txt"); string(r.Body) != "first\n" {
			t.Errorf("/c/f.txt within open_file_cache_valid: %d %q, want the cached file", r.Status, r.Body)
		}
		if r := get("/c/late.txt"); r.Status != 404 {
			t.Errorf("/c/late.txt within open_file_cache_valid: %d, want the cached 404", r.Status)
		}

		log := p.readLog("error.log")
		want := []string{
			`[error] %s: openat() "` + root + `/link" ` + loop,
			`[error] %s: openat() "` + root + `/dirlink" ` + loop,
			`[error] %s: openat() "` + root + `/dirlink/index.html" failed (20: Not a directory)`,
			`[error] %s: "` + root + `/dirlink/index.html" is not found (20: Not a directory)`,
			`[crit] %s: openat() "` + root + `/link" ` + loop + `, client: 127.0.0.1, server: , request: "GET /tf/link HTTP/1.1"`,
			`[crit] %s: openat() "` + root + `/link" ` + loop + `, client: 127.0.0.1, server: , request: "GET /if/link HTTP/1.1"`,
			`[error] %s: openat() "` + root + `/a.txt.gz" ` + loop,
			`[error] %s: open() "` + root + `/cache/late.txt" failed (2: No such file or directory)`,
		}
		if otherOwner {
			want = append(want, `[error] %s: openat() "`+root+`/linkother" `+loop)
		}
		for _, w := range want {
			level, msg, _ := strings.Cut(w, " %s: ")
			found := false
			for _, l := range strings.Split(log, "\n") {
				found = found || strings.Contains(l, level) && strings.Contains(l, msg)
			}
			if !found {
				t.Errorf("error log lacks %s %q", level, msg)
			}
		}
		// The index that is a link is refused without a line of its own,
		// and a refused link found in the cache is logged each time.
		if strings.Contains(log, `idxlink/index.html`) {
			t.Errorf("an index file refused by disable_symlinks was logged")
		}
		if n := strings.Count(log, `openat() "`+root+`/link" `+loop+`, client: 127.0.0.1, server: , request: "GET /cs/link`); n != 2 {
			t.Errorf("%d lines for the cached refusal of /cs/link, want 2", n)
		}
		if strings.Contains(log, "[alert]") {
			t.Errorf("alerts in the error log")
		}
	})
}
