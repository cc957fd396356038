package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrJournalBusy is wrapped when another process holds a journal's lock.
var ErrJournalBusy = errors.New("journal is locked by another run")

// JournalLock is the exclusive right to write through one journal: held by
// `fix --apply` for the whole apply and by `serve --enforce` around each
// enforcement, so two runs never write the same estate at once. It is an
// advisory lock (flock) on PATH.lock, which the kernel releases when the
// holder dies, even by SIGKILL: no stale lock outlives its process.
type JournalLock struct {
	path string
	f    *os.File
	mu   *sync.Mutex
}

// lockHolder is what the lock file says about its holder.
type lockHolder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	Command string    `json:"command,omitempty"`
}

// procLocks serialises holders within one process (serve's enforcement
// and webhook batches): flock conflicts between two descriptors of the
// same process too, and those callers should wait, not fail.
var procLocks sync.Map // absolute lock path -> *sync.Mutex

// LockJournal takes the lock of the journal at path. Another process
// holding it is an error at once, naming its PID, host and start time;
// another holder in this process is waited for.
func LockJournal(path string, now func() time.Time) (*JournalLock, error) {
	if now == nil {
		now = time.Now
	}
	// Before PATH.lock is created beside it: /dev/null.lock is no lock.
	if err := CheckJournal(path); err != nil {
		return nil, err
	}
	lp := path + ".lock"
	if abs, err := filepath.Abs(lp); err == nil {
		lp = abs
	}
	if err := os.MkdirAll(filepath.Dir(lp), 0o700); err != nil {
		return nil, fmt.Errorf("journal lock %s: %w", lp, err)
	}
	m, _ := procLocks.LoadOrStore(lp, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		mu.Unlock()
		return nil, fmt.Errorf("journal lock %s: %w", lp, err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		mu.Unlock()
		if errors.Is(err, errWouldBlock) {
			return nil, busyError(path, lp)
		}
		return nil, fmt.Errorf("journal lock %s: %w", lp, err)
	}
	host, _ := os.Hostname()
	h := lockHolder{PID: os.Getpid(), Host: host, Started: now().UTC(), Command: strings.Join(os.Args, " ")}
	b, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	return &JournalLock{path: lp, f: f, mu: mu}, nil
}

func busyError(journal, lp string) error {
	b, err := os.ReadFile(lp)
	var h lockHolder
	if err != nil || json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return fmt.Errorf("%w: journal %s (lock file %s); another immutag fix --apply or serve --enforce is writing, refusing to write at the same time", ErrJournalBusy, journal, lp)
	}
	return fmt.Errorf("%w: journal %s is held by PID %d on host %s since %s (lock file %s); another immutag fix --apply or serve --enforce is writing, refusing to write at the same time",
		ErrJournalBusy, journal, h.PID, h.Host, h.Started.Format(time.RFC3339), lp)
}

// Unlock releases the lock. The lock file stays: removing it would let a
// waiting process lock a file a third one has just unlinked.
func (l *JournalLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	l.mu.Unlock()
	return err
}
