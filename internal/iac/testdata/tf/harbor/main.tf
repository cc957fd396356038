resource "harbor_registry" "hub" {
  provider_name = "docker-hub"
  name          = "hub"
  endpoint_url  = "https://hub.docker.com"
}

data "harbor_registry" "quay" {
  name = "quay"
}

resource "harbor_project" "hub_cache" {
  name        = "hub-cache"
  registry_id = harbor_registry.hub.registry_id
}

resource "harbor_project" "quay_cache" {
  name        = "quay-cache"
  registry_id = data.harbor_registry.quay.registry_id
}

variable "teams" {
  type    = set(string)
  default = ["red", "blue"]
}

resource "harbor_project" "team" {
  for_each = var.teams
  name     = each.key
}

resource "harbor_immutable_tag_rule" "team" {
  for_each      = harbor_project.team
  project_id    = each.value.id
  repo_matching = "**"
  tag_matching  = "**"
}

resource "harbor_project" "counted" {
  count = 2
  name  = "counted-${count.index}"
}

resource "harbor_immutable_tag_rule" "counted" {
  count         = length(harbor_project.counted)
  project_id    = harbor_project.counted[count.index].id
  repo_matching = "**"
  tag_matching  = "v*"
}

locals {
  shared_project = harbor_project.shared.id
}

resource "harbor_project" "shared" {
  name = "shared"
}

resource "harbor_immutable_tag_rule" "shared" {
  project_id    = local.shared_project
  repo_matching = "**"
  tag_matching  = "**"
}
