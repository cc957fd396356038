package ecr

import (
	"fmt"
	"regexp"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the ecr keys of a provider entry.
type Settings struct {
	// Regions to audit in every account (required).
	Regions []string `yaml:"regions,omitempty"`
	// RoleARNs are roles to assume, one account each, besides the caller's own.
	RoleARNs []string `yaml:"role_arns,omitempty"`
	// PullThroughCachePrefixes, when set (even to []), declares the
	// pull-through-cache rules' repository prefixes instead of reading them
	// with DescribePullThroughCacheRules: for audit roles that may not call it.
	PullThroughCachePrefixes []string `yaml:"pull_through_cache_prefixes,omitempty"`
}

var (
	// Region shape, not a list: new regions (il-central-1, eusc-de-east-1,
	// us-isob-east-1) must not need a release.
	regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	roleRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
)

// Spec is the ecr part of the config contract.
var Spec = &config.Spec{
	Kind:     providers.KindECR,
	Settings: func() any { return &Settings{} },
	// Credentials come from the SDK's default chain only, so a
	// credentials block would be ignored.
	SecretHint: func(string) string {
		return "AWS credentials come from the SDK's default chain (AWS_* environment variables, shared config, IAM roles)"
	},
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Regions) == 0 {
			return c.Errorf("regions", "missing; ecr needs at least one region, e.g. [us-east-1]")
		}
		for j, r := range s.Regions {
			if !regionRE.MatchString(r) {
				return c.Errorf(fmt.Sprintf("regions[%d]", j), "invalid region %q (want a region code such as us-east-1)", r)
			}
		}
		for j, a := range s.RoleARNs {
			if !roleRE.MatchString(a) {
				return c.Errorf(fmt.Sprintf("role_arns[%d]", j), "invalid role ARN %q (want arn:aws:iam::123456789012:role/NAME)", a)
			}
		}
		return nil
	},
}
