package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestEachJSONIsMarshal: EachJSON hands over exactly json.Marshal's bytes
// for every item, long ones (past the reader's buffer) included, from the
// file and from memory.
func TestEachJSONIsMarshal(t *testing.T) {
	items := []Finding{{ID: "a", Reason: "short"}, {ID: "b", Reason: strings.Repeat("x", 200<<10)}, {ID: "c", Note: "<&>"}}
	for _, s := range []*Spool[Finding]{SpoolOf(items...), {mem: items, n: len(items)}} {
		var i int
		err := s.EachJSON(func(b []byte) error {
			want, _ := json.Marshal(items[i])
			if !bytes.Equal(b, want) {
				t.Errorf("item %d: %d bytes, want json.Marshal's %d", i, len(b), len(want))
			}
			i++
			return nil
		})
		if err != nil || i != len(items) {
			t.Fatalf("EachJSON: %d items, %v", i, err)
		}
		s.Close()
	}
}
