package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
)

// tagRecorder records every listed repository's tags into the ledger
// (audit --record, serve --record) and collects the overwrites it finds.
type tagRecorder struct {
	store    *ledger.Store
	rec      *ledger.Recorder
	floating []string // tag patterns that float: policy.mutable_tags_allowed and latest
	now      func() time.Time

	mu         sync.Mutex
	overwrites []audit.Overwrite
	// incomplete is set when some repository's tags could not be listed, so
	// the ledger does not mark the scan complete.
	incomplete    atomic.Bool
	noLister      sync.Map // provider name -> warned
	noHistory     sync.Map // provider name + scope -> its log was refused: not asked again
	historyWarned sync.Map // provider name -> warned about a refused log
}

// ledgerError marks a failure of the ledger itself: it stops the scan,
// since recording was asked for and would otherwise be silently partial.
type ledgerError struct{ error }

func (e ledgerError) Unwrap() error { return e.error }

func newTagRecorder(store *ledger.Store, allowed []string, now func() time.Time) *tagRecorder {
	t := &tagRecorder{store: store, now: now, floating: append([]string{"latest"}, allowed...)}
	t.rec = store.Record(ledger.RecordOptions{Now: now, OnOverwrite: func(o ledger.Overwrite) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.overwrites = append(t.overwrites, audit.Overwrite{Provider: o.Provider, Scope: o.Scope, Repository: o.Repository, Tag: o.Tag,
			Previous: o.Previous, Digest: o.Digest, LastSeenAt: o.LastSeenAt, SeenAt: o.SeenAt, Pushed: o.Pushed, Immutable: o.Immutable,
			Source: ledger.SourceScan})
	}})
	return t
}

// RecordTags implements audit.TagRecorder.
func (t *tagRecorder) RecordTags(ctx context.Context, p providers.Provider, r providers.Repository, warn func(providers.Warning)) error {
	tl, ok := providers.As[providers.TagLister](p)
	if !ok {
		t.incomplete.Store(true)
		if _, warned := t.noLister.LoadOrStore(p.Name(), true); !warned {
			warn(providers.Warning{Provider: p.Name(), Code: "tags-not-recorded",
				Message: fmt.Sprintf("%s (%s) cannot list tags with digests yet: its tags are not recorded in the ledger", p.Name(), p.Kind())})
		}
		return nil
	}
	repo := ledger.Repo{Provider: r.Provider, Scope: r.Scope, Repository: r.Name, Immutable: r.Mode == providers.ModeImmutable,
		Nested: r.Kind == providers.KindArtifactRegistry}
	err := tl.Tags(ctx, r, func(tg providers.Tag) error {
		if tg.Image != "" {
			repo.Nested = true
		}
		// An overwrite is an incident where the setting covers the tag
		// now: not for an excluded tag of an immutable repository, and
		// for a tag an ECR exclusion filter makes immutable.
		tagRepo := repo
		tagRepo.Immutable = frozen(r, tg.Name)
		if err := t.rec.Tag(ctx, tagRepo, tg); err != nil {
			return ledgerError{err}
		}
		if tg.Ended.IsZero() {
			t.checkFloating(r, tg, warn)
		}
		return nil
	})
	var le ledgerError
	switch {
	case errors.As(err, &le):
		return le.error
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		t.incomplete.Store(true)
		warn(providers.Warning{Provider: r.Provider, Scope: r.Scope, Code: "tags-unreadable",
			Message: fmt.Sprintf("tags of %s could not be listed for the ledger: %v", r.Name, err)})
		return nil
	}
	if h, ok := providers.As[providers.TagHistorian](p); ok {
		if err := t.importHistory(ctx, h, p, r, repo, warn); err != nil {
			return err
		}
	}
	return t.rec.RepositoryDone(ctx, repo)
}

// importHistory adds the past lifetimes the registry's own log records. A
// log the credentials or the plan do not open is a warning, once per
// provider, and nothing is imported: the ledger never pretends to know
// history it has not read. Only a failing ledger stops the scan.
func (t *tagRecorder) importHistory(ctx context.Context, h providers.TagHistorian, p providers.Provider, r providers.Repository,
	repo ledger.Repo, warn func(providers.Warning)) error {
	// Permission and plan go by scope (a Harbor project, a Docker Hub
	// organisation): one refusal stops asking for that scope's repositories.
	scopeKey := p.Name() + "\x00" + r.Scope
	if _, refused := t.noHistory.Load(scopeKey); refused {
		return nil
	}
	// Only what is new since the last import is read: the whole log of
	// every repository on every scan of serve --record would be most of
	// its calls, growing for ever.
	since, err := t.store.HistoryCursor(ctx, repo.Provider, repo.Scope, repo.Repository)
	if err != nil {
		return err
	}
	var n int
	newest, err := h.TagHistory(ctx, r, since, func(tg providers.Tag) error {
		// A lifetime the log has not ended dates the interval the listing
		// opened; it does not prove the tag is still there.
		record := t.rec.Tag
		if tg.Ended.IsZero() {
			record = t.rec.Started
		} else {
			n++
		}
		if err := record(ctx, repo, tg); err != nil {
			return ledgerError{err}
		}
		return nil
	})
	var le ledgerError
	switch {
	case err == nil:
		return t.rec.HistoryImported(ctx, repo, newest)
	case errors.As(err, &le):
		return le.error
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, providers.ErrDenied):
		t.noHistory.Store(scopeKey, true)
		if _, warned := t.historyWarned.LoadOrStore(p.Name(), true); !warned {
			warn(providers.Warning{Provider: p.Name(), Scope: r.Scope, Code: "history-not-imported",
				Message: fmt.Sprintf("%s (%s): the audit log is not readable with these credentials or on this plan, so no tag history was imported from it; the ledger knows only what its own scans see: %v", p.Name(), p.Kind(), err)})
		}
	default:
		warn(providers.Warning{Provider: p.Name(), Scope: r.Scope, Code: "history-unreadable",
			Message: fmt.Sprintf("%s: the audit log of %s could not be read to the end; %d past lifetime(s) imported before the error: %v", p.Name(), r.Name, n, err)})
	}
	return nil
}

// checkFloating warns about a floating tag (latest, or one the policy lets
// stay mutable) in a repository that is now immutable: it is frozen for
// ever, and whoever deploys it runs an old image.
func (t *tagRecorder) checkFloating(r providers.Repository, tg providers.Tag, warn func(providers.Warning)) {
	if !providers.TagAllowed(tg.Name, t.floating) || !frozen(r, tg.Name) {
		return
	}
	age := "push time unknown"
	if !tg.Pushed.IsZero() {
		days := int(t.now().Sub(tg.Pushed).Hours() / 24)
		age = fmt.Sprintf("pushed %s, %d days ago", tg.Pushed.UTC().Format(time.DateOnly), days)
		switch days {
		case 0:
			age = fmt.Sprintf("pushed %s, less than a day ago", tg.Pushed.UTC().Format(time.DateOnly))
		case 1:
			age = fmt.Sprintf("pushed %s, 1 day ago", tg.Pushed.UTC().Format(time.DateOnly))
		}
		if tg.Pushed.After(t.now()) {
			age = fmt.Sprintf("pushed %s, later than this machine's clock", tg.Pushed.UTC().Format(time.DateOnly))
		}
	}
	digest := tg.Digest
	if digest == "" {
		digest = "an image whose digest the listing did not give"
	}
	warn(providers.Warning{Provider: r.Provider, Scope: r.Scope, Code: "floating-tag-frozen",
		Message: fmt.Sprintf("%s:%s is frozen: the repository is immutable, so %s (%s) is what it names for ever; delete the tag or keep it mutable",
			r.Name, tg.Name, digest, age)})
}

// frozen says whether r's setting makes tag immutable now: every tag of an
// immutable repository but its exclusions; in ECR, also every tag but the
// exclusions of IMMUTABLE_WITH_EXCLUSION, and the tags the filters of
// MUTABLE_WITH_EXCLUSION name (ECR's wildcards). Other registries' partial
// rules (regular expressions, Harbor's doublestar) are not guessed at.
func frozen(r providers.Repository, tag string) bool {
	switch {
	case r.Mode == providers.ModeImmutable:
		return !providers.TagAllowed(tag, r.MutablePatterns)
	case r.Mode == providers.ModePartial && r.Kind == providers.KindECR && len(r.ImmutablePatterns) > 0:
		return providers.TagAllowed(tag, r.ImmutablePatterns)
	case r.Mode == providers.ModePartial && r.Kind == providers.KindECR:
		return !providers.TagAllowed(tag, r.MutablePatterns)
	}
	return false
}

// finish closes the ledger scans and hands over the overwrites, oldest
// sighting order as found.
func (t *tagRecorder) finish(ctx context.Context, complete bool) ([]audit.Overwrite, error) {
	err := t.rec.Finish(ctx, complete && !t.incomplete.Load())
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.overwrites, err
}

// recordingGCPercent is the collector's target while tags are recorded.
// Recording streams about 2 KB of short-lived garbage per tag (the SDK
// decoding a 1,000-image page, the SQL binding a batch) through a live set
// that stays small; at Go's default of 100 the heap grew to twice that live
// set plus the page in flight, which put audit --record of 100,000 tags
// 11 MB above a plain audit. At 25 it is about 7 MB for the same wall time:
// a cycle costs little with a live heap of 5 MB. Lower gains nothing more,
// since every cycle also pages in the runtime's tables of the SQLite code
// it finds on the stack (BENCHMARKS.md, Tag history).
const recordingGCPercent = 25

var leanGC struct {
	sync.Mutex
	users int
	prev  int
}

// leanGCWhileRecording lowers the collector's target for as long as a
// recording scan runs and returns the function that restores it. A GOGC the
// user set wins: they chose their own trade of memory for CPU.
func leanGCWhileRecording() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	leanGC.Lock()
	defer leanGC.Unlock()
	if leanGC.users == 0 {
		leanGC.prev = debug.SetGCPercent(recordingGCPercent)
	}
	leanGC.users++
	return func() {
		leanGC.Lock()
		defer leanGC.Unlock()
		if leanGC.users--; leanGC.users == 0 {
			debug.SetGCPercent(leanGC.prev)
		}
	}
}
