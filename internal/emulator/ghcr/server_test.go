package ghcr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, url, token string) (*http.Response, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestDocumentedBehaviour(t *testing.T) {
	s := New(Options{Token: "ghp_emulator_test_token", RateLimit: 10})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	s.AddOwner("acme", true)
	for i := range 150 {
		if _, err := s.Push("acme", "pkg"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26)), "v1"); err != nil {
			t.Fatal(err)
		}
	}
	tok := "ghp_emulator_test_token"
	if resp, _ := get(t, hs.URL+"/orgs/acme/packages?package_type=container", ""); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if resp, _ := get(t, hs.URL+"/orgs/acme/packages", tok); resp.StatusCode != 400 {
		t.Errorf("without package_type: %d", resp.StatusCode)
	}
	resp, page := get(t, hs.URL+"/orgs/acme/packages?package_type=container", tok)
	if len(page) != DefaultPerPage || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("default page: %d entries, Link %q", len(page), resp.Header.Get("Link"))
	}
	resp, page = get(t, hs.URL+"/orgs/acme/packages?package_type=container&per_page=500&page=2", tok)
	if len(page) != 50 || strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Errorf("per_page is capped at 100: page 2 has %d entries, Link %q", len(page), resp.Header.Get("Link"))
	}
	if resp.Header.Get("X-RateLimit-Limit") != "10" || resp.Header.Get("X-RateLimit-Remaining") != "7" { // the refused 401 is not counted
		t.Errorf("rate headers %v", resp.Header)
	}
	if resp, _ := get(t, hs.URL+"/users/acme/packages?package_type=container", tok); resp.StatusCode != 404 { // counted: 6 left
		t.Errorf("an organisation under /users: %d", resp.StatusCode)
	}
	for range 6 {
		get(t, hs.URL+"/users/acme", tok)
	}
	resp, _ = get(t, hs.URL+"/users/acme", tok)
	if resp.StatusCode != 403 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("over the limit: %d remaining %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
	}
}

func TestTagsMoveBetweenVersions(t *testing.T) {
	s := New(Options{Token: "t"})
	s.AddOwner("alice", false)
	first, _ := s.Push("alice", "app", "v1", "latest")
	second, _ := s.Push("alice", "app", "latest")
	vs := s.Versions("alice", "app")
	if len(vs) != 2 || vs[0].Digest != second || vs[1].Digest != first {
		t.Fatalf("versions %+v", vs)
	}
	if strings.Join(vs[0].Tags, ",") != "latest" || strings.Join(vs[1].Tags, ",") != "v1" {
		t.Errorf("latest should have moved: %+v", vs)
	}
}
