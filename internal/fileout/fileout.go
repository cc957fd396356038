// Package fileout writes what a command produces to a path the user named.
//
// A regular file (or a path that does not exist yet) is replaced
// atomically: the content goes to a temporary file beside it that is
// renamed over the target, so a reader never sees half a report and a
// failed run leaves the old file. Anything else is written in place:
// renaming over /dev/null would replace the device with a regular file (as
// root, breaking every program that writes to it), and renaming over a
// FIFO, /dev/stdout or a process substitution would never reach the reader.
// Symbolic links are written through, not replaced: a link to a regular
// file has that file replaced atomically, with the mode asked for.
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
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// A link to a regular file: replace the file it names, atomically
		// and with perm, as if it had been named; the link stays.
		if st, serr := os.Stat(path); serr == nil && st.Mode().IsRegular() {
			if target, rerr := filepath.EvalSymlinks(path); rerr == nil {
				return atomic(target, path, perm, render)
			}
		}
	}
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s: is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return direct(path, perm, render)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	return atomic(path, path, perm, render)
}

// Check says, without creating anything, whether Write could write path:
// not a directory, and in a directory that exists. Commands call it before
// their work (an audit of a large estate takes minutes and API calls), so
// a mistyped --output fails at once instead of after it.
func Check(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s: is a directory", path)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", path, cause(err))
	}
	dir, err := os.Stat(filepath.Dir(path))
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", path, cause(err))
	case !dir.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, filepath.Dir(path))
	}
	return nil
}

// direct writes into an existing non-regular file (device, FIFO, socket,
// dangling symbolic link) as a shell redirection would.
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

// atomic replaces path; errors name shown, the path the user gave.
func atomic(path, shown string, perm fs.FileMode, render func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", shown, cause(err))
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", shown, cause(err))
	}
	if err := render(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", shown, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", shown, cause(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", shown, cause(err))
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
