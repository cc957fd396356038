// Package fileout writes what a command produces to a path the user named.
//
// A regular file (or a path that does not exist yet) is replaced
// atomically: the content goes to a temporary file beside it that is
// renamed over the target, so a reader never sees half a report and a
// failed run leaves the old file. Anything else is written in place:
// renaming over /dev/null would replace the device with a regular file (as
// root, breaking every program that writes to it), and renaming over a
// FIFO, /dev/stdout or a process substitution would never reach the reader.
// Symbolic links are written through, not replaced.
package fileout

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write renders into path with permissions perm (for a file it creates).
// Errors name path, never the temporary file.
func Write(path string, perm fs.FileMode, render func(io.Writer) error) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s: is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return direct(path, perm, render)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	return atomic(path, perm, render)
}

// direct writes into an existing non-regular file (device, FIFO, socket,
// symbolic link) as a shell redirection would.
func direct(path string, perm fs.FileMode, render func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, perm)
	if err != nil {
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	if err := render(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	return nil
}

func atomic(path string, perm fs.FileMode, render func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	if err := render(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	return nil
}

// cause drops the file name a *fs.PathError or *os.LinkError carries (the
// temporary file's, which the user never named).
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
