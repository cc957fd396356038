package config

import (
	"fmt"
	"slices"
	"strings"
)

// Select returns the providers named by --provider, in config order, or all
// of them when names is empty. An unknown name is an error that lists the
// configured ones, so a typo never silently audits nothing.
func (c *Config) Select(names []string) ([]Provider, error) {
	if len(names) == 0 {
		return slices.Clone(c.Providers), nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Provider
	for _, p := range c.Providers {
		if want[p.Name] {
			out = append(out, p)
			delete(want, p.Name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for _, n := range names {
			if want[n] {
				unknown = append(unknown, fmt.Sprintf("%q", n))
				delete(want, n)
			}
		}
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
	return out, nil
}
