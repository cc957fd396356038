package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Interval says a tag pointed at Digest from FirstSeen to LastSeen.
type Interval struct {
	Digest    string    `json:"digest"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Source    string    `json:"source"`
	// Current is true while the tag still points at Digest as of the last
	// scan that saw it.
	Current bool `json:"current"`
	// Pushed is the registry's push time for the digest, when it gave one.
	Pushed time.Time `json:"pushed,omitzero"`
}

// Key identifies one tag of one repository.
type Key struct {
	Provider   string `json:"provider"`
	Scope      string `json:"scope"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

func (k Key) String() string { return k.Provider + "/" + k.Repository + ":" + k.Tag }

// TagHistory is every interval of one tag, oldest first.
type TagHistory struct {
	Key
	Intervals []Interval `json:"intervals"`
}

// Ref is what `immutag history` is asked about: [PROVIDER/]REPOSITORY:TAG,
// where REPOSITORY may also be written as the image is pulled: after its
// scope (acme/web for Docker Hub's acme organisation, library/nginx for a
// Harbor project) or its registry host (localhost:5000/team/app).
type Ref struct {
	Path string // what precedes the tag; repositories may hold '/'
	Tag  string
}

// ParseRef parses [PROVIDER/]REPOSITORY:TAG.
func ParseRef(s string) (Ref, error) {
	if strings.Contains(s, "@") {
		return Ref{}, fmt.Errorf("%q: give a tag, not a digest (use --digest to ask about a digest)", s)
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || strings.Contains(s[i+1:], "/") {
		return Ref{}, fmt.Errorf("%q is not [PROVIDER/]REPOSITORY:TAG", s)
	}
	path := s[:i]
	if slices.Contains(strings.Split(path, "/"), "") {
		return Ref{}, fmt.Errorf("%q: an empty name between '/' (want [PROVIDER/]REPOSITORY:TAG)", s)
	}
	return Ref{Path: path, Tag: s[i+1:]}, nil
}

// repositoryNames are the names a repository of ref may be stored under:
// Path and every tail of it after a '/'.
func (ref Ref) repositoryNames() []any {
	names := []any{ref.Path}
	for p := ref.Path; ; {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return names
		}
		p = p[i+1:]
		names = append(names, p)
	}
}

// names says whether ref, whose path ends with k's repository, names k:
// what precedes the repository is nothing, the provider, the scope, both,
// or a registry host (optionally followed by the scope or its start).
func (ref Ref) names(k Key) bool {
	prefix, ok := strings.CutSuffix(ref.Path, k.Repository)
	if !ok {
		return false
	}
	if prefix == "" {
		return true
	}
	prefix, ok = strings.CutSuffix(prefix, "/")
	if !ok {
		return false // "xapp" is not "app"
	}
	switch prefix {
	case k.Provider, k.Scope, k.Provider + "/" + k.Scope:
		return true
	}
	host, rest, _ := strings.Cut(prefix, "/")
	if !isRegistryHost(host) {
		return false
	}
	return rest == "" || rest == k.Scope || strings.HasPrefix(k.Scope, rest+"/")
}

// isRegistryHost follows the image reference grammar: a first component
// with a '.' or a ':' (a port), or localhost, is a registry host.
func isRegistryHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

const intervalCols = `provider, scope, repository, tag, digest, first_seen, last_seen, source, is_open, pushed`

type scanner interface{ Scan(...any) error }

func scanInterval(r scanner) (Key, Interval, error) {
	var k Key
	var iv Interval
	var first, last int64
	var open int
	var pushed *int64
	if err := r.Scan(&k.Provider, &k.Scope, &k.Repository, &k.Tag, &iv.Digest, &first, &last, &iv.Source, &open, &pushed); err != nil {
		return k, iv, err
	}
	iv.FirstSeen, iv.LastSeen, iv.Current = fromMicros(first), fromMicros(last), open == 1
	if pushed != nil {
		iv.Pushed = fromMicros(*pushed)
	}
	return k, iv, nil
}

// History returns the history of every tag matching ref: the repository
// may be named alone (every provider holding it) or after its provider.
func (s *Store) History(ctx context.Context, ref Ref) ([]TagHistory, error) {
	names := ref.repositoryNames()
	args := append([]any{ref.Tag}, names...)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+intervalCols+` FROM ledger_intervals WHERE tag = ? AND repository IN (?`+
		strings.Repeat(",?", len(names)-1)+`) ORDER BY provider, scope, repository, tag, first_seen, last_seen`), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: history: %w", s.where, err)
	}
	defer rows.Close()
	var out []TagHistory
	for rows.Next() {
		k, iv, err := scanInterval(rows)
		if err != nil {
			return nil, fmt.Errorf("ledger %s: history: %w", s.where, err)
		}
		if !ref.names(k) {
			continue
		}
		if n := len(out); n == 0 || out[n-1].Key != k {
			out = append(out, TagHistory{Key: k})
		}
		h := &out[len(out)-1]
		h.Intervals = append(h.Intervals, iv)
	}
	return out, rows.Err()
}

// At is what a tag pointed at at one instant.
type At struct {
	Time  time.Time `json:"at"`
	Known bool      `json:"known"`
	// Digest is set when Known.
	Digest string `json:"digest,omitempty"`
	// Interval is the observation that covers Time, when Known.
	Interval *Interval `json:"interval,omitempty"`
	// Before and After are the nearest observations on either side when
	// not Known (before the first record, in a gap, after the last scan).
	Before *Interval `json:"before,omitempty"`
	After  *Interval `json:"after,omitempty"`
}

// DigestAt answers "what did this tag point at at t?" from its intervals.
// It only says Known when an observation covers t: between two scans that
// disagree, or before the first record, the ledger does not know.
func (h TagHistory) DigestAt(t time.Time) At {
	return h.DigestWithin(t, 0)
}

// DigestWithin is DigestAt for a question asked to a precision: the
// instant is any of [t, t+precision). A time given to the second, as
// tables print first and last seen, then finds the interval whose printed
// bounds it was copied from (stored to the microsecond); it is still not
// known when two digests were seen within that second.
func (h TagHistory) DigestWithin(t time.Time, precision time.Duration) At {
	a := At{Time: t}
	end := t.Add(precision)            // exclusive when precision > 0
	starts := func(iv Interval) bool { // FirstSeen is inside or before the question
		if precision > 0 {
			return iv.FirstSeen.Before(end)
		}
		return !iv.FirstSeen.After(t)
	}
	var covering []Interval
	for i := range h.Intervals {
		iv := h.Intervals[i]
		switch {
		case starts(iv) && !iv.LastSeen.Before(t):
			covering = append(covering, iv)
		case iv.LastSeen.Before(t):
			if a.Before == nil || iv.LastSeen.After(a.Before.LastSeen) {
				a.Before = &iv
			}
		default: // starts after the question
			if a.After == nil || iv.FirstSeen.Before(a.After.FirstSeen) {
				a.After = &iv
			}
		}
	}
	if len(covering) == 0 {
		return a
	}
	// Overlapping sources (a native history and the ledger's own scans)
	// must agree; if they do not, the answer is not known.
	for _, iv := range covering[1:] {
		if iv.Digest != covering[0].Digest {
			a.Before, a.After = &covering[0], &iv
			return a
		}
	}
	iv := covering[len(covering)-1]
	a.Known, a.Digest, a.Interval = true, iv.Digest, &iv
	a.Before, a.After = nil, nil
	return a
}

// Move is one change of a tag's digest: overwrite evidence.
type Move struct {
	Key
	From Interval `json:"from"`
	To   Interval `json:"to"`
}

// Moved streams every change of digest of any tag whose new interval starts
// at or after since, oldest first.
func (s *Store) Moved(ctx context.Context, since time.Time, yield func(Move) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`
		WITH moved AS (
		  SELECT DISTINCT provider, scope, repository, tag FROM ledger_intervals i
		  WHERE first_seen >= ? AND EXISTS (
		    SELECT 1 FROM ledger_intervals p
		    WHERE p.repository = i.repository AND p.tag = i.tag AND p.provider = i.provider AND p.scope = i.scope
		      AND p.first_seen < i.first_seen AND p.digest <> i.digest))
		SELECT i.provider, i.scope, i.repository, i.tag, i.digest, i.first_seen, i.last_seen, i.source, i.is_open, i.pushed
		FROM ledger_intervals i JOIN moved m
		  ON i.repository = m.repository AND i.tag = m.tag AND i.provider = m.provider AND i.scope = m.scope
		ORDER BY i.provider, i.scope, i.repository, i.tag, i.first_seen, i.last_seen`), micros(since))
	if err != nil {
		return fmt.Errorf("ledger %s: moved: %w", s.where, err)
	}
	defer rows.Close()
	var prevKey Key
	var prev *Interval
	for rows.Next() {
		k, iv, err := scanInterval(rows)
		if err != nil {
			return fmt.Errorf("ledger %s: moved: %w", s.where, err)
		}
		if k != prevKey {
			prevKey, prev = k, nil
		}
		if prev != nil && prev.Digest != iv.Digest && !iv.FirstSeen.Before(since) {
			if err := yield(Move{Key: k, From: *prev, To: iv}); err != nil {
				return err
			}
		}
		if prev == nil || prev.Digest != iv.Digest || iv.LastSeen.After(prev.LastSeen) {
			cp := iv
			prev = &cp
		}
	}
	return rows.Err()
}

// Tagged is one interval of a tag that pointed at a digest.
type Tagged struct {
	Key
	Interval
}

// ByDigest streams every interval in which some tag pointed at digest.
func (s *Store) ByDigest(ctx context.Context, digest string, yield func(Tagged) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+intervalCols+` FROM ledger_intervals WHERE digest = ?
		ORDER BY first_seen, provider, scope, repository, tag`), digest)
	if err != nil {
		return fmt.Errorf("ledger %s: digest: %w", s.where, err)
	}
	defer rows.Close()
	for rows.Next() {
		k, iv, err := scanInterval(rows)
		if err != nil {
			return fmt.Errorf("ledger %s: digest: %w", s.where, err)
		}
		if err := yield(Tagged{Key: k, Interval: iv}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Scan is one recording run of one provider.
type Scan struct {
	ID       int64     `json:"id"`
	Provider string    `json:"provider"`
	Started  time.Time `json:"started_at"`
	Finished time.Time `json:"finished_at,omitzero"`
	Complete bool      `json:"complete"`
	Tags     int64     `json:"tags"`
}

// Scans returns the scans of provider (every provider when empty), newest first, at most limit.
func (s *Store) Scans(ctx context.Context, provider string, limit int) ([]Scan, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, provider, started_at, finished_at, complete, tags FROM ledger_scans
		WHERE ? = '' OR provider = ? ORDER BY started_at DESC, id DESC LIMIT ?`), provider, provider, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: scans: %w", s.where, err)
	}
	defer rows.Close()
	var out []Scan
	for rows.Next() {
		var sc Scan
		var started int64
		var finished *int64
		var complete int
		if err := rows.Scan(&sc.ID, &sc.Provider, &started, &finished, &complete, &sc.Tags); err != nil {
			return nil, err
		}
		sc.Started, sc.Complete = fromMicros(started), complete == 1
		if finished != nil {
			sc.Finished = fromMicros(*finished)
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}
