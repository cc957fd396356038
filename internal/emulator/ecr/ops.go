package ecr

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// handler runs one ECR operation on a decoded caller and the raw JSON body.
type handler func(s *Server, c caller, body []byte) (any, *apiError)

// ecrOps lists the operations the emulator implements; anything else is
// UnknownOperationException.
var ecrOps = map[string]handler{
	"DescribeRepositories":                describeRepositories,
	"CreateRepository":                    createRepository,
	"PutImageTagMutability":               putImageTagMutability,
	"PutImage":                            putImage,
	"DescribeImages":                      describeImages,
	"ListImages":                          listImages,
	"DescribePullThroughCacheRules":       describePullThroughCacheRules,
	"CreatePullThroughCacheRule":          createPullThroughCacheRule,
	"CreateRepositoryCreationTemplate":    createTemplate,
	"DescribeRepositoryCreationTemplates": describeTemplates,
	"UpdateRepositoryCreationTemplate":    updateTemplate,
}

// epoch is a timestamp on the wire: epoch seconds as a JSON number, with
// millisecond precision like the service.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', -1, 64), nil
}

type exclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

func filtersJSON(ex []string) []exclusionFilter {
	if len(ex) == 0 {
		return nil
	}
	out := make([]exclusionFilter, len(ex))
	for i, f := range ex {
		out[i] = exclusionFilter{FilterType: filterTypeWildcard, Filter: f}
	}
	return out
}

type scanningConfig struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryptionConfig struct {
	EncryptionType string `json:"encryptionType"`
	KmsKey         string `json:"kmsKey,omitempty"`
}

type repositoryJSON struct {
	RepositoryArn                      string            `json:"repositoryArn"`
	RegistryID                         string            `json:"registryId"`
	RepositoryName                     string            `json:"repositoryName"`
	RepositoryURI                      string            `json:"repositoryUri"`
	CreatedAt                          epoch             `json:"createdAt"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         scanningConfig    `json:"imageScanningConfiguration"`
	EncryptionConfiguration            encryptionConfig  `json:"encryptionConfiguration"`
}

func repoJSON(c caller, r *repository) repositoryJSON {
	return repositoryJSON{
		RepositoryArn:                      fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", c.region, c.account, r.name),
		RegistryID:                         c.account,
		RepositoryName:                     r.name,
		RepositoryURI:                      fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", c.account, c.region, r.name),
		CreatedAt:                          epoch(r.created),
		ImageTagMutability:                 r.mutability,
		ImageTagMutabilityExclusionFilters: filtersJSON(r.exclusions),
		EncryptionConfiguration:            encryptionConfig{EncryptionType: "AES256"},
	}
}

func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newErr(400, "SerializationException", "cannot decode request body: "+err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", jsonType)
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(http.StatusOK)
	_ = writeJSONBody(w, v)
}

func writeJSONBody(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// checkRegistry accepts an absent registryId or the caller's own. The
// emulator has no registry policies, so another account's registry is denied.
func checkRegistry(c caller, id *string) *apiError {
	if id == nil || *id == "" || *id == c.account {
		return nil
	}
	if !accountRE.MatchString(*id) {
		return newErr(400, "InvalidParameterException", "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''")
	}
	return newErr(400, "AccessDeniedException", fmt.Sprintf(
		"User: %s is not authorized to access registry %s because no resource-based policy allows it", c.arn(), *id))
}

// lookupRepo finds a repository of the caller's registry; s.mu must be held.
func (s *Server) lookupRepo(c caller, registryID *string, name string) (*repository, *apiError) {
	if e := checkRegistry(c, registryID); e != nil {
		return nil, e
	}
	r := s.reg(c.account, c.region).repos[name]
	if r == nil {
		return nil, repoNotFound(name, c.account)
	}
	return r, nil
}

func describeRepositories(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID      *string  `json:"registryId"`
		RepositoryNames []string `json:"repositoryNames"`
		NextToken       *string  `json:"nextToken"`
		MaxResults      *int     `json:"maxResults"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkRegistry(c, in.RegistryID); e != nil {
		return nil, e
	}
	type out struct {
		Repositories []repositoryJSON `json:"repositories"`
		NextToken    *string          `json:"nextToken,omitempty"`
	}
	if len(in.RepositoryNames) > 0 {
		if in.MaxResults != nil || in.NextToken != nil {
			return nil, newErr(400, "InvalidParameterException", "Invalid parameter: repositoryNames cannot be combined with maxResults or nextToken")
		}
		if len(in.RepositoryNames) > 100 {
			return nil, newErr(400, "InvalidParameterException", "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length less than or equal to 100'")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		res := out{Repositories: []repositoryJSON{}}
		for _, n := range in.RepositoryNames {
			r, e := s.lookupRepo(c, nil, n)
			if e != nil {
				return nil, e
			}
			res.Repositories = append(res.Repositories, repoJSON(c, r))
		}
		return res, nil
	}
	limit, e := s.pageLimit(in.MaxResults)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.reg(c.account, c.region)
	page, next, e := paginate("DescribeRepositories", slices.Collect(maps.Keys(g.repos)), in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	res := out{Repositories: make([]repositoryJSON, 0, len(page)), NextToken: next}
	for _, n := range page {
		res.Repositories = append(res.Repositories, repoJSON(c, g.repos[n]))
	}
	return res, nil
}

func createRepository(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID                         *string           `json:"registryId"`
		RepositoryName                     string            `json:"repositoryName"`
		ImageTagMutability                 string            `json:"imageTagMutability"`
		ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkRegistry(c, in.RegistryID); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, e := s.createRepository(c.account, c.region, in.RepositoryName, in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if e != nil {
		return nil, e
	}
	return struct {
		Repository repositoryJSON `json:"repository"`
	}{repoJSON(c, r)}, nil
}

type mutabilityJSON struct {
	RegistryID                         string            `json:"registryId"`
	RepositoryName                     string            `json:"repositoryName"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

func putImageTagMutability(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID                         *string           `json:"registryId"`
		RepositoryName                     string            `json:"repositoryName"`
		ImageTagMutability                 string            `json:"imageTagMutability"`
		ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	ex, e := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, e := s.lookupRepo(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	// The call replaces the whole setting: exclusions not sent are dropped.
	r.mutability, r.exclusions = in.ImageTagMutability, ex
	return mutabilityJSON{c.account, r.name, r.mutability, filtersJSON(r.exclusions)}, nil
}

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

func putImage(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID             *string `json:"registryId"`
		RepositoryName         string  `json:"repositoryName"`
		ImageManifest          string  `json:"imageManifest"`
		ImageManifestMediaType string  `json:"imageManifestMediaType"`
		ImageTag               *string `json:"imageTag"`
		ImageDigest            *string `json:"imageDigest"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if in.ImageManifest == "" || json.Unmarshal([]byte(in.ImageManifest), &m) != nil {
		return nil, newErr(400, "InvalidParameterException", "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
	}
	mediaType := in.ImageManifestMediaType
	if mediaType == "" {
		mediaType = m.MediaType
	}
	if mediaType == "" {
		return nil, newErr(400, "InvalidParameterException", "image manifest mediatype not provided in manifest or parameter")
	}
	sum := sha256.Sum256([]byte(in.ImageManifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if in.ImageDigest != nil && *in.ImageDigest != digest {
		return nil, newErr(400, "ImageDigestDoesNotMatchException", fmt.Sprintf(
			"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'the digest of the manifest is %s'", digest))
	}
	tag := ""
	if in.ImageTag != nil {
		tag = *in.ImageTag
		if tag == "" || len(tag) > 300 {
			return nil, newErr(400, "InvalidParameterException", "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must have length between 1 and 300'")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, e := s.lookupRepo(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	_, known := r.images[digest]
	if (tag != "" && r.tags[tag] == digest) || (tag == "" && known) {
		return nil, newErr(400, "ImageAlreadyExistsException", fmt.Sprintf(
			"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, tag, r.name, c.account))
	}
	if e := r.checkTag(tag, digest); e != nil {
		return nil, e
	}
	r.store(&image{digest: digest, manifest: in.ImageManifest, mediaType: mediaType, pushedAt: s.now()}, tag)
	return struct {
		Image any `json:"image"`
	}{struct {
		RegistryID             string  `json:"registryId"`
		RepositoryName         string  `json:"repositoryName"`
		ImageID                imageID `json:"imageId"`
		ImageManifest          string  `json:"imageManifest"`
		ImageManifestMediaType string  `json:"imageManifestMediaType"`
	}{c.account, r.name, imageID{digest, tag}, in.ImageManifest, mediaType}}, nil
}

// tagsByDigest inverts a repository's tag map, tags sorted.
func tagsByDigest(r *repository) map[string][]string {
	out := map[string][]string{}
	for t, d := range r.tags {
		out[d] = append(out[d], t)
	}
	for _, ts := range out {
		slices.Sort(ts)
	}
	return out
}

func tagStatusOK(status string) *apiError {
	switch status {
	case "", "TAGGED", "UNTAGGED", "ANY":
		return nil
	}
	return newErr(400, "InvalidParameterException", "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
}

func keepByStatus(status string, tagged bool) bool {
	switch status {
	case "TAGGED":
		return tagged
	case "UNTAGGED":
		return !tagged
	}
	return true
}

type imageFilter struct {
	TagStatus string `json:"tagStatus"`
}

func describeImages(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID     *string     `json:"registryId"`
		RepositoryName string      `json:"repositoryName"`
		ImageIDs       []imageID   `json:"imageIds"`
		NextToken      *string     `json:"nextToken"`
		MaxResults     *int        `json:"maxResults"`
		Filter         imageFilter `json:"filter"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tagStatusOK(in.Filter.TagStatus); e != nil {
		return nil, e
	}
	if len(in.ImageIDs) > 0 && (in.MaxResults != nil || in.NextToken != nil) {
		return nil, newErr(400, "InvalidParameterException", "Invalid parameter: imageIds cannot be combined with maxResults or nextToken")
	}
	limit, e := s.pageLimit(in.MaxResults)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, e := s.lookupRepo(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	tags := tagsByDigest(r)
	var digests []string
	var next *string
	if len(in.ImageIDs) > 0 {
		for _, id := range in.ImageIDs {
			d := id.ImageDigest
			if d == "" {
				d = r.tags[id.ImageTag]
			}
			if r.images[d] == nil {
				return nil, newErr(400, "ImageNotFoundException", fmt.Sprintf(
					"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					id.ImageDigest, id.ImageTag, r.name, c.account))
			}
			digests = append(digests, d)
		}
	} else {
		var keys []string
		for d := range r.images {
			if keepByStatus(in.Filter.TagStatus, len(tags[d]) > 0) {
				keys = append(keys, d)
			}
		}
		if digests, next, e = paginate("DescribeImages", keys, in.NextToken, limit); e != nil {
			return nil, e
		}
	}
	type detail struct {
		RegistryID             string   `json:"registryId"`
		RepositoryName         string   `json:"repositoryName"`
		ImageDigest            string   `json:"imageDigest"`
		ImageTags              []string `json:"imageTags,omitempty"`
		ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
		ImagePushedAt          epoch    `json:"imagePushedAt"`
		ImageManifestMediaType string   `json:"imageManifestMediaType,omitempty"`
		ImageStatus            string   `json:"imageStatus"`
	}
	details := make([]detail, 0, len(digests))
	for _, d := range digests {
		im := r.images[d]
		details = append(details, detail{c.account, r.name, d, tags[d], int64(len(im.manifest)) + 1024, epoch(im.pushedAt), im.mediaType, "ACTIVE"})
	}
	return struct {
		ImageDetails []detail `json:"imageDetails"`
		NextToken    *string  `json:"nextToken,omitempty"`
	}{details, next}, nil
}

func listImages(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID     *string     `json:"registryId"`
		RepositoryName string      `json:"repositoryName"`
		NextToken      *string     `json:"nextToken"`
		MaxResults     *int        `json:"maxResults"`
		Filter         imageFilter `json:"filter"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tagStatusOK(in.Filter.TagStatus); e != nil {
		return nil, e
	}
	limit, e := s.pageLimit(in.MaxResults)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, e := s.lookupRepo(c, in.RegistryID, in.RepositoryName)
	if e != nil {
		return nil, e
	}
	// One entry per tag, plus one per untagged image; the key orders them.
	var keys []string
	if keepByStatus(in.Filter.TagStatus, true) {
		for t, d := range r.tags {
			keys = append(keys, d+"\x00"+t)
		}
	}
	if keepByStatus(in.Filter.TagStatus, false) {
		tagged := tagsByDigest(r)
		for d := range r.images {
			if len(tagged[d]) == 0 {
				keys = append(keys, d+"\x00")
			}
		}
	}
	page, next, e := paginate("ListImages", keys, in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	ids := make([]imageID, 0, len(page))
	for _, k := range page {
		d, t, _ := strings.Cut(k, "\x00")
		ids = append(ids, imageID{d, t})
	}
	return struct {
		ImageIDs  []imageID `json:"imageIds"`
		NextToken *string   `json:"nextToken,omitempty"`
	}{ids, next}, nil
}

type ptcJSON struct {
	EcrRepositoryPrefix string `json:"ecrRepositoryPrefix"`
	UpstreamRegistryURL string `json:"upstreamRegistryUrl"`
	CreatedAt           epoch  `json:"createdAt"`
	RegistryID          string `json:"registryId"`
	UpstreamRegistry    string `json:"upstreamRegistry,omitempty"`
}

var upstreamRegistries = []string{"ecr", "ecr-public", "quay", "k8s", "docker-hub", "github-container-registry",
	"azure-container-registry", "gitlab-container-registry", "chainguard"}

func createPullThroughCacheRule(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID          *string `json:"registryId"`
		EcrRepositoryPrefix string  `json:"ecrRepositoryPrefix"`
		UpstreamRegistryURL string  `json:"upstreamRegistryUrl"`
		UpstreamRegistry    string  `json:"upstreamRegistry"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkRegistry(c, in.RegistryID); e != nil {
		return nil, e
	}
	if in.UpstreamRegistry != "" && !slices.Contains(upstreamRegistries, in.UpstreamRegistry) {
		return nil, newErr(400, "UnsupportedUpstreamRegistryException", "This feature is disabled for the specified upstream registry: "+in.UpstreamRegistry)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, e := s.createPTC(c.account, c.region, in.EcrRepositoryPrefix, in.UpstreamRegistryURL, in.UpstreamRegistry)
	if e != nil {
		return nil, e
	}
	return ptcJSON{p.prefix, p.upstreamURL, epoch(p.created), c.account, p.upstream}, nil
}

func describePullThroughCacheRules(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		RegistryID            *string  `json:"registryId"`
		EcrRepositoryPrefixes []string `json:"ecrRepositoryPrefixes"`
		NextToken             *string  `json:"nextToken"`
		MaxResults            *int     `json:"maxResults"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkRegistry(c, in.RegistryID); e != nil {
		return nil, e
	}
	limit, e := s.pageLimit(in.MaxResults)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.reg(c.account, c.region)
	keys := slices.Collect(maps.Keys(g.ptc))
	if len(in.EcrRepositoryPrefixes) > 0 {
		keys = keys[:0]
		for _, p := range in.EcrRepositoryPrefixes {
			if g.ptc[p] == nil {
				return nil, newErr(400, "PullThroughCacheRuleNotFoundException", fmt.Sprintf(
					"The pull through cache rule with prefix '%s' does not exist in the registry with id '%s'", p, c.account))
			}
			if !slices.Contains(keys, p) {
				keys = append(keys, p)
			}
		}
	}
	page, next, e := paginate("DescribePullThroughCacheRules", keys, in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	rules := make([]ptcJSON, 0, len(page))
	for _, k := range page {
		p := g.ptc[k]
		rules = append(rules, ptcJSON{p.prefix, p.upstreamURL, epoch(p.created), c.account, p.upstream})
	}
	return struct {
		PullThroughCacheRules []ptcJSON `json:"pullThroughCacheRules"`
		NextToken             *string   `json:"nextToken,omitempty"`
	}{rules, next}, nil
}

type templateJSON struct {
	Prefix                             string            `json:"prefix"`
	Description                        string            `json:"description,omitempty"`
	EncryptionConfiguration            encryptionConfig  `json:"encryptionConfiguration"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	AppliedFor                         []string          `json:"appliedFor"`
	CustomRoleArn                      string            `json:"customRoleArn,omitempty"`
	CreatedAt                          epoch             `json:"createdAt"`
	UpdatedAt                          epoch             `json:"updatedAt"`
}

func (t *template) json() templateJSON {
	return templateJSON{
		Prefix: t.prefix, Description: t.description, EncryptionConfiguration: encryptionConfig{EncryptionType: "AES256"},
		ImageTagMutability: t.mutability, ImageTagMutabilityExclusionFilters: filtersJSON(t.exclusions),
		AppliedFor: t.appliedFor, CustomRoleArn: t.customRole, CreatedAt: epoch(t.created), UpdatedAt: epoch(t.updated),
	}
}

type templateOut struct {
	RegistryID                 string       `json:"registryId"`
	RepositoryCreationTemplate templateJSON `json:"repositoryCreationTemplate"`
}

// templateIn is the writable part of a template (create and update).
type templateIn struct {
	Prefix                             string            `json:"prefix"`
	Description                        *string           `json:"description"`
	AppliedFor                         []string          `json:"appliedFor"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
	CustomRoleArn                      *string           `json:"customRoleArn"`
}

var appliedForValues = []string{"REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"}

func validationErr(format string, a ...any) *apiError {
	return newErr(400, "ValidationException", fmt.Sprintf(format, a...))
}

// validate checks in and returns the exclusions. An omitted mutability means
// MUTABLE, as the model documents for both create and update: a client that
// leaves it out on update loosens the template, which is what the emulator
// should expose rather than hide.
func (in *templateIn) validate(create bool) ([]string, *apiError) {
	if len(in.Prefix) < 1 || len(in.Prefix) > 256 || !prefixRE.MatchString(in.Prefix) {
		return nil, validationErr("1 validation error detected: Value '%s' at 'prefix' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", in.Prefix, prefixRE)
	}
	if (create || in.AppliedFor != nil) && len(in.AppliedFor) == 0 {
		return nil, validationErr("1 validation error detected: Value at 'appliedFor' failed to satisfy constraint: Member must not be empty")
	}
	for _, a := range in.AppliedFor {
		if !slices.Contains(appliedForValues, a) {
			return nil, validationErr("1 validation error detected: Value '%s' at 'appliedFor' failed to satisfy constraint: Member must satisfy enum value set: [%s]", a, strings.Join(appliedForValues, ", "))
		}
	}
	if in.Description != nil && len(*in.Description) > 256 {
		return nil, validationErr("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256")
	}
	if in.ImageTagMutability == "" {
		in.ImageTagMutability = Mutable
	}
	return validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
}

func dedupe(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func createTemplate(s *Server, c caller, body []byte) (any, *apiError) {
	var in templateIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	ex, e := in.validate(true)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.reg(c.account, c.region)
	if g.templates[in.Prefix] != nil {
		return nil, newErr(400, "TemplateAlreadyExistsException", fmt.Sprintf(
			"The repository creation template with prefix '%s' already exists in the registry with id '%s'", in.Prefix, c.account))
	}
	now := s.now()
	t := &template{prefix: in.Prefix, appliedFor: dedupe(in.AppliedFor), mutability: in.ImageTagMutability, exclusions: ex, created: now, updated: now}
	if in.Description != nil {
		t.description = *in.Description
	}
	if in.CustomRoleArn != nil {
		t.customRole = *in.CustomRoleArn
	}
	g.templates[in.Prefix] = t
	return templateOut{c.account, t.json()}, nil
}

func updateTemplate(s *Server, c caller, body []byte) (any, *apiError) {
	var in templateIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	ex, e := in.validate(false)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.reg(c.account, c.region).templates[in.Prefix]
	if t == nil {
		return nil, newErr(400, "TemplateNotFoundException", fmt.Sprintf(
			"The specified repository creation template with prefix '%s' does not exist in the registry with id '%s'", in.Prefix, c.account))
	}
	t.mutability, t.exclusions, t.updated = in.ImageTagMutability, ex, s.now()
	if in.AppliedFor != nil {
		t.appliedFor = dedupe(in.AppliedFor)
	}
	if in.Description != nil {
		t.description = *in.Description
	}
	if in.CustomRoleArn != nil {
		t.customRole = *in.CustomRoleArn
	}
	return templateOut{c.account, t.json()}, nil
}

func describeTemplates(s *Server, c caller, body []byte) (any, *apiError) {
	var in struct {
		Prefixes   []string `json:"prefixes"`
		NextToken  *string  `json:"nextToken"`
		MaxResults *int     `json:"maxResults"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	limit, e := s.pageLimit(in.MaxResults)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.reg(c.account, c.region)
	keys := slices.Collect(maps.Keys(g.templates))
	if len(in.Prefixes) > 0 {
		keys = slices.DeleteFunc(keys, func(k string) bool { return !slices.Contains(in.Prefixes, k) })
	}
	page, next, e := paginate("DescribeRepositoryCreationTemplates", keys, in.NextToken, limit)
	if e != nil {
		return nil, e
	}
	ts := make([]templateJSON, 0, len(page))
	for _, k := range page {
		ts = append(ts, g.templates[k].json())
	}
	return struct {
		RegistryID                  string         `json:"registryId"`
		RepositoryCreationTemplates []templateJSON `json:"repositoryCreationTemplates"`
		NextToken                   *string        `json:"nextToken,omitempty"`
	}{c.account, ts, next}, nil
}
