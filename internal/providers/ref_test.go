package providers_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

type testRef struct {
	Project string   `json:"project"`
	ID      int64    `json:"id,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

func TestRefSurvivesJSON(t *testing.T) {
	c := providers.Change{Provider: "h", Kind: providers.KindHarbor, Scope: "library", Repository: "nginx"}
	want := testRef{Project: "library", ID: 7, Allowed: []string{"dev-*"}}
	if err := providers.SetRef(&c, want); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back providers.Change
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := providers.RefOf[testRef](back, providers.KindHarbor)
	if err != nil {
		t.Fatal(err)
	}
	if got.Project != want.Project || got.ID != want.ID || !slices.Equal(got.Allowed, want.Allowed) {
		t.Errorf("ref after JSON: %+v, want %+v", got, want)
	}
}

func TestRefOfRefusesWhatItCannotTrust(t *testing.T) {
	base := providers.Change{Provider: "h", Kind: providers.KindHarbor, Scope: "library", Repository: "nginx"}
	if err := providers.SetRef(&base, testRef{Project: "library"}); err != nil {
		t.Fatal(err)
	}
	noRef := base
	noRef.Ref = nil
	otherKind := base
	otherKind.Kind = providers.KindQuay
	unknown := base
	unknown.Ref = json.RawMessage(`{"project":"library","rule_ids":[1]}`)
	malformed := base
	malformed.Ref = json.RawMessage(`{"project":`)
	for name, tc := range map[string]struct {
		c    providers.Change
		want string
	}{
		"no ref":        {noRef, "has no ref"},
		"another kind":  {otherKind, `a "quay" change`},
		"unknown field": {unknown, "rule_ids"},
		"malformed":     {malformed, "ref:"},
	} {
		_, err := providers.RefOf[testRef](tc.c, providers.KindHarbor)
		if !errors.Is(err, providers.ErrBadRef) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "library/nginx") {
			t.Errorf("%s: %v, want ErrBadRef naming %q and the repository", name, err, tc.want)
		}
	}
}
