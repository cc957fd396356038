package harbor

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// auditEntry is Harbor's AuditLogExt (swagger definitions.AuditLogExt).
type auditEntry struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	Resource    string    `json:"resource"`
	Type        string    `json:"resource_type"`
	Operation   string    `json:"operation"`
	Description string    `json:"operation_description"`
	Result      bool      `json:"operation_result"`
	OpTime      time.Time `json:"-"`
	project     string
}

// auditLog is the server's audit log (v2.13+ "auditlog-exts"). Every push
// adds the record Harbor's event handler writes: operation "create",
// resource_type "artifact", resource "<project>/<repo>:<tag>" and the
// digest in operation_description "push artifact: <project>/<repo>@<digest>".
type auditLog struct {
	entries []auditEntry
	// denied makes the audit-log routes answer 403, as for an account
	// without the project-admin role or the robot permission to list logs.
	denied bool
}

// DenyAuditLog makes the audit-log routes answer 403 (deny=true) or behave
// normally again.
func (s *Server) DenyAuditLog(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit.denied = deny
}

// SeedPush sets proj/name:tag to digest as pushed at at, with its
// audit-log record, so demos and tests can hold history from before they
// started. The repository is created when missing.
func (s *Server) SeedPush(proj, name, tag, digest string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[proj]
	if !ok {
		return fmt.Errorf("harbor emulator: project %q does not exist", proj)
	}
	r := s.repoLocked(p, name)
	r.tags[tag] = digest
	r.setPushed(tag, at.UTC())
	s.logPushLocked(proj, name, tag, digest, at)
	return nil
}

func (s *Server) logPushLocked(proj, name, tag, digest string, at time.Time) {
	full := proj + "/" + name
	s.audit.entries = append(s.audit.entries, auditEntry{
		ID: int64(len(s.audit.entries) + 1), Username: s.user, Resource: full + ":" + tag, Type: "artifact", Operation: "create",
		Description: "push artifact: " + full + "@" + digest, Result: true, OpTime: at.UTC(), project: proj,
	})
}

// listAuditLogs is GET /projects/{project_name}/auditlog-exts: q (exact k=v
// and fuzzy k=~v on resource, resource_type, operation, username), sort
// (op_time or -op_time, newest first by default) and Harbor's paging.
func (s *Server) listAuditLogs(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	type cond struct {
		key, val string
		fuzzy    bool
	}
	var conds []cond
	if q := r.URL.Query().Get("q"); q != "" {
		for _, kv := range strings.Split(q, ",") {
			k, v, found := strings.Cut(kv, "=")
			fuzzy := strings.HasPrefix(v, "~")
			v = strings.Trim(strings.TrimPrefix(v, "~"), `"'`)
			switch k {
			case "resource", "resource_type", "operation", "username":
			default:
				found = false
			}
			if !found {
				writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("invalid query: %q", kv))
				return
			}
			conds = append(conds, cond{k, v, fuzzy})
		}
	}
	desc := true
	switch r.URL.Query().Get("sort") {
	case "", "-op_time":
	case "op_time":
		desc = false
	default:
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "unsupported sort")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(w, r, true)
	if p == nil {
		return
	}
	if s.audit.denied {
		writeError(w, r, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	var match []auditEntry
	for _, e := range s.audit.entries {
		if e.project != p.name {
			continue
		}
		keep := true
		for _, c := range conds {
			f := map[string]string{"resource": e.Resource, "resource_type": e.Type, "operation": e.Operation, "username": e.Username}[c.key]
			if (c.fuzzy && !strings.Contains(f, c.val)) || (!c.fuzzy && f != c.val) {
				keep = false
			}
		}
		if keep {
			match = append(match, e)
		}
	}
	slices.SortStableFunc(match, func(a, b auditEntry) int {
		if desc {
			return b.OpTime.Compare(a.OpTime)
		}
		return a.OpTime.Compare(b.OpTime)
	})
	from, to := window(page, size, len(match))
	out := make([]map[string]any, 0, to-from)
	for _, e := range match[from:to] {
		out = append(out, map[string]any{"id": e.ID, "username": e.Username, "resource": e.Resource, "resource_type": e.Type,
			"operation": e.Operation, "operation_description": e.Description, "operation_result": e.Result,
			"op_time": e.OpTime.Format(timeFmt)})
	}
	writePage(w, r, page, size, len(match), out)
}
