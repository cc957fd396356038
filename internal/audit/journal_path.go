package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// CheckJournal refuses a journal path that cannot be the record of a
// run's writes: something other than a regular file (a directory, a device
// such as /dev/null, which would drop the record, a named pipe), or a file
// whose first line is not a journal entry (a report or notes named by
// mistake, which the run would append to). A path that does not exist, an
// empty file, and a journal whose only line was torn by a killed run are
// journals. Nothing is created or changed.
func CheckJournal(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("journal %s: %w", path, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("journal %s: not a regular file (%s); name a file, for example journal.jsonl", path, fileKind(st.Mode()))
	case st.Size() == 0:
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	defer f.Close()
	first, err := bufio.NewReaderSize(f, 64<<10).ReadSlice('\n')
	torn := errors.Is(err, io.EOF) // the file is one line without its end
	if err != nil && !torn && !errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if isJournalLine(bytes.TrimSpace(first), torn) {
		return nil
	}
	return fmt.Errorf("journal %s: not an immutag journal (its first line is not a journal entry); name a new file or an existing journal", path)
}

// isJournalLine: a whole entry decodes with a run id and an event; a torn
// one still starts the way every entry does.
func isJournalLine(line []byte, torn bool) bool {
	var e JournalEntry
	if json.Unmarshal(line, &e) == nil {
		return e.RunID != "" && e.Event != ""
	}
	return torn && bytes.HasPrefix(line, []byte(`{"time":"`))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}
