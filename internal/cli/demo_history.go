package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
)

// demoSeededHistory asks the ledger, for each registry that keeps its own
// tag history, what a tag named at a moment before the demo started: an
// answer the first recorded audit imported from that history, since no scan
// of the demo's own saw it.
func demoSeededHistory(ctx context.Context, deps Deps, demos []emulator.Demo) error {
	store, err := deps.openLedger(ctx, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, d := range demos {
		so, ok := d.(emulator.SeededOverwrite)
		if !ok {
			continue
		}
		_, repo, tag, at := so.SeededOverwrite()
		ref := d.Provider().Name + "/" + repo + ":" + tag
		when := at.UTC().Format(time.RFC3339)
		fmt.Fprintf(deps.IO.Out, "\n$ immutag history %s --at %s\n", ref, when)
		if err := historyRun(ctx, &HistoryOptions{Deps: deps, Ref: ref, At: when, Format: "table"}); err != nil {
			return err
		}
		r, _ := ledger.ParseRef(ref)
		hs, err := store.History(ctx, r)
		if err != nil {
			return err
		}
		if len(hs) != 1 {
			return fmt.Errorf("the ledger has no history of %s", ref)
		}
		a := hs[0].DigestAt(at)
		if !a.Known || a.Interval.Source == ledger.SourceScan {
			return fmt.Errorf("the ledger does not know %s at %s from the registry's own history: %+v", ref, when, a)
		}
	}
	return nil
}

// demoBeforeNow prints, for every registry, what the tag the demo overwrote
// in step 2 named before and what it names now: the ledger knows it on each
// of them, from its two recorded audits where the registry keeps no history.
// The release tag is asked about where it existed before step 2, else the
// tag the demo moved in both push steps (latest).
func demoBeforeNow(ctx context.Context, deps Deps, demos []emulator.Demo, release func(emulator.Demo) string) error {
	store, err := deps.openLedger(ctx, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	var errs []error
	for _, d := range demos {
		_, repo, tag := d.OverwriteTarget()
		if d.Kind() == providers.KindArtifactRegistry {
			// Artifact Registry records images inside the repository; the
			// demo pushes the image named like its repository.
			repo += "/" + repo
		}
		var before, now *ledger.Interval
		var ref string
		for _, t := range []string{release(d), tag} {
			ref = d.Provider().Name + "/" + repo + ":" + t
			r, _ := ledger.ParseRef(ref)
			hs, err := store.History(ctx, r)
			if err != nil {
				return err
			}
			if before, now = beforeNow(hs); before != nil {
				break
			}
		}
		if before == nil {
			errs = append(errs, fmt.Errorf("the ledger does not show %s moving", ref))
			continue
		}
		fmt.Fprintf(deps.IO.Out, "  %-18s %-28s before %s (last seen %s, %s)  now %s\n", d.Provider().Name, strings.TrimPrefix(ref, d.Provider().Name+"/"),
			shortDigest(before.Digest), before.LastSeen.Local().Format(time.DateTime), before.Source, shortDigest(now.Digest))
	}
	return errors.Join(errs...)
}

// beforeNow finds a tag's current interval and the latest one before it
// that named another digest.
func beforeNow(hs []ledger.TagHistory) (before, now *ledger.Interval) {
	if len(hs) != 1 || len(hs[0].Intervals) == 0 {
		return nil, nil
	}
	iv := hs[0].Intervals
	now = &iv[len(iv)-1]
	for i := range iv {
		if iv[i].Current {
			now = &iv[i]
		}
	}
	for i := range iv {
		if iv[i].Digest != now.Digest && !iv[i].Current {
			before = &iv[i]
		}
	}
	return before, now
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
