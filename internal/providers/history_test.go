package providers_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

func TestLifetimesFromNewestFirstLog(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	var got []string
	l := providers.NewLifetimes("test-log", time.Time{}, func(tg providers.Tag) error {
		if tg.Source != "test-log" {
			t.Errorf("source %q", tg.Source)
		}
		end := "open"
		if !tg.Ended.IsZero() {
			end = tg.Ended.Format("15")
		}
		got = append(got, tg.Name+"="+tg.Digest+"@"+tg.Pushed.Format("15")+".."+end)
		return nil
	})
	steps := []func() error{
		func() error { return l.Push("v1", "sha256:c", h(9)) },    // current: yielded open, for its start
		func() error { return l.TagChanged("old", h(8)) },         // old deleted
		func() error { return l.DigestDeleted("sha256:x", h(7)) }, // x deleted
		func() error { return l.Push("v1", "sha256:b", h(5)) },    // b until c at 9
		func() error { return l.Push("old", "sha256:o", h(4)) },   // o until the delete at 8
		func() error { return l.Push("x", "sha256:x", h(3)) },     // x until its digest went at 7
		func() error { return l.Push("v1", "sha256:a", h(2)) },    // a until b at 5
		func() error { return l.Push("v1", "sha256:a", h(2)) },    // same instant again: nothing
		func() error { return l.Push("gone", "sha256:x", h(1)) },  // its digest deleted at 7: not current
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := "v1=sha256:c@09..open,v1=sha256:b@05..09,old=sha256:o@04..08,x=sha256:x@03..07,v1=sha256:a@02..05,gone=sha256:x@01..07"
	if strings.Join(got, ",") != want {
		t.Fatalf("lifetimes\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if err := l.Push("v1", "sha256:z", h(6)); err == nil || !strings.Contains(err.Error(), "newest first") {
		t.Fatalf("an older-first event was accepted: %v", err)
	}
}

type logEvent struct {
	kind        byte // 'p' push, 't' tag changed, 'd' digest deleted, 'r' repository deleted
	tag, digest string
	at          time.Time
}

// readLog replays log (newest first) as an adapter does, page events at a
// time, stopping between pages once Lifetimes.Done allows. It returns the
// lifetimes yielded, how many events it read and the newest event's time.
func readLog(t *testing.T, log []logEvent, since time.Time, page int) (map[string]bool, int, time.Time) {
	t.Helper()
	got := map[string]bool{}
	l := providers.NewLifetimes("log", since, func(tg providers.Tag) error {
		got[tg.Name+"="+tg.Digest+"@"+tg.Pushed.Format(time.RFC3339)+".."+tg.Ended.Format(time.RFC3339)] = true
		return nil
	})
	read := 0
	for i, e := range log {
		if i > 0 && i%page == 0 && l.Done() {
			break
		}
		read++
		var err error
		switch e.kind {
		case 'p':
			err = l.Push(e.tag, e.digest, e.at)
		case 't':
			err = l.TagChanged(e.tag, e.at)
		case 'd':
			err = l.DigestDeleted(e.digest, e.at)
		case 'r':
			err = l.RepositoryDeleted(e.at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return got, read, l.Newest()
}

func newestFirst(log []logEvent) []logEvent {
	out := slices.Clone(log)
	slices.Reverse(out)
	return out
}

// TestIncrementalReadAddsWhatAFullReadWould: an import that starts from the
// newest event of the one before yields, together with that earlier import,
// every lifetime one read of the whole log yields, on random logs
// that include ties, deletions and events the log recorded late (within
// HistoryOverlap of the earlier import's newest).
func TestIncrementalReadAddsWhatAFullReadWould(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 13))
	tags, digests := []string{"a", "b", "c"}, []string{"sha256:1", "sha256:2", "sha256:3", "sha256:4", ""}
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	shorter := 0
	for trial := range 5000 {
		n := 1 + rng.IntN(40)
		log := make([]logEvent, n) // oldest first
		at := t0
		for i := range log {
			at = at.Add(time.Duration(rng.IntN(50)) * time.Minute)
			e := logEvent{kind: 'p', tag: tags[rng.IntN(len(tags))], digest: digests[rng.IntN(len(digests))], at: at}
			switch k := rng.IntN(20); {
			case k < 3:
				e.kind = 't'
			case k == 3:
				e.kind = 'd'
			case k == 4:
				e.kind = 'r'
			}
			log[i] = e
		}
		split := rng.IntN(n + 1)
		// What the earlier import saw: the events up to split, less some
		// that the registry only wrote to its log later.
		var seen []logEvent
		for i, e := range log[:split] {
			late := split > 0 && i < split-1 && e.at.After(log[split-1].at.Add(-providers.HistoryOverlap/2)) && rng.IntN(3) == 0
			if !late {
				seen = append(seen, e)
			}
		}
		full, fullRead, _ := readLog(t, newestFirst(log), time.Time{}, 1)
		prev, _, since := readLog(t, newestFirst(seen), time.Time{}, 1)
		inc, incRead, _ := readLog(t, newestFirst(log), since, 1+rng.IntN(5))
		// Every lifetime of the full read is in one of the two imports, and
		// the new one yields nothing the full read would not. (The earlier
		// import may hold a lifetime the full read derives differently: one
		// a late event ended sooner. The ledger merges the two.)
		for l := range full {
			if !prev[l] && !inc[l] {
				t.Fatalf("trial %d: log %v, earlier import saw %d events (newest %v)\nfull read %v\nlacks %s\nearlier %v\nnew %v",
					trial, log, len(seen), since, slices.Sorted(maps.Keys(full)), l, slices.Sorted(maps.Keys(prev)), slices.Sorted(maps.Keys(inc)))
			}
		}
		for l := range inc {
			if !full[l] {
				t.Fatalf("trial %d: the incremental read yielded %s, which the full read does not", trial, l)
			}
		}
		if incRead < fullRead {
			shorter++
		}
	}
	// The point of it: reads stop early (deletions, frequent in these
	// logs, make one read to the end).
	if shorter < 500 {
		t.Fatalf("only %d of 5000 incremental reads stopped before the end of the log", shorter)
	}
}

// TestIncrementalReadOfAnHourlyTag: a tag pushed every hour for a year,
// imported once, then two more pushes: the next import reads the new
// events, the hour of overlap and the push before them, not the year.
func TestIncrementalReadOfAnHourlyTag(t *testing.T) {
	t0 := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	var log []logEvent
	for i := range 24 * 365 {
		log = append(log, logEvent{kind: 'p', tag: "latest", digest: fmt.Sprintf("sha256:%d", i), at: t0.Add(time.Duration(i) * time.Hour)})
	}
	first, _, since := readLog(t, newestFirst(log), time.Time{}, 100)
	if len(first) != len(log) {
		t.Fatalf("first import: %d lifetimes, want %d (the current one open)", len(first), len(log))
	}
	end := log[len(log)-1].at
	log = append(log, logEvent{kind: 'p', tag: "latest", digest: "sha256:new1", at: end.Add(20 * time.Minute)},
		logEvent{kind: 'p', tag: "latest", digest: "sha256:new2", at: end.Add(40 * time.Minute)})
	got, read, newest := readLog(t, newestFirst(log), since, 100)
	if read > 100 {
		t.Errorf("the second import read %d events, want one page", read)
	}
	if !newest.Equal(end.Add(40 * time.Minute)) {
		t.Errorf("newest = %v", newest)
	}
	for _, want := range []string{
		"latest=sha256:" + strconv.Itoa(len(log)-3) + "@" + end.Format(time.RFC3339) + ".." + end.Add(20*time.Minute).Format(time.RFC3339),
		"latest=sha256:new1@" + end.Add(20*time.Minute).Format(time.RFC3339) + ".." + end.Add(40*time.Minute).Format(time.RFC3339),
		"latest=sha256:new2@" + end.Add(40*time.Minute).Format(time.RFC3339) + ".." + time.Time{}.Format(time.RFC3339),
	} {
		if !got[want] {
			t.Errorf("the second import did not yield %s: %v", want, slices.Sorted(maps.Keys(got)))
		}
	}
}
