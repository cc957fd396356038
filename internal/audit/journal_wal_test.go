package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// The child modes below run in a re-executed test binary, so that the
// parent can SIGKILL a real process mid-fix and hold a real lock from
// another process.
const childEnv = "IMMUTAG_AUDIT_CHILD"

// killEnforcer "writes" each tag by appending it to a registry file (what
// the registry now holds), then, at the third, signals the parent and
// hangs so the parent can kill it between a write call and its journal
// line, which is where a real ACR tag lock loop was killed.
type killEnforcer struct{ registry, ready string }

func (k killEnforcer) Plan(context.Context, providers.Repository, providers.FixPolicy) (providers.Change, error) {
	return providers.Change{}, nil
}

func (k killEnforcer) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	f, err := os.OpenFile(k.registry, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return providers.Result{}, err
	}
	defer f.Close()
	for i := range 5 {
		tag := fmt.Sprintf("%s:v%d", c.Repository, i)
		if _, err := f.WriteString(tag + "\n"); err != nil {
			return providers.Result{}, err
		}
		_ = f.Sync()
		if i == 2 {
			_ = os.WriteFile(k.ready, nil, 0o600)
			select {} // killed here: written, not journaled
		}
		o.Write(c, providers.WriteRecord{Target: tag, Call: "PATCH writeEnabled=false"})
	}
	return providers.Result{Writes: 5, Verified: true}, nil
}

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "fix":
		dir := os.Getenv("CHILD_DIR")
		j, err := OpenJournal(filepath.Join(dir, "journal.jsonl"), "run-killed", nil)
		if err != nil {
			panic(err)
		}
		fx := &Fixer{Journal: j, Concurrency: 1}
		enf := killEnforcer{registry: filepath.Join(dir, "registry"), ready: filepath.Join(dir, "ready")}
		plan := PlanOf(PlannedChange{Enforcer: enf, Change: providers.Change{Provider: "acr", Kind: "acr", Scope: "r.azurecr.io", Repository: "app", Action: "lock-tags"}})
		_ = fx.Apply(context.Background(), plan, func(ChangeRecord) {})
		os.Exit(0)
	case "lock":
		dir := os.Getenv("CHILD_DIR")
		l, err := LockJournal(filepath.Join(dir, "journal.jsonl"), nil)
		if err != nil {
			panic(err)
		}
		_ = os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
		time.Sleep(time.Minute)
		_ = l.Unlock()
		os.Exit(0)
	}
}

func startChild(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "CHILD_DIR="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := filepath.Join(dir, "ready")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s never got ready", mode)
		}
	}
}

func readWAL(t *testing.T, path string) []JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestJournalSupersetAfterSIGKILL: issue 12 case 10. A fix killed between
// a write call and its journal line leaves an intent line that covers the
// write; the next run completes it in the journal, once.
func TestJournalSupersetAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := startChild(t, "fix", dir)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	written, err := os.ReadFile(filepath.Join(dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	tags := strings.Fields(string(written))
	if len(tags) != 3 {
		t.Fatalf("registry holds %d writes, want 3", len(tags))
	}
	jpath := filepath.Join(dir, "journal.jsonl")
	entries := readWAL(t, jpath)
	// Every write in the registry is covered: by its own write line, or by
	// the intent of the change it belongs to.
	var intent *JournalEntry
	lines := map[string]bool{}
	for i, e := range entries {
		if e.Event == "intent" && e.Repository == "app" {
			intent = &entries[i]
		}
		if e.Event == "write" {
			lines[e.Target] = true
		}
	}
	if intent == nil {
		t.Fatalf("no intent line for the change that was writing; the write of %s is in no journal line:\n%v", tags[2], entries)
	}
	if lines[tags[2]] {
		t.Fatalf("the killed write %s has a line: the test did not kill between the call and its line", tags[2])
	}

	j, err := OpenJournal(jpath, "run-next", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := j.Recover()
	if err != nil || n != 1 {
		t.Fatalf("Recover: %d, %v; want 1 completed intent", n, err)
	}
	if n, err := j.Recover(); err != nil || n != 0 {
		t.Errorf("second Recover: %d, %v; want 0 (already completed)", n, err)
	}
	_ = j.Close()
	last := readWAL(t, jpath)
	got := last[len(last)-1]
	if got.Event != "interrupted" || got.Intent != intent.Intent || got.Repository != "app" || !strings.Contains(got.Error, "run-killed") {
		t.Errorf("completion line %+v", got)
	}
}

// TestJournalLockRefusesSecondWriter: issue 12 case 9. While another
// process holds the journal's lock, taking it fails at once naming that
// process's PID, host and start time; once it is gone, it succeeds.
func TestJournalLockRefusesSecondWriter(t *testing.T) {
	dir := t.TempDir()
	cmd := startChild(t, "lock", dir)
	jpath := filepath.Join(dir, "journal.jsonl")
	start := time.Now()
	_, err := LockJournal(jpath, nil)
	if !errors.Is(err, ErrJournalBusy) {
		t.Fatalf("second writer: %v, want ErrJournalBusy", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"PID " + strconv.Itoa(cmd.Process.Pid), "host " + host, "since " + start.UTC().Format("2006-01-02")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	l, err := LockJournal(jpath, nil)
	if err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
	// In one process a second holder waits instead of failing.
	got := make(chan error, 1)
	go func() {
		l2, err := LockJournal(jpath, nil)
		if err == nil {
			err = l2.Unlock()
		}
		got <- err
	}()
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Errorf("in-process second holder: %v", err)
	}
}
