// Package providers holds the registry-neutral domain model shared by every
// adapter, the audit engine and the report: repositories, their tag
// immutability, planned changes and the small interfaces adapters implement.
//
// It imports no adapter and no cloud SDK, so every layer can depend on it.
package providers

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Kind names a registry type. The values are part of the config and report contract.
type Kind string

// Registry kinds (contract).
const (
	KindECR              Kind = "ecr"
	KindArtifactRegistry Kind = "artifactregistry"
	KindACR              Kind = "acr"
	KindDockerHub        Kind = "dockerhub"
	KindQuay             Kind = "quay"
	KindHarbor           Kind = "harbor"
	KindGitLab           Kind = "gitlab"
	KindNexus            Kind = "nexus"
	KindArtifactory      Kind = "artifactory"
	// KindOCI is any Docker/OCI distribution registry; KindGHCR is GitHub
	// Container Registry. Neither has a tag-immutability setting.
	KindOCI  Kind = "oci"
	KindGHCR Kind = "ghcr"
)

// The kinds a build supports, in documentation order, are the catalog's
// (internal/providers/catalog): a new kind declares its Kind in its adapter.

// Mode is the normalised immutability of a repository (contract, lower-case in JSON).
type Mode string

// Immutability modes. Only ModeImmutable (and ModePartial with allowed
// patterns) can ever be compliant; ModeUnknown is never compliant (fail closed).
const (
	ModeImmutable   Mode = "immutable"
	ModePartial     Mode = "partial"
	ModeMutable     Mode = "mutable"
	ModeUnsupported Mode = "unsupported"
	ModeUnknown     Mode = "unknown"
)

// Immutability is what an adapter read about one repository.
type Immutability struct {
	Mode Mode `json:"mode"`
	// Native is the registry's own setting, verbatim (e.g. IMMUTABLE_WITH_EXCLUSION).
	Native string `json:"native,omitempty"`
	// MutablePatterns are the tag patterns left mutable (ECR exclusions on an
	// immutable repository, Harbor rule excludes, ...).
	MutablePatterns []string `json:"mutable_patterns,omitempty"`
	// ImmutablePatterns are the patterns that are immutable when the setting
	// is rule based (ECR MUTABLE_WITH_EXCLUSION filters, Hub rules, ...).
	ImmutablePatterns []string `json:"immutable_patterns,omitempty"`
	// Tag coverage, for registries that lock tag by tag (ACR).
	TagsTotal      int64    `json:"tags_total,omitempty"`
	TagsLocked     int64    `json:"tags_locked,omitempty"`
	UnlockedSample []string `json:"unlocked_sample,omitempty"`
	// Error says why the setting could not be read; set with ModeUnknown.
	Error string `json:"error,omitempty"`
	// Note is extra context the auditor should see (e.g. "new tags start unlocked").
	Note string `json:"note,omitempty"`
	// Remediation, when the adapter sets it, is what the finding tells the
	// user to do (kinds without a setting say what can be done instead); the
	// policy's per-kind text is used otherwise. Reports carry it in the
	// finding, not here.
	Remediation string `json:"-"`
}

// Repository is one repository in scope together with its immutability.
type Repository struct {
	Provider string // configured instance name
	Kind     Kind
	Scope    string // account/region, project/location, login server, namespace, project
	Name     string
	URI      string
	Immutability
	// DefaultExemption, when set, is why this repository is legitimately
	// mutable by nature (ECR pull-through cache, AR remote repository). The
	// policy turns drift into exempt with this reason.
	DefaultExemption string
	// HoldWrites, when set, says why no fix may be written to this
	// repository although it drifts: a fact the fix depends on could not be
	// read (ECR pull-through-cache rules). The fix is still planned and
	// listed, held back with this reason, and the run ends non-zero.
	HoldWrites string
	// Handle is adapter-private data needed to plan a fix (ids, clients).
	// It never reaches a report.
	Handle any
}

// Scope is one unit of listing that succeeds or fails as a whole: an
// account x region, a project x location, a registry, a namespace.
type Scope struct {
	Provider string
	Kind     Kind
	Name     string
	// Handle is adapter-private data (client, account id, region ...).
	Handle any
}

// Warning is something an auditor should know that is not a finding about
// one repository (for example a lookup that was denied).
type Warning struct {
	Provider string `json:"provider"`
	Scope    string `json:"scope,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Emitter receives what an adapter finds while it lists one scope.
// Implementations are safe for concurrent use.
type Emitter interface {
	// Repository is called once per repository. A non-nil error stops the listing.
	Repository(Repository) error
	// Warn records a warning; listing goes on.
	Warn(Warning)
}

// Provider is one configured registry instance.
type Provider interface {
	Name() string
	Kind() Kind
	// Scopes enumerates the independent listing units. It may call an API
	// (e.g. ListLocations); an error here fails the whole provider.
	Scopes(ctx context.Context) ([]Scope, error)
	// Repositories streams every repository of one scope. Memory must not grow
	// with the number of repositories. An error means the scope could not be
	// read completely; repositories already emitted stay valid.
	Repositories(ctx context.Context, s Scope, e Emitter) error
}

// Tag is one tag of a repository and the manifest it names, as the
// registry's tag listing gives it (the ledger records these).
type Tag struct {
	Name string
	// Digest is the registry's manifest digest: for a multi-arch image the
	// index digest, never one platform's.
	Digest string
	// Pushed is when the registry says the tag was pushed or last moved;
	// zero when the listing does not say.
	Pushed time.Time
	// Source, when set, names the registry's own tag history this entry
	// comes from (Quay's tag history, an audit log): then Pushed is when the
	// tag started pointing at Digest, not merely when the image was pushed.
	// Plain listings leave it empty.
	Source string
	// Ended, when set, marks a past lifetime from that history: the tag
	// pointed at Digest from Pushed until Ended and no longer does. Callers
	// that want only the current tags skip entries with Ended set.
	Ended time.Time
	// Image, when set, is the image inside the repository the tag belongs
	// to, for registries whose repositories hold several images with their
	// own tags (Artifact Registry packages): the tag is Repository/Image:Name.
	Image string
}

// TagLister is implemented by adapters that can stream every tag of a
// repository with its digest from listing calls alone (no request per tag
// where the listing carries the digest). Memory must not grow with the
// number of tags.
type TagLister interface {
	Tags(ctx context.Context, r Repository, yield func(Tag) error) error
}

// Unwrapper is a provider that wraps another (serve counts every call
// through one) without taking on its optional capabilities.
type Unwrapper interface {
	Unwrap() Provider
}

// As finds an optional capability (TagLister, TagHistorian) on p or on a
// provider p wraps: a wrapper that forgot one must not make a command
// believe the registry lacks it.
func As[T any](p Provider) (T, bool) {
	for p != nil {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(Unwrapper)
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	var zero T
	return zero, false
}

// FixPolicy is the part of the policy a fix must respect.
type FixPolicy struct {
	// MutableTagsAllowed are tag patterns the policy lets stay mutable; a fix
	// may keep them as exclusions but never adds or widens any.
	MutableTagsAllowed []string
	// AcceptImmutableAllowed lets a fix make allowed tags immutable too on
	// registries that cannot keep them mutable (Artifact Registry's one
	// flag); without it those repositories are held back.
	AcceptImmutableAllowed bool
}

// Change is one planned fix for one target (a repository, a template, ...).
type Change struct {
	Provider   string `json:"provider"`
	Kind       Kind   `json:"kind"`
	Scope      string `json:"scope"`
	Repository string `json:"repository"`
	URI        string `json:"uri,omitempty"`
	// Target says what is changed when it is not a repository's own setting
	// (e.g. "repository-creation-template").
	Target string       `json:"target,omitempty"`
	From   Immutability `json:"from"`
	To     Immutability `json:"to"`
	// Action is the API call that would be made, human readable.
	Action string `json:"action"`
	// Writes is how many write calls Apply is expected to make (ACR: tags to lock).
	Writes int64 `json:"writes"`
	// Noop is true when nothing needs to change.
	Noop bool `json:"noop,omitempty"`
	// HeldBack, when set, is why this change is planned but must not be
	// written (facts unknown, or the registry cannot express the policy
	// without an explicit opt-in). Apply is never called for it.
	HeldBack string `json:"held_back,omitempty"`
	// Ref is what Apply writes to, in the adapter's own terms: a struct
	// the adapter package defines (ecr.Ref, harbor.Ref, ...), stored by
	// SetRef and read by RefOf. With Noop and To it is all Apply uses
	// besides its own client, so a plan read back from the fix engine's
	// spool applies as planned. It holds ids, names, URLs and patterns,
	// never a secret (the spool is on disk). Reports do not show it.
	Ref json.RawMessage `json:"ref,omitempty"`
}

// WriteRecord describes one write call as it is made, for the journal.
type WriteRecord struct {
	Call   string `json:"call"`             // API operation
	Target string `json:"target,omitempty"` // e.g. a tag for per-tag locks
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Observer lets Apply report each write (journal) and progress (UI).
// Write may be called from several goroutines at once (ACR locks tags in
// parallel); implementations must be safe for that. Progress calls for one
// change are serialised by the adapter.
type Observer interface {
	Write(c Change, w WriteRecord)
	Progress(c Change, done, total int64)
}

// Result is the outcome of applying one Change.
type Result struct {
	Change   Change       `json:"change"`
	Writes   int64        `json:"writes"`
	Verified bool         `json:"verified"`
	After    Immutability `json:"after"`
}

// Enforcer is implemented by adapters that can fix a repository.
type Enforcer interface {
	// Plan says what Apply would change (no writes). A Change with Noop set
	// means the repository already satisfies the policy.
	Plan(ctx context.Context, r Repository, p FixPolicy) (Change, error)
	// Apply performs the change, reports every write to o, then reads the
	// setting back and sets Result.Verified only when it matches.
	//
	// Apply uses Change.Ref, which Plan fills for every change it returns
	// (no-ops included), and the adapter's own client; nothing it needs
	// lives only in memory, so a Change round-tripped through JSON (the
	// fix engine's spool) applies the same. A change without a usable ref
	// is refused with ErrBadRef before any call.
	//
	// No-op contract, the same for every kind: Apply of a Change with Noop
	// set makes no write (Result.Writes is 0, o sees no Write); it reads
	// the setting back like any Apply, Result.After is what it read and
	// Verified is true when that still satisfies the plan; an error means
	// it could not be read. Plan-only kinds, whose
	// changes are always held back, keep this contract for no-ops too.
	// internal/providers/providertest checks both against each adapter's
	// emulator.
	Apply(ctx context.Context, c Change, o Observer) (Result, error)
}

// DefaultsEnforcer is implemented by adapters that can also make future
// repositories start immutable (ECR repository creation templates).
type DefaultsEnforcer interface {
	PlanDefaults(ctx context.Context, p FixPolicy) ([]Change, error)
}

// Options are the shared dependencies handed to every adapter constructor.
type Options struct {
	Logger *slog.Logger
	// Getenv reads the environment variables named in config credentials.
	// Tests inject it; nil means os.Getenv.
	Getenv func(string) string
	// HTTPClient, when set, is used by REST adapters (tests, debug transport).
	HTTPClient *http.Client
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// MutableTagsAllowed is policy.mutable_tags_allowed, for adapters that
	// decide tag by tag (ACR locks tags one at a time and must neither lock
	// nor count against the policy the tags it allows to stay mutable).
	MutableTagsAllowed []string
	// Retry lets fault-injection tests run retry storms in test time: the
	// SDK-based adapters (ECR, ACR, Artifact Registry) keep their backoff
	// and deadlines inside the SDK clients, out of HTTPClient's reach. It is
	// not a config key; production leaves it zero.
	Retry RetryTuning
	// Hermetic makes Getenv the whole environment: the SDK-based adapters
	// build their client configuration from Getenv and the config entry
	// alone, never from the process environment, shared config files or
	// instance metadata, and refuse to fall back on a default chain. The
	// demo sets it so that it need not change the process environment;
	// production leaves it false and the SDKs' default chains apply.
	Hermetic bool
}

// RetryTuning overrides retry timings. Zero fields keep each adapter's
// defaults, and the number of attempts stays the adapter's own.
type RetryTuning struct {
	// MaxBackoff caps one wait between two attempts. azcore (ACR) gives up
	// rather than wait when a server asks for longer, so a test that sets
	// it must advertise shorter waits to keep ACR's attempt count.
	MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt. ECR and ACR retry an attempt that
	// ran out like a reset; Artifact Registry does not retry its
	// DEADLINE_EXCEEDED (the value is also its gax per-call timeout).
	AttemptTimeout time.Duration
}

// Log returns the logger or a discarding one.
func (o Options) Log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Secret returns the value of the environment variable that holds a
// credential (token_env, password_env) and registers it with the program's
// redactor, so it is masked in every error, log line and report field.
func (o Options) Secret(name string) string {
	v := o.Env(name)
	redact.Add(v)
	return v
}

// Env returns the value of an environment variable through Getenv.
func (o Options) Env(name string) string {
	if o.Getenv == nil {
		return getenv(name)
	}
	return o.Getenv(name)
}

// String renders the setting briefly: mode, the native value and patterns.
func (i Immutability) String() string {
	s := string(i.Mode)
	if s == "" {
		s = "?"
	}
	if i.Native != "" {
		s += " " + i.Native
	}
	if len(i.MutablePatterns) > 0 && i.Mode != ModeMutable {
		s += " mutable=" + strings.Join(i.MutablePatterns, ",")
	}
	return s
}
