package providers

import "testing"

func TestTagMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, tag string
		want         bool
	}{
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"latest", "xlatest", false},
		{" latest ", "latest", true},
		{"dev-*", "dev-", true},
		{"dev-*", "dev-abc", true},
		{"dev-*", "prod-dev-abc", false},
		{"*-rc", "1.0-rc", true},
		{"*-rc", "1.0-rc1", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"ab*ba", "aba", false},
		{"*", "anything", true},
		{"", "", false},
		{"v1.*", "v1x2", false},
	} {
		if got := TagMatches(tc.pattern, tc.tag); got != tc.want {
			t.Errorf("TagMatches(%q, %q) = %v, want %v", tc.pattern, tc.tag, got, tc.want)
		}
	}
}
