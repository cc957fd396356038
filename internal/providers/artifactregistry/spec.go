package artifactregistry

import (
	"net"
	"net/url"
	"strings"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the artifactregistry keys of a provider entry.
type Settings struct {
	// Projects are GCP project ids (required).
	Projects []string `yaml:"projects,omitempty"`
	// Locations limit the audit; empty means every location of each project.
	Locations []string `yaml:"locations,omitempty"`
}

// Spec is the artifactregistry part of the config contract.
var Spec = &config.Spec{
	Kind:     providers.KindArtifactRegistry,
	Settings: func() any { return &Settings{} },
	// Credentials come from Application Default Credentials only.
	SecretHint: func(string) string {
		return "Google credentials come from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity)"
	},
	Endpoint: endpointProblem,
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Projects) == 0 {
			return c.Errorf("projects", "missing; artifactregistry needs at least one GCP project id")
		}
		return nil
	},
}

// endpointProblem accepts what gRPC dials: host:port
// (artifactregistry.googleapis.com:443, or an emulator's 127.0.0.1:PORT),
// or an http(s) URL without a path.
func endpointProblem(raw string) string {
	const want = "want host:port (such as artifactregistry.googleapis.com:443) or an http(s) URL"
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/@ \t") {
			return want
		}
		host := raw
		if h, _, err := net.SplitHostPort(raw); err == nil {
			host = h
		}
		if host == "" {
			return want
		}
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return want
	}
	if u.User != nil {
		return config.URLCredentialsRefused
	}
	if config.URLQueryProblem(u) {
		return config.URLQueryRefused
	}
	if u.Path != "" && u.Path != "/" {
		return "a gRPC endpoint has no path; want host:port or http(s)://host:port"
	}
	return ""
}
