resource "harbor_project" "bare" {
  name = "bare"
}

resource "harbor_project" "ruled" {
  name = "ruled"
}

resource "harbor_immutable_tag_rule" "all" {
  project_id    = harbor_project.ruled.id
  repo_matching = "**"
  tag_matching  = "**"
}

resource "harbor_project" "partial" {
  name = "partial"
}

resource "harbor_immutable_tag_rule" "releases" {
  project_id    = harbor_project.partial.id
  repo_matching = "**"
  tag_matching  = "v*"
}

resource "harbor_immutable_tag_rule" "off" {
  project_id   = harbor_project.partial.id
  disabled     = true
  tag_matching = "**"
}

resource "harbor_project" "proxy" {
  name        = "dockerhub-proxy"
  registry_id = 3
}

resource "docker_hub_repository" "managed" {
  namespace = "acme"
  name      = "managed"
}

resource "docker_hub_repository_immutable_tags" "managed" {
  namespace = docker_hub_repository.managed.namespace
  name      = docker_hub_repository.managed.name
  enabled   = true
}

resource "docker_hub_repository_immutable_tags" "some" {
  namespace = "acme"
  name      = "legacy"
  enabled   = true
  rules     = ["latest", "v[0-9]+.*"]
}

resource "docker_hub_repository_immutable_tags" "disabled" {
  namespace = "acme"
  name      = "old"
}

resource "gitlab_project_container_tag_protection" "immutable" {
  project        = "group/app"
  tag_name_regex = ".*"
  immutable      = true
}

# Rules add up per project: this one is covered by "immutable".
resource "gitlab_project_container_tag_protection" "app_protected" {
  project                         = "group/app"
  tag_name_regex                  = "^v.*"
  minimum_access_level_for_push   = "maintainer"
  minimum_access_level_for_delete = "maintainer"
}

resource "gitlab_project_container_tag_protection" "releases" {
  project        = "group/lib"
  tag_name_regex = "^v[0-9]+$"
  immutable      = true
}

resource "gitlab_project_container_tag_protection" "protected" {
  project                         = "group/lib"
  tag_name_regex                  = ".*"
  minimum_access_level_for_push   = "maintainer"
  minimum_access_level_for_delete = "maintainer"
}

resource "aws_ecr_repository_creation_template" "root" {
  prefix               = "ROOT"
  applied_for          = ["CREATE_ON_PUSH"]
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository_creation_template" "team" {
  prefix      = "team"
  applied_for = ["PULL_THROUGH_CACHE"]
}

resource "azurerm_container_registry" "acr" {
  name                = "acme"
  resource_group_name = "rg"
  location            = "westeurope"
  sku                 = "Premium"
}

resource "harbor_project" "covered" {
  name = "covered"
}

resource "harbor_immutable_tag_rule" "covered_all" {
  project_id   = harbor_project.covered.id
  tag_matching = "**"
}

resource "harbor_immutable_tag_rule" "covered_releases" {
  project_id   = harbor_project.covered.id
  tag_matching = "v*"
}
