# Repositories created through public modules that terraform init has
# not downloaded: read from the calls' inputs and the modules' defaults.

module "api" {
  source  = "terraform-aws-modules/ecr/aws"
  version = "~> 2.0"

  repository_name                 = "shop/api"
  repository_image_tag_mutability = "MUTABLE"
}

# The module's own default (IMMUTABLE).
module "web" {
  source          = "terraform-aws-modules/ecr/aws"
  repository_name = "shop/web"
}

module "per_team" {
  source   = "terraform-aws-modules/ecr/aws"
  for_each = toset(["red", "blue"])

  repository_name                 = "team/${each.key}"
  repository_image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
  repository_image_tag_mutability_exclusion_filter = [
    { filter = "latest", filter_type = "WILDCARD" },
  ]
}

# Public repositories have no tag immutability; create = false only
# manages an existing repository's policies.
module "public" {
  source          = "terraform-aws-modules/ecr/aws"
  repository_type = "public"
  repository_name = "shop/public"
}

module "policies_only" {
  source            = "terraform-aws-modules/ecr/aws"
  create_repository = false
  repository_name   = "shop/existing"
}

# cloudposse/ecr defaulted to MUTABLE before 0.31.0: the release the
# constraint installs decides.
module "legacy" {
  source      = "cloudposse/ecr/aws"
  version     = "~> 0.30.0"
  image_names = ["legacy/a", "legacy/b"]
}

module "current" {
  source      = "registry.terraform.io/cloudposse/ecr/aws"
  version     = ">= 0.31"
  image_names = ["current/a"]
}

module "unpinned_git" {
  source      = "git::https://github.com/cloudposse/terraform-aws-ecr.git"
  image_names = ["git/a"]
}

module "lgallard" {
  source = "git::https://github.com/lgallard/terraform-aws-ecr.git?ref=0.6.0"
  name   = "shop/worker"
}
