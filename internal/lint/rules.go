package lint

// Rule ids (stable: they appear in reports, SARIF and ignore comments).
const (
	RuleMetadataAutoLatest   = "metadata-auto-latest"
	RuleMetadataLatestTrue   = "metadata-latest-true"
	RuleExplicitLatest       = "explicit-latest"
	RuleImplicitLatest       = "implicit-latest"
	RuleDisabledLatestNoVeto = "disabled-latest-no-veto"
	RuleMutableTag           = "mutable-tag"
	RuleInvalidSuppression   = "invalid-suppression"
	RuleInvalidWorkflow      = "invalid-workflow"
	RuleMutableDeploy        = "mutable-deploy"
)

// Rule describes one check.
type Rule struct {
	ID       string
	Name     string // PascalCase, for SARIF
	Severity Severity
	// SecuritySeverity is GitHub code scanning's 0.1-10 score.
	SecuritySeverity string
	Short            string
	Full             string
	Help             string
}

var rules = []Rule{
	{
		ID: RuleMetadataAutoLatest, Name: "MetadataActionAutoLatest", Severity: SeverityError, SecuritySeverity: "7.0",
		Short: "docker/metadata-action emits latest on git tag builds",
		Full: "docker/metadata-action's flavor latest is auto (the default) and a tag entry that decides " +
			"latest on tag builds (type=ref,event=tag, type=semver, type=pep440, type=match, or no tags input, " +
			"whose defaults include type=ref,event=tag) comes first by priority. Every release tag build, " +
			"backports and (for ref/match) prereleases included, then moves latest.",
		Help: "Add latest=false to the action's flavor input. Only flavor latest=false stops auto latest; " +
			"a disabled type=raw,value=latest entry does not.",
	},
	{
		ID: RuleMetadataLatestTrue, Name: "MetadataActionLatestTrue", Severity: SeverityError, SecuritySeverity: "7.0",
		Short: "docker/metadata-action flavor latest=true",
		Full: "flavor latest=true (or an expression that can render true) adds latest to every run that " +
			"produces a tag, branch and pull-request builds included.",
		Help: "Set latest=false in the flavor input and push immutable tags (semver, sha) only.",
	},
	{
		ID: RuleExplicitLatest, Name: "ExplicitLatestTag", Severity: SeverityError, SecuritySeverity: "7.0",
		Short: "workflow pushes the tag latest",
		Full: "The workflow pushes a tag named latest (type=raw,value=latest, :latest in build-push-action tags, " +
			"docker push/tag/imagetools with :latest). latest is moved by every run, so it names no particular " +
			"image, and a registry with immutable tags rejects the second push.",
		Help: "Remove the latest tag and push an immutable tag (a version or the commit sha) instead.",
	},
	{
		ID: RuleImplicitLatest, Name: "ImplicitLatestTag", Severity: SeverityError, SecuritySeverity: "7.0",
		Short: "image reference without a tag pushes latest",
		Full: "An image reference with no tag and no digest is normalised to :latest, so pushing it " +
			"(build-push-action tags, docker push, docker tag, docker buildx imagetools create -t, " +
			"docker build --push -t) pushes the tag latest.",
		Help: "Give every pushed reference an explicit immutable tag, e.g. the commit sha.",
	},
	{
		ID: RuleDisabledLatestNoVeto, Name: "DisabledLatestIsNoVeto", Severity: SeverityWarning, SecuritySeverity: "5.0",
		Short: "type=raw,value=latest,enable=false does not stop latest",
		Full: "docker/metadata-action skips disabled entries outright, so type=raw,value=latest,enable=false " +
			"vetoes nothing: auto latest still comes from semver, pep440, match and ref,event=tag entries. " +
			"Reported as an error when such an entry exists, as a warning otherwise.",
		Help: "Set latest=false in the flavor input; the disabled raw entry can then be deleted.",
	},
	{
		ID: RuleMutableTag, Name: "MutableRollingTag", Severity: SeverityWarning, SecuritySeverity: "4.0",
		Short: "workflow pushes a rolling tag",
		Full: "The workflow pushes a tag that is moved by design (configurable with --mutable-tags; " +
			"default dev, main, stable, edge). It fails against immutable repositories and names no particular image.",
		Help: "Push immutable tags only, or exempt this tag pattern in the registry's immutability rules " +
			"and in policy.mutable_tags_allowed.",
	},
	{
		ID: RuleMutableDeploy, Name: "DeployByMutableTag", Severity: SeverityWarning, SecuritySeverity: "5.0",
		Short: "pipeline deploys an image by a mutable tag",
		Full: "A deploy step names the image by latest, no tag, a rolling tag or the branch name (kubectl set image or create deployment, " +
			"gcloud run deploy --image, az webapp/containerapp --image, helm --set image.tag=, aws lambda --image-uri, " +
			"docker service update --image, deploy-cloudrun, webapps-deploy, k8s-deploy, ECS task definitions). " +
			"What runs is whatever the tag points at when the platform pulls it, and redeploying the same tag is no rollback. " +
			"Reported as an error for latest or no tag, as a warning otherwise.",
		Help: "Deploy by digest (image@sha256:...) or by the immutable tag the pipeline pushed (the commit sha).",
	},
	{
		ID: RuleInvalidSuppression, Name: "InvalidSuppression", Severity: SeverityWarning, SecuritySeverity: "3.0",
		Short: "ignore comment without a reason or with an unknown rule",
		Full: "An immutag-lint ignore comment must name known rule ids and give a reason after a colon: " +
			"# immutag-lint ignore <rule-id>[,<rule-id>]: <reason>. A comment without one suppresses nothing.",
		Help: "Add the reason after a colon, or fix the rule id.",
	},
	{
		ID: RuleInvalidWorkflow, Name: "InvalidWorkflow", Severity: SeverityError, SecuritySeverity: "5.0",
		Short: "workflow GitHub would reject",
		Full: "The workflow is valid YAML but not a workflow GitHub Actions accepts (a key defined twice in one " +
			"mapping, such as an event under on:, or no jobs), so none of its pushes run as written and it is " +
			"not linted as if they did.",
		Help: "Merge the duplicate keys into one, or add the jobs the workflow is meant to run.",
	},
}

// Rules returns every rule, in a stable order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// RuleByID looks a rule up by its id.
func RuleByID(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
