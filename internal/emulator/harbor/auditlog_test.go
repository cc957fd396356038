package harbor

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/testutil"
)

func TestAuditLogQuerySortAndDenial(t *testing.T) {
	s, hs := newTest(t)
	s.AddProject("p", false)
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	testutil.Must(t, s.SeedPush("p", "app", "v1", "sha256:aa", t0))
	testutil.Must(t, s.SeedPush("p", "app", "v2", "sha256:bb", t0.Add(time.Hour)))
	testutil.Must(t, s.SeedPush("p", "other", "v1", "sha256:cc", t0.Add(2*time.Hour)))
	list := func(q url.Values) (int, []map[string]any) {
		resp, b := do(t, hs, "GET", "/api/v2.0/projects/p/auditlog-exts?"+q.Encode(), "", true)
		var out []map[string]any
		if resp.StatusCode == http.StatusOK {
			testutil.Must(t, json.Unmarshal(b, &out))
		}
		return resp.StatusCode, out
	}
	st, recs := list(url.Values{"q": {"resource=~p/app"}})
	if st != 200 || len(recs) != 2 || recs[0]["resource"] != "p/app:v2" || recs[0]["operation_description"] != "push artifact: p/app@sha256:bb" {
		t.Fatalf("fuzzy query, default newest first: %d %v", st, recs)
	}
	if st, recs = list(url.Values{"q": {"resource=p/other:v1"}, "sort": {"op_time"}}); st != 200 || len(recs) != 1 {
		t.Fatalf("exact query: %d %v", st, recs)
	}
	if st, recs = list(url.Values{"sort": {"op_time"}, "page_size": {"2"}, "page": {"2"}}); st != 200 || len(recs) != 1 || recs[0]["resource"] != "p/other:v1" {
		t.Fatalf("oldest first, page 2 of 2: %d %v", st, recs)
	}
	if st, _ = list(url.Values{"q": {"nonsense"}}); st != http.StatusBadRequest {
		t.Errorf("malformed q: %d", st)
	}
	s.DenyAuditLog(true)
	if st, _ = list(nil); st != http.StatusForbidden {
		t.Errorf("denied audit log: %d", st)
	}
}
