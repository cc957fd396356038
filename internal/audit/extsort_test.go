package audit

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

func TestSortSpoolMergesRunsStably(t *testing.T) {
	type item struct{ K, Seq int }
	r := rand.New(rand.NewPCG(1, 2))
	var in []item
	for i := range 3001 {
		in = append(in, item{K: r.IntN(500), Seq: i})
	}
	for _, runLen := range []int{50, 1000, 20000} {
		s, err := SortSpool(func(a, b item) int { return cmp.Compare(a.K, b.K) }, runLen, func(add func(item) error) error {
			for _, v := range in {
				if err := add(v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := s.All()
		s.Close()
		want := slices.Clone(in)
		slices.SortStableFunc(want, func(a, b item) int { return cmp.Compare(a.K, b.K) })
		if !slices.Equal(got, want) {
			t.Errorf("runLen %d: order differs from a stable in-memory sort (%d items, want %d)", runLen, len(got), len(want))
		}
	}
}

func TestShardOwnershipPartitions(t *testing.T) {
	const n = 4
	counts := make([]int, n)
	for i := range 4000 {
		name := "repo-" + string(rune('a'+i%26)) + "-" + string(rune('0'+i%10)) + "-" + itoa(i)
		owners := 0
		for s := range n {
			if (Shard{Index: s, Count: n}).OwnsRepository("p", "scope", name) {
				owners++
				counts[s]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s has %d owners", name, owners)
		}
	}
	for s, c := range counts {
		// 1000 expected per shard; a hash this far off would mean a bug.
		if c < 800 || c > 1200 {
			t.Errorf("shard %d owns %d of 4000 repositories: %v", s, c, counts)
		}
	}
}

func itoa(i int) string {
	return string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

// A plan too large to sort in memory is still applied and reported in the
// stable order.
func TestLargePlanInStableOrder(t *testing.T) {
	p := NewPlan()
	defer p.Close()
	n := planSortLimit + 57
	for i := n - 1; i >= 0; i-- {
		c := PlannedChange{Change: providers.Change{Provider: "p", Scope: "s", Repository: fmt.Sprintf("r%06d", i), Writes: 1}}
		if err := p.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	prev, count := "", 0
	err := p.Each(func(c PlannedChange) error {
		if c.Change.Repository <= prev {
			return fmt.Errorf("%s after %s", c.Change.Repository, prev)
		}
		prev = c.Change.Repository
		count++
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("order: %v (%d of %d changes)", err, count, n)
	}
}
