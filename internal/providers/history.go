package providers

import (
	"context"
	"fmt"
	"time"
)

// TagHistorian is implemented by adapters that can import past tag
// lifetimes from a log the registry keeps beside its tag listing (Harbor's
// and Docker Hub's audit logs), so the ledger knows overwrites that happened
// before its first scan. Registries whose tag listing itself carries the
// history (Quay) need no second call and do not implement it.
type TagHistorian interface {
	// TagHistory streams r's past tag lifetimes read from the log, each
	// with Source naming the log, Pushed when the tag started naming Digest
	// and Ended when it stopped (moved, deleted). The current lifetime of a
	// tag is the listing's to report and is not yielded. An error of class
	// ErrDenied means the credentials or the registry's plan do not allow
	// reading the log: nothing is known, and callers say so. Memory must
	// not grow with the length of the log.
	TagHistory(ctx context.Context, r Repository, yield func(Tag) error) error
}

// Lifetimes turns one repository's log, read newest event first, into the
// past tag lifetimes TagHistory yields: a push of tag T to digest D at t
// lasted until the next thing that happened to T after t (a later push, a
// re-tag, a delete of T, of D or of the repository). Reading newest first
// means every lifetime is complete when its push is read, so nothing is
// held back: the state is one time per tag and per deleted digest of the
// repository, never the log itself. Events must come newest first; one
// that does not is an error, since the lifetimes would be wrong.
type Lifetimes struct {
	source string
	yield  func(Tag) error

	next    map[string]time.Time // tag -> when what happened after its earlier pushes
	gone    map[string]time.Time // digest -> when it was deleted
	wipe    time.Time            // when the repository was deleted
	last    time.Time
	started bool
}

// NewLifetimes yields the lifetimes of one repository's log to yield, each
// with Source set to source.
func NewLifetimes(source string, yield func(Tag) error) *Lifetimes {
	return &Lifetimes{source: source, yield: yield, next: map[string]time.Time{}, gone: map[string]time.Time{}}
}

func (l *Lifetimes) order(at time.Time) error {
	if l.started && at.After(l.last) {
		return fmt.Errorf("the log is not newest first (%s after %s): its lifetimes cannot be derived", at.Format(time.RFC3339), l.last.Format(time.RFC3339))
	}
	l.started, l.last = true, at
	return nil
}

// Push records that tag was pushed (or moved) to digest at at. The newest
// push of a tag that nothing followed is its current lifetime, which the
// listing reports: it is not yielded.
func (l *Lifetimes) Push(tag, digest string, at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	var end time.Time
	for _, t := range []time.Time{l.next[tag], l.gone[digest], l.wipe} {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	l.next[tag] = at
	if end.IsZero() || !end.After(at) || digest == "" {
		return nil
	}
	return l.yield(Tag{Name: tag, Digest: digest, Pushed: at.UTC(), Ended: end.UTC(), Source: l.source})
}

// TagChanged records that tag stopped naming what it named before at, to
// an unknown digest or none (a re-tag the log gives no digest for, a tag
// deletion).
func (l *Lifetimes) TagChanged(tag string, at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.next[tag] = at
	return nil
}

// DigestDeleted records that digest, and so every tag on it, was deleted at at.
func (l *Lifetimes) DigestDeleted(digest string, at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.gone[digest] = at
	return nil
}

// RepositoryDeleted records that the whole repository was deleted at at.
func (l *Lifetimes) RepositoryDeleted(at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.wipe = at
	return nil
}
