// Package safefile opens the files immutag reads as input (the config, saved
// reports, baselines) defensively: only regular files, never more than a
// stated number of bytes, so `--config /dev/zero`, a FIFO or a runaway file
// fails at once with a message naming the file instead of exhausting
// memory or hanging.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits for the inputs immutag reads.
const (
	// ConfigLimit bounds a config file: a real one is a few kilobytes.
	ConfigLimit = 1 << 20
	// ReportLimit bounds a saved JSON report (a million findings fit).
	ReportLimit = 2 << 30
)

// ErrNotRegular is wrapped when the path is a device, FIFO, socket or
// directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped when a file holds more than its limit.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading after checking that it is a regular file no
// larger than limit. Reads from the returned ReadCloser fail with
// ErrTooLarge once more than limit bytes come (a file that grows after the
// check). Symlinks are followed: what counts is the file read.
func Open(path string, limit int64) (io.ReadCloser, error) {
	// Stat before opening: opening a FIFO for reading blocks until a
	// writer appears.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// The path may have been swapped between the two calls.
	if st, err = f.Stat(); err != nil {
		f.Close()
		return nil, err
	}
	if err := check(path, st, limit); err != nil {
		f.Close()
		return nil, err
	}
	return &limited{f: f, left: limit, limit: limit}, nil
}

// ReadFile is Open and io.ReadAll.
func ReadFile(path string, limit int64) ([]byte, error) {
	rc, err := Open(path, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func check(path string, st fs.FileInfo, limit int64) error {
	if !st.Mode().IsRegular() {
		what := "a special file"
		switch {
		case st.IsDir():
			what = "a directory"
		case st.Mode()&fs.ModeDevice != 0:
			what = "a device"
		case st.Mode()&fs.ModeNamedPipe != 0:
			what = "a named pipe"
		case st.Mode()&fs.ModeSocket != 0:
			what = "a socket"
		}
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, what)}
	}
	if st.Size() > limit {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, st.Size(), limit)}
	}
	return nil
}

type limited struct {
	f     *os.File
	left  int64
	limit int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%s: %w: more than %d bytes", l.f.Name(), ErrTooLarge, l.limit)
	}
	// Ask for one byte past the limit, so a file that grew is caught.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("%s: %w: more than %d bytes", l.f.Name(), ErrTooLarge, l.limit)
	}
	return n, err
}

func (l *limited) Close() error { return l.f.Close() }
