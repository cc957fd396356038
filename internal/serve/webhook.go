package serve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// WebhookSecretHeader carries the shared secret on ACR webhook calls
// (configure it as a custom header on the ACR webhook).
const WebhookSecretHeader = "X-Immutag-Webhook-Secret"

// MaxWebhookBody bounds a webhook request body; an ACR push event is well
// under 2 KiB.
const MaxWebhookBody = 64 << 10

// TagLocker is the optional adapter capability the webhook prefers: lock one
// tag (writeEnabled=false, deleteEnabled=false) in one repository of one
// registry. It must only ever lock, report the write to o, and read the tag
// back: Result.Verified is true when the tag is locked afterwards. A tag that
// is already locked needs no write and is verified.
//
// An ACR adapter without it is handled by planning and applying the whole
// repository (every unlocked tag gets locked, the pushed one included).
type TagLocker interface {
	LockTag(ctx context.Context, registry, repository, tag string, o providers.Observer) (providers.Result, error)
}

// acrEvent is the part of an ACR webhook payload immutag reads.
type acrEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// Docker distribution grammar for repository paths and tags.
var (
	repoRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

func (s *Service) authorized(r *http.Request) bool {
	got := r.Header.Get(WebhookSecretHeader)
	if got == "" {
		return false
	}
	// Comparing digests keeps the comparison constant-time whatever the
	// lengths, so the secret's length does not leak either.
	h := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(h[:], s.secret[:]) == 1
}

func (s *Service) handleACRWebhook(w http.ResponseWriter, r *http.Request) {
	if !s.webhook {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorized(r) {
		s.metrics.webhookEvent(webhookResultUnauthorized)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !s.leads() {
		// Only the leader writes. ACR retries failed deliveries, and the
		// leader's next scan locks whatever is still unlocked.
		s.metrics.webhookEvent(webhookResultNotLeader)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "not the leader: another replica locks pushed tags", http.StatusServiceUnavailable)
		return
	}
	if r.ContentLength > MaxWebhookBody {
		s.metrics.webhookEvent(webhookResultTooLarge)
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.metrics.webhookEvent(webhookResultTooLarge)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		s.metrics.webhookEvent(webhookResultInvalid)
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var ev acrEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		s.metrics.webhookEvent(webhookResultInvalid)
		http.Error(w, "body is not an ACR webhook event", http.StatusBadRequest)
		return
	}
	switch ev.Action {
	case "push":
	case "ping":
		// Sent by `az acr webhook ping`.
		w.WriteHeader(http.StatusOK)
		return
	default:
		s.metrics.webhookEvent(webhookResultIgnoredEvent)
		w.WriteHeader(http.StatusOK)
		return
	}
	registry, provider, ok := s.registryProvider(ev.Request.Host)
	if !ok {
		s.metrics.webhookEvent(webhookResultIgnoredReg)
		s.log.Info("webhook: registry not in config, ignored", "registry", ev.Request.Host, "event_id", ev.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	repo, tag := ev.Target.Repository, ev.Target.Tag
	if tag == "" {
		// A push by digest moves no tag.
		s.metrics.webhookEvent(webhookResultIgnoredTag)
		w.WriteHeader(http.StatusOK)
		return
	}
	if !repoRE.MatchString(repo) || len(repo) > 256 || !tagRE.MatchString(tag) {
		s.metrics.webhookEvent(webhookResultInvalid)
		http.Error(w, "invalid repository or tag name", http.StatusBadRequest)
		return
	}
	key := repoKey{provider: provider, registry: registry, repository: repo}
	// Exempt repositories are never changed, as with fix.
	if e := audit.Evaluate(pushedRepository(key, providers.KindACR), audit.PolicyFrom(s.opts.Policy, s.opts.Now())); e.Status == audit.StatusExempt {
		s.metrics.webhookEvent(webhookResultExempt)
		s.log.Info("webhook: repository is exempt, tag left as it is", "provider", provider, "registry", key.registry,
			"repository", repo, "tag", tag, "reason", e.Exemption.Reason)
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := s.queue.add(key, tag); err != nil {
		s.metrics.webhookEvent(webhookResultBusy)
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	s.metrics.webhookEvent(webhookResultQueued)
	s.log.Debug("webhook: tag queued", "provider", provider, "registry", key.registry, "repository", repo, "tag", tag, "event_id", ev.ID)
	w.WriteHeader(http.StatusAccepted)
}

// lockBatch locks the tags pushed to one repository since its last batch.
func (s *Service) lockBatch(ctx context.Context, key repoKey, tags []string) {
	log := s.log.With("provider", key.provider, "registry", key.registry, "repository", key.repository)
	if !s.leads() {
		log.Info("webhook: leadership lost before the batch; the leader's next scan locks these tags", "tags", len(tags))
		return
	}
	prov := s.raw[key.provider]
	if prov == nil {
		log.Error("webhook: provider not built")
		return
	}
	repo := pushedRepository(key, prov.Kind())
	pol := audit.PolicyFrom(s.opts.Policy, s.opts.Now())
	var changes []audit.PlannedChange
	if locker, ok := prov.(TagLocker); ok {
		for _, t := range tags {
			if providers.TagAllowed(t, pol.MutableTagsAllowed) {
				// policy.mutable_tags_allowed lets this tag move (a
				// pipeline re-pushes latest): locking it would break that.
				log.Debug("webhook: tag allowed to stay mutable, not locked", "tag", t)
				continue
			}
			changes = append(changes, audit.PlannedChange{
				Change: providers.Change{Provider: key.provider, Kind: prov.Kind(), Scope: key.registry,
					Repository: key.repository, URI: repo.URI, Target: "tag " + t, From: repo.Immutability,
					To:     providers.Immutability{Mode: providers.ModeImmutable, Native: "tag " + t + " locked"},
					Action: "lock tag " + t + " (writeEnabled=false, deleteEnabled=false)", Writes: 1},
				Enforcer: &countingEnforcer{e: tagLockEnforcer{locker}, m: s.metrics, source: "webhook"},
			})
		}
		if len(changes) == 0 {
			return
		}
	} else if enf, ok := prov.(providers.Enforcer); ok {
		c, err := enf.Plan(ctx, repo, pol.Fix())
		s.metrics.call(key.provider, "plan", err)
		if err != nil {
			log.Error("webhook: cannot plan the lock", "tags", tags, "error", err)
			return
		}
		if c.Noop {
			log.Debug("webhook: every tag already locked", "tags", tags)
			return
		}
		changes = []audit.PlannedChange{{Change: c, Enforcer: &countingEnforcer{e: enf, m: s.metrics, source: "webhook"}}}
	} else {
		log.Error("webhook: provider cannot lock tags", "kind", prov.Kind())
		return
	}
	j, err := s.webhookJournal()
	if err != nil {
		log.Error("webhook: no journal, nothing locked", "tags", tags, "error", err)
		return
	}
	lock, err := s.lockJournal()
	if err != nil {
		log.Error("webhook: journal locked, nothing locked (the next sweep locks these tags)", "tags", tags, "error", err)
		return
	}
	defer lock.Unlock()
	fx := &audit.Fixer{Journal: j, Concurrency: s.opts.Concurrency}
	start := time.Now()
	plan := audit.PlanOf(changes...)
	defer plan.Close()
	err = fx.Apply(ctx, plan, func(r audit.ChangeRecord) {
		if r.Verified {
			log.Info("webhook: locked", "target", targetOf(r), "writes", r.Writes, "duration", time.Since(start))
		} else {
			log.Error("webhook: lock failed", "target", targetOf(r), "state", r.State, "error", r.Error)
		}
	})
	if err != nil {
		log.Error("webhook: lock batch stopped", "error", err)
	}
}

// pushedRepository is what a push tells about a repository: a tag was just
// pushed and starts unlocked, so the repository is mutable for that tag.
func pushedRepository(key repoKey, kind providers.Kind) providers.Repository {
	return providers.Repository{Provider: key.provider, Kind: kind, Scope: key.registry, Name: key.repository,
		URI:          key.registry + "/" + key.repository,
		Immutability: providers.Immutability{Mode: providers.ModeMutable, MutablePatterns: []string{"*"}}}
}

func targetOf(r audit.ChangeRecord) string {
	if r.Target != "" {
		return r.Target
	}
	return "every unlocked tag"
}

// webhookJournal opens the journal once for every webhook batch of this
// process; its run id names the serve instance.
func (s *Service) webhookJournal() (*audit.Journal, error) {
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	if s.journal != nil {
		return s.journal, nil
	}
	j, err := audit.OpenJournal(s.opts.Journal, "serve-"+s.id+"-webhook", s.opts.Now)
	if err != nil {
		return nil, err
	}
	s.journal = j
	return j, nil
}

// tagLockEnforcer lets the Fixer (journal, read-back, records) drive a
// TagLocker: Change.Target is "tag <name>", which survives the plan's
// spool like every field of a change.
type tagLockEnforcer struct{ l TagLocker }

func (t tagLockEnforcer) Plan(context.Context, providers.Repository, providers.FixPolicy) (providers.Change, error) {
	return providers.Change{}, errors.New("tag locks are planned by the webhook")
}

func (t tagLockEnforcer) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	tag, ok := strings.CutPrefix(c.Target, "tag ")
	if !ok || tag == "" {
		return providers.Result{Change: c}, errors.New("no tag to lock")
	}
	res, err := t.l.LockTag(ctx, c.Scope, c.Repository, tag, o)
	res.Change = c
	return res, err
}

// countingEnforcer counts the writes of Apply for the metrics.
type countingEnforcer struct {
	e      providers.Enforcer
	m      *Metrics
	source string
}

func (c *countingEnforcer) Plan(ctx context.Context, r providers.Repository, p providers.FixPolicy) (providers.Change, error) {
	return c.e.Plan(ctx, r, p)
}

func (c *countingEnforcer) Apply(ctx context.Context, ch providers.Change, o providers.Observer) (providers.Result, error) {
	return countingApply(ctx, c.e, ch, o, c.m, c.source)
}

// repoKey names one repository of one registry of one provider; pushes are
// coalesced per key.
type repoKey struct{ provider, registry, repository string }

type pendingRepo struct {
	tags   map[string]struct{}
	active bool // a worker owns this key
}

// lockQueue gathers pushed tags per repository and locks them in batches:
// one worker per repository at a time (so a burst of pushes to one
// repository never runs concurrent lock loops), at most limit repositories
// at once, and at most max tags waiting in total (memory stays bounded).
type lockQueue struct {
	window  time.Duration
	max     int
	sem     chan struct{}
	gauge   prometheus.Gauge
	process func(ctx context.Context, key repoKey, tags []string)

	mu      sync.Mutex
	pending map[repoKey]*pendingRepo
	total   int
	closed  bool
	dropped int
	soft    context.Context
	hard    context.Context
	wg      sync.WaitGroup
}

var errQueueFull = errors.New("too many tags waiting to be locked; retry later")
var errQueueClosed = errors.New("shutting down")

func newLockQueue(window time.Duration, maxPending, limit int, gauge prometheus.Gauge, process func(context.Context, repoKey, []string)) *lockQueue {
	return &lockQueue{window: window, max: maxPending, sem: make(chan struct{}, max(1, limit)), gauge: gauge, process: process,
		pending: map[repoKey]*pendingRepo{}, soft: context.Background(), hard: context.Background()}
}

// start sets the contexts: soft ending stops new batches, hard ending
// cancels running writes.
func (q *lockQueue) start(soft, hard context.Context) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.soft, q.hard = soft, hard
}

func (q *lockQueue) add(key repoKey, tag string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.soft.Err() != nil {
		return errQueueClosed
	}
	p := q.pending[key]
	if p == nil {
		p = &pendingRepo{tags: map[string]struct{}{}}
		q.pending[key] = p
	}
	if _, dup := p.tags[tag]; !dup {
		if q.total >= q.max {
			return errQueueFull
		}
		p.tags[tag] = struct{}{}
		q.total++
		q.gauge.Set(float64(q.total))
	}
	if !p.active {
		p.active = true
		q.wg.Add(1)
		go q.run(key, q.soft, q.hard)
	}
	return nil
}

func (q *lockQueue) run(key repoKey, soft, hard context.Context) {
	defer q.wg.Done()
	// Wait for the rest of a burst: CI pushes several tags of one image
	// within a second, and one batch per repository is enough.
	if q.window > 0 {
		t := time.NewTimer(q.window)
		select {
		case <-t.C:
		case <-soft.Done():
			t.Stop()
		}
	}
	select {
	case q.sem <- struct{}{}:
		defer func() { <-q.sem }()
	case <-soft.Done():
	}
	for {
		q.mu.Lock()
		p := q.pending[key]
		if len(p.tags) == 0 {
			delete(q.pending, key)
			q.mu.Unlock()
			return
		}
		if soft.Err() != nil {
			// Not started: dropped. The next --enforce scan sweeps them.
			q.dropped += len(p.tags)
			q.total -= len(p.tags)
			q.gauge.Set(float64(q.total))
			delete(q.pending, key)
			q.mu.Unlock()
			return
		}
		tags := make([]string, 0, len(p.tags))
		for t := range p.tags {
			tags = append(tags, t)
		}
		p.tags = map[string]struct{}{}
		q.total -= len(tags)
		q.gauge.Set(float64(q.total))
		q.mu.Unlock()
		slices.Sort(tags)
		q.process(hard, key, tags)
	}
}

// stop refuses further tags.
func (q *lockQueue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}

// wait blocks until every worker returned and reports how many tags were
// dropped unlocked.
func (q *lockQueue) wait() int {
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
