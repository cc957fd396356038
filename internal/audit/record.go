package audit

import (
	"context"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// Overwrite is a tag the ledger saw pointing at a new digest: evidence that
// it was overwritten. Where the repository's setting makes the tag
// immutable now (Immutable) it is an incident: the setting was off, or
// bypassed, when it happened.
type Overwrite struct {
	Provider   string    `json:"provider"`
	Scope      string    `json:"scope"`
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Previous   string    `json:"previous_digest"`
	Digest     string    `json:"digest"`
	LastSeenAt time.Time `json:"previous_last_seen"`
	SeenAt     time.Time `json:"seen_at"`
	Pushed     time.Time `json:"pushed,omitzero"`
	Immutable  bool      `json:"immutable_now"`
	Source     string    `json:"source"`
}

// TagRecorder is called for every repository an audit lists, from the
// adapter's listing goroutine, so tag recording runs with the listing's
// concurrency. It returns only errors that must stop the scan; a tag
// listing that fails is reported through warn.
type TagRecorder interface {
	RecordTags(ctx context.Context, p providers.Provider, r providers.Repository, warn func(providers.Warning)) error
}
