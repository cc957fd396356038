package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpenRefusesSpecialAndLargeFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/dev/zero", ErrNotRegular}, {fifo, ErrNotRegular}, {dir, ErrNotRegular}, {link, ErrNotRegular}, {big, ErrTooLarge},
	} {
		_, err := ReadFile(tc.path, 1024)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.path, err, tc.want)
		}
	}
	if b, err := ReadFile(big, 4096); err != nil || len(b) != 2048 {
		t.Errorf("a file under the limit: %d bytes, %v", len(b), err)
	}
}
