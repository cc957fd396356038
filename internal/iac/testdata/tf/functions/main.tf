locals {
  config = yamldecode(file("${path.module}/repos.yaml"))
  repos  = { for r in local.config.repositories : r.name => r }
}

resource "aws_ecr_repository" "this" {
  for_each             = local.repos
  name                 = each.key
  image_tag_mutability = startswith(each.key, "dev-") ? "MUTABLE" : "IMMUTABLE"
}

resource "aws_ecr_repository" "locked" {
  count                = alltrue([for r in local.config.repositories : try(r.locked, false)]) ? 0 : 1
  name                 = one([for r in local.config.repositories : r.name if strcontains(r.name, "work")])
  image_tag_mutability = "IMMUTABLE"
}

# A file outside the directory the scan runs in is not read.
resource "aws_ecr_repository" "outside" {
  name                 = trimspace(file("../../../../../go.mod"))
  image_tag_mutability = "IMMUTABLE"
}

module "team" {
  source = "./modules/team"
}
