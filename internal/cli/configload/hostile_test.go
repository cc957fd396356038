package configload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileConfigFiles: issue 12 case 13. A device, a FIFO, an oversized
// file and a symlink to a non-config file fail at once with an error naming
// the file, and never repeat the file's text.
func TestHostileConfigFiles(t *testing.T) {
	dir := t.TempDir()
	shadow := filepath.Join(dir, "shadow")
	if err := os.WriteFile(shadow, []byte("root:$6$saltsalt$SECRETHASH:19000:0:99999:7:::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(shadow, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("version: 1\n# "+strings.Repeat("x", 2<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{"/dev/zero", "not a regular file"},
		{big, "file too large"},
		{link, "not an immutag config"},
	} {
		_, err := Load(Options{File: tc.file, Getenv: func(string) string { return "" }})
		if err == nil {
			t.Fatalf("%s: loaded", tc.file)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("%s: error %q, want it to name the file and say %q", tc.file, err, tc.want)
		}
		if strings.Contains(err.Error(), "SECRETHASH") || strings.Contains(err.Error(), "xxxx") {
			t.Errorf("%s: error repeats the file's text: %.200s", tc.file, err)
		}
	}
}
