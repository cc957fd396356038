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
	// TagHistory streams r's tag lifetimes read from the log, each with
	// Source naming the log, Pushed when the tag started naming Digest and
	// Ended when it stopped (moved, deleted). A lifetime nothing in the log
	// ended yet comes with Ended zero: it says since when the tag has named
	// Digest, not that it still does (a deletion the log does not record),
	// which only the listing proves; the ledger uses it to date the start of
	// an interval the listing opened. An error of class
	// ErrDenied means the credentials or the registry's plan do not allow
	// reading the log: nothing is known, and callers say so. Memory must
	// not grow with the length of the log.
	//
	// since is the newest event an earlier import read (zero: none): the
	// log is then read only as far back as Lifetimes.Done allows, which
	// yields every lifetime that ended after it. It returns the time of the
	// newest event read, to pass as since next time (zero for an empty log).
	TagHistory(ctx context.Context, r Repository, since time.Time, yield func(Tag) error) (newest time.Time, err error)
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
	newest  time.Time
	started bool

	// An incremental read (see Done): boundary is since less HistoryOverlap;
	// pending holds the tags with an event after it whose previous event
	// (the start of the lifetime that event ended) is not read yet; whole is
	// set by a deletion after it, whose lifetimes cannot be bounded by tag.
	boundary time.Time
	pending  map[string]bool
	whole    bool
}

// HistoryOverlap is how far before the newest event of the last import an
// incremental read goes back at least: an event a log records a little
// after it happened (or with a clock slightly behind) is still read. The
// ledger absorbs lifetimes read twice.
const HistoryOverlap = time.Hour

// NewLifetimes yields the lifetimes of one repository's log to yield, each
// with Source set to source. since is the newest event an earlier import
// read (zero to read the whole log), see Done.
func NewLifetimes(source string, since time.Time, yield func(Tag) error) *Lifetimes {
	l := &Lifetimes{source: source, yield: yield, next: map[string]time.Time{}, gone: map[string]time.Time{}, pending: map[string]bool{}}
	if !since.IsZero() {
		l.boundary = since.Add(-HistoryOverlap)
	}
	return l
}

func (l *Lifetimes) order(at time.Time) error {
	if l.started && at.After(l.last) {
		return fmt.Errorf("the log is not newest first (%s after %s): its lifetimes cannot be derived", at.Format(time.RFC3339), l.last.Format(time.RFC3339))
	}
	if !l.started {
		l.newest = at
	}
	l.started, l.last = true, at
	return nil
}

// inWindow says whether an event at at is newer than what the earlier
// import surely read.
func (l *Lifetimes) inWindow(at time.Time) bool {
	return !l.boundary.IsZero() && at.After(l.boundary)
}

// tagEvent keeps pending up to date for an event of tag at at: an event in
// the window needs the tag's previous event, and an older one is it.
func (l *Lifetimes) tagEvent(tag string, at time.Time) {
	if l.inWindow(at) {
		l.pending[tag] = true
	} else {
		delete(l.pending, tag)
	}
}

// Done says whether an incremental read may stop: everything newer than
// since (less HistoryOverlap) has been read, and so has the start of every
// lifetime that ended there. The lifetimes it has not yielded ended before
// the earlier import read the log, which yielded them then. A deletion of
// an image or of the repository in the window ends lifetimes of tags that
// may not appear in it at all, so after one the log is read to the end.
// A read without since is never done early.
func (l *Lifetimes) Done() bool {
	return !l.boundary.IsZero() && l.started && !l.inWindow(l.last) && len(l.pending) == 0 && !l.whole
}

// Newest is the time of the newest event read (zero if none).
func (l *Lifetimes) Newest() time.Time { return l.newest }

// Push records that tag was pushed (or moved) to digest at at. The newest
// push of a tag that nothing followed is its current lifetime: yielded with
// Ended zero, for its start.
func (l *Lifetimes) Push(tag, digest string, at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.tagEvent(tag, at)
	var end time.Time
	for _, t := range []time.Time{l.next[tag], l.gone[digest], l.wipe} {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	l.next[tag] = at
	if digest == "" {
		return nil
	}
	if end.IsZero() {
		return l.yield(Tag{Name: tag, Digest: digest, Pushed: at.UTC(), Source: l.source})
	}
	if end.IsZero() || !end.After(at) {
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
	l.tagEvent(tag, at)
	l.next[tag] = at
	return nil
}

// DigestDeleted records that digest, and so every tag on it, was deleted at at.
func (l *Lifetimes) DigestDeleted(digest string, at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.whole = l.whole || l.inWindow(at)
	l.gone[digest] = at
	return nil
}

// RepositoryDeleted records that the whole repository was deleted at at.
func (l *Lifetimes) RepositoryDeleted(at time.Time) error {
	if err := l.order(at); err != nil {
		return err
	}
	l.whole = l.whole || l.inWindow(at)
	l.wipe = at
	return nil
}
