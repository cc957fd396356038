package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadRef is wrapped by RefOf when a change carries no usable ref: it
// was planned by another kind, by an older immutag, or edited by hand.
// Planning again gives a change Apply can use.
var ErrBadRef = errors.New("the change has no usable ref")

// SetRef stores t, the adapter's own description of what a change writes
// to, in c.Ref. t is a struct of ids, names, URLs and patterns: the plan
// is spooled to disk, so it must never hold a client, a token or any
// other secret.
func SetRef[T any](c *Change, t T) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("%s change of %s/%s: encode ref: %w", c.Kind, c.Scope, c.Repository, err)
	}
	c.Ref = b
	return nil
}

// RefOf decodes the ref of a change that kind's Plan made. A change of
// another kind, one without a ref, or a ref with fields T does not know
// is refused (ErrBadRef) rather than guessed at: Apply writes only what a
// plan of its own kind described.
func RefOf[T any](c Change, kind Kind) (T, error) {
	var t T
	if c.Kind != kind {
		return t, fmt.Errorf("%w: a %q change of %s/%s given to the %s adapter", ErrBadRef, c.Kind, c.Scope, c.Repository, kind)
	}
	if len(c.Ref) == 0 {
		return t, fmt.Errorf("%w: %s change of %s/%s (provider %s) has no ref; plan it again", ErrBadRef, kind, c.Scope, c.Repository, c.Provider)
	}
	d := json.NewDecoder(bytes.NewReader(c.Ref))
	d.DisallowUnknownFields()
	if err := d.Decode(&t); err != nil {
		return t, fmt.Errorf("%w: %s change of %s/%s (provider %s): ref: %v; plan it again", ErrBadRef, kind, c.Scope, c.Repository, c.Provider, err)
	}
	return t, nil
}
