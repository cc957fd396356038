package acr

import (
	"testing"

	"github.com/immutag/immutag/internal/config"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/testutil"
)

func TestLockTagLocksOnlyThatTagAndIsIdempotent(t *testing.T) {
	s := newEmu(t, emu.Options{SKU: "Premium"})
	s.AddTag("team/app", "v1", false)
	s.AddTag("team/app", "v2", false)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 1000}}})

	j := &testutil.Observer{}
	res, err := p.LockTag(t.Context(), s.LoginServer(), "team/app", "v2", j)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Writes != 1 {
		t.Fatalf("result %+v", res)
	}
	if tg, _ := s.Tag("team/app", "v2"); !tg.Locked() || tg.DeleteEnabled {
		t.Fatalf("v2 not locked: %+v", tg)
	}
	if tg, _ := s.Tag("team/app", "v1"); tg.Locked() {
		t.Fatal("v1 was locked too")
	}
	if recs := j.Records(); len(recs) != 1 || recs[0].Target != "v2" || recs[0].Call != "UpdateTagProperties" || recs[0].Err != "" {
		t.Fatalf("journal %+v", recs)
	}
	// Already locked: verified with no write.
	patches := s.Calls().Get("PATCH tag")
	res, err = p.LockTag(t.Context(), s.LoginServer(), "team/app", "v2", j)
	if err != nil || !res.Verified || res.Writes != 0 || s.Calls().Get("PATCH tag") != patches {
		t.Fatalf("second lock: %+v %v", res, err)
	}
	if _, err := p.LockTag(t.Context(), s.LoginServer(), "team/app", "missing", j); err == nil {
		t.Fatal("missing tag locked")
	}
	if _, err := p.LockTag(t.Context(), "other.azurecr.io", "team/app", "v1", j); err == nil {
		t.Fatal("unconfigured registry accepted")
	}
}
