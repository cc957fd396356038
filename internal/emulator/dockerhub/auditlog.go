package dockerhub

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// OpAuditLogs counts GET /v2/auditlogs/{account}.
const OpAuditLogs = "auditlogs.list"

// hubEvent is the spec's AuditLog.
type hubEvent struct {
	Account     string            `json:"account"`
	Action      string            `json:"action"`
	Name        string            `json:"name"`
	Actor       string            `json:"actor"`
	Data        map[string]string `json:"data"`
	Timestamp   string            `json:"timestamp"`
	Description string            `json:"action_description"`
	at          time.Time
}

// hubAudit is the audit log: every push adds a repo.tag.push event with
// data {tag, digest}, as the spec's example shows. Audit logs are a paid
// plan feature: namespaces without it answer 403.
type hubAudit struct {
	events  []hubEvent
	enabled map[string]bool
}

// EnableAuditLog puts namespace on a plan with audit logs (Team or
// Business); without it the audit-log route answers 403.
func (s *Server) EnableAuditLog(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.audit.enabled == nil {
		s.audit.enabled = map[string]bool{}
	}
	s.audit.enabled[namespace] = true
}

// SeedPush sets namespace/name:tag to digest as pushed at at, with its
// audit event, so demos and tests can hold history from before they
// started. Immutability is not checked: this is the past.
func (s *Server) SeedPush(namespace, name, tag, digest string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[namespace+"/"+name]
	if !ok {
		return fmt.Errorf("seed %s/%s:%s: repository not found", namespace, name, tag)
	}
	r.Tags[tag] = digest
	if r.pushed == nil {
		r.pushed = map[string]time.Time{}
	}
	r.pushed[tag] = at.UTC()
	s.logPushLocked(r, tag, digest, at)
	return nil
}

func (s *Server) logPushLocked(r *repo, tag, digest string, at time.Time) {
	full := r.Namespace + "/" + r.Name
	s.audit.events = append(s.audit.events, hubEvent{
		Account: r.Namespace, Action: "repo.tag.push", Name: full, Actor: r.Namespace,
		Data: map[string]string{"tag": tag, "digest": digest}, Timestamp: at.UTC().Format(time.RFC3339), at: at.UTC(),
		Description: "pushed the tag " + tag + " with the digest " + digest + " to the repository " + full,
	})
}

// listAuditLogs is GET /v2/auditlogs/{account}: filters action, name,
// actor, from, to; page and page_size (default 25); newest first.
func (s *Server) listAuditLogs(w http.ResponseWriter, r *http.Request, account string) {
	a, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	s.calls.Inc(OpAuditLogs)
	if !s.access(w, a, account, "") {
		return
	}
	q := r.URL.Query()
	page, size := 1, 25
	for _, p := range []struct {
		key string
		dst *int
		max int
	}{{"page", &page, 0}, {"page_size", &size, 100}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || (p.max > 0 && n > p.max) {
				writeRPCStatus(w, http.StatusBadRequest, 3, "invalid "+p.key)
				return
			}
			*p.dst = n
		}
	}
	var from, to time.Time
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeRPCStatus(w, http.StatusBadRequest, 3, "invalid "+p.key)
				return
			}
			*p.dst = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.audit.enabled[account] || !a.Admin {
		writeRPCStatus(w, http.StatusForbidden, 7, "audit logs are available to organization owners on Docker Team and Business plans")
		return
	}
	var match []hubEvent
	for _, e := range s.audit.events {
		if e.Account != account || (q.Has("action") && e.Action != q.Get("action")) || (q.Has("name") && e.Name != q.Get("name")) ||
			(q.Has("actor") && e.Actor != q.Get("actor")) || (!from.IsZero() && e.at.Before(from)) || (!to.IsZero() && e.at.After(to)) {
			continue
		}
		match = append(match, e)
	}
	sort.SliceStable(match, func(i, j int) bool { return match[i].at.After(match[j].at) })
	if ps := s.inj.Faults().PageSize; ps > 0 && ps < size {
		size = ps
	}
	start := min((page-1)*size, len(match))
	writeJSON(w, http.StatusOK, map[string]any{"logs": append([]hubEvent{}, match[start:min(start+size, len(match))]...)})
}

// writeRPCStatus answers with the audit-log routes' default error schema.
func writeRPCStatus(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": []any{}})
}
