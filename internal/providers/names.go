package providers

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
)

// maxNameLen is the documented longest repository name per kind: 256 in
// ECR, 255 in Docker Hub, and the OCI distribution spec's bound for the
// others (a name shorter than 256 characters with its registry).
var maxNameLen = map[Kind]int{
	KindECR:       256,
	KindDockerHub: 255,
}

const defaultMaxNameLen = 256

// CheckName validates a repository name taken from a listing before any
// call is made with it: a null entry or an empty name, a ".." segment
// (a path that could reach another resource), control characters (which
// rewrite a terminal) and names over the registry's documented length are
// refused.
func CheckName(kind Kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the listing returned an entry without a name (null or empty)")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("the listing returned a name with control characters: %s", DisplayName(name))
	}
	limit := defaultMaxNameLen
	if n, ok := maxNameLen[kind]; ok {
		limit = n
	}
	if len(name) > limit {
		return fmt.Errorf("the listing returned a name of %d bytes, over the %d the registry documents: %s", len(name), limit, DisplayName(name))
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("the listing returned a name with an empty, \".\" or \"..\" path segment: %s", DisplayName(name))
		}
	}
	return nil
}

// DisplayName renders a registry-provided name that failed CheckName so
// that it can be shown anywhere: quoted with escapes, and cut when long.
func DisplayName(name string) string {
	const max = 120
	cut := ""
	if len(name) > max {
		cut = fmt.Sprintf("… (%d bytes)", len(name))
		name = strings.ToValidUTF8(name[:max], "")
	}
	return strconv.QuoteToASCII(name) + cut
}

// InvalidEntry is the repository to emit for a listing entry that failed
// CheckName: reported as an error under a displayable name, never read,
// never fixed, never compliant. index is the entry's position in its page.
func InvalidEntry(provider string, kind Kind, scope, name string, index int, err error) Repository {
	shown := DisplayName(name)
	if name == "" {
		shown = fmt.Sprintf("(invalid entry %d)", index)
	}
	return Repository{Provider: provider, Kind: kind, Scope: scope, Name: shown,
		Immutability: Immutability{Mode: ModeUnknown, Error: "invalid listing entry: " + err.Error()}}
}

// EntryCheck validates the entries of one scope's listing; safe for
// concurrent use. Invalid entries are numbered so each is reported once.
type EntryCheck struct {
	Provider string
	Kind     Kind
	Scope    string
	n        atomic.Int64
}

// Invalid returns the error repository to emit for name and true when name
// fails CheckName; the caller emits it and makes no call with the name.
func (c *EntryCheck) Invalid(name string) (Repository, bool) {
	err := CheckName(c.Kind, name)
	if err == nil {
		return Repository{}, false
	}
	return InvalidEntry(c.Provider, c.Kind, c.Scope, name, int(c.n.Add(1)), err), true
}
