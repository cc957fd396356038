package audit

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestJournalRefusesWhatIsNotAJournal: --journal names the one record of
// every write. A path that is a device (/dev/null would drop the record),
// a named pipe, or a file holding something else (a report, notes) is
// refused before anything is created beside it (no PATH.lock) and before
// a line is appended to it.
func TestJournalRefusesWhatIsNotAJournal(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("important notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	if err := os.WriteFile(report, []byte("{\n  \"schema_version\": 1,\n  \"tool\": {\"name\": \"immutag\"}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:   "not a regular file",
		dir:    "not a regular file",
		notes:  "not an immutag journal",
		report: "not an immutag journal",
	} {
		var before []byte
		if path == notes || path == report {
			before, _ = os.ReadFile(path)
		}
		if _, err := LockJournal(path, nil); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Errorf("LockJournal(%s): %v, want an error naming it and %q", path, err, want)
		}
		if j, err := OpenJournal(path, "r", nil); err == nil {
			j.Close()
			t.Errorf("OpenJournal(%s) succeeded", path)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("OpenJournal(%s): %v, want %q", path, err, want)
		}
		if _, err := os.Lstat(path + ".lock"); err == nil {
			t.Errorf("%s.lock was created", path)
		}
		if before != nil {
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("%s was changed: %q", path, after)
			}
		}
	}
}

// TestJournalAcceptsJournals: a new path, an empty file, a journal, and a
// journal whose only line was torn by a killed run are all journals.
func TestJournalAcceptsJournals(t *testing.T) {
	dir := t.TempDir()
	line := `{"time":"2026-01-01T00:00:00Z","run_id":"r","event":"intent","intent":"r-1","provider":"p","kind":"ecr","scope":"s","repository":"x"}`
	for name, body := range map[string]*string{
		"new.jsonl":     nil,
		"empty.jsonl":   ptr(""),
		"journal.jsonl": ptr(line + "\n"),
		"torn.jsonl":    ptr(line[:40]),
	} {
		path := filepath.Join(dir, name)
		if body != nil {
			if err := os.WriteFile(path, []byte(*body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		lock, err := LockJournal(path, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		j, err := OpenJournal(path, "r", nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else {
			j.Close()
		}
		_ = lock.Unlock()
	}
}

func ptr(s string) *string { return &s }
