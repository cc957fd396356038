package config

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Select returns the providers named by --provider, in config order, or all
// of them when names is empty. A name with a wildcard (*, ?, [...], as in a
// shell: 'aws-*') selects every provider it matches. A name that matches no
// provider is an error that lists the configured ones, so a typo never
// silently audits nothing.
func (c *Config) Select(names []string) ([]Provider, error) {
	if len(names) == 0 {
		return slices.Clone(c.Providers), nil
	}
	picked := make([]bool, len(c.Providers))
	var unknown []string
	for _, n := range names {
		if slices.Contains(unknown, fmt.Sprintf("%q", n)) {
			continue
		}
		glob := strings.ContainsAny(n, "*?[")
		if glob {
			if _, err := path.Match(n, ""); err != nil {
				return nil, &Error{File: c.File, Key: "--provider", Msg: fmt.Sprintf("%q is not a valid pattern (*, ? and [...] as in a shell): %v", n, err)}
			}
		}
		found := false
		for i, p := range c.Providers {
			ok := p.Name == n
			if glob && !ok {
				ok, _ = path.Match(n, p.Name)
			}
			if ok {
				picked[i], found = true, true
			}
		}
		if !found {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		configured := make([]string, 0, len(c.Providers))
		for _, p := range c.Providers {
			configured = append(configured, p.Name)
		}
		noun := "provider"
		if len(unknown) > 1 {
			noun = "providers"
		}
		list := strings.Join(configured, ", ")
		if list == "" {
			list = "none"
		}
		return nil, &Error{File: c.File, Key: "--provider", Msg: fmt.Sprintf("unknown %s %s (configured: %s)", noun, strings.Join(unknown, ", "), list)}
	}
	var out []Provider
	for i, p := range c.Providers {
		if picked[i] {
			out = append(out, p)
		}
	}
	return out, nil
}
