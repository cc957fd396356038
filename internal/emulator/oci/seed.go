package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// seedBase is one small image whose blobs every seeded manifest shares:
// the in-memory registry stores blobs by digest for all repositories, so a
// large generated estate costs one manifest per tag.
type seedBase struct {
	once     sync.Once
	manifest map[string]any
	err      error
}

// Seed stores an image manifest as repo:tag directly in the registry (no
// network, no auth), for the large estates the sandbox generates. Each call
// writes a distinct manifest (its annotations name repo and tag) that
// shares the blobs of one small image. It returns the manifest digest.
func (s *Server) Seed(repo, tag string) (string, error) {
	s.base.once.Do(func() { s.base.manifest, s.base.err = s.seedBlobs(repo) })
	if s.base.err != nil {
		return "", s.base.err
	}
	m := map[string]any{}
	for k, v := range s.base.manifest {
		m[k] = v
	}
	m["annotations"] = map[string]string{"org.immutag.seed": repo + ":" + tag}
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	mt, _ := m["mediaType"].(string)
	if mt == "" {
		mt = "application/vnd.docker.distribution.manifest.v2+json"
	}
	rec := s.direct(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, mt, body)
	if rec.Code != http.StatusCreated {
		return "", fmt.Errorf("seed %s:%s: %d %s", repo, tag, rec.Code, rec.Body.String())
	}
	s.mu.Lock()
	s.repos[repo] = struct{}{}
	s.mu.Unlock()
	return rec.Header().Get("Docker-Content-Digest"), nil
}

// seedBlobs uploads one random image's config and layer and returns its
// manifest as a map.
func (s *Server) seedBlobs(repo string) (map[string]any, error) {
	img, err := random.Image(64, 1)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	blobs := map[v1.Hash][]byte{cfgName: cfg}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		blobs[d] = b.Bytes()
	}
	for d, b := range blobs {
		rec := s.direct(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "application/octet-stream", b)
		if rec.Code != http.StatusCreated {
			return nil, fmt.Errorf("seed blob %s: %d %s", d, rec.Code, rec.Body.String())
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(raw, &m)
}

// direct serves one request with the in-memory registry itself.
func (s *Server) direct(method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://registry.invalid"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, req)
	return rec
}
