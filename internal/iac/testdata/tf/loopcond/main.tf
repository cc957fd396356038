# Settings chosen per repository by a conditional on the loop variable.
variable "repositories" {
  type = map(object({
    immutable = optional(bool, true)
    ecr       = optional(object({ mutable = optional(bool, false) }), {})
  }))
}

variable "repos" {
  type = list(object({ name = string, mutable = bool }))
  default = [
    { name = "a", mutable = false },
    { name = "b", mutable = true },
  ]
}

variable "later" {
  type = map(object({ immutable = bool }))
}

resource "aws_ecr_repository" "each" {
  for_each             = var.repositories
  name                 = each.key
  image_tag_mutability = each.value.immutable ? "IMMUTABLE" : "MUTABLE"
}

resource "aws_ecr_repository" "deep" {
  for_each             = var.repositories
  name                 = "deep-${each.key}"
  image_tag_mutability = try(each.value.ecr.mutable, false) ? "MUTABLE" : "IMMUTABLE"
}

resource "aws_ecr_repository" "listed" {
  count                = length(var.repos)
  name                 = var.repos[count.index].name
  image_tag_mutability = [for r in var.repos : r.mutable ? "MUTABLE" : "IMMUTABLE"][count.index]
}

resource "aws_ecr_repository" "keyed" {
  for_each             = { for r in var.repos : r.name => r.mutable ? "MUTABLE" : "IMMUTABLE" }
  name                 = "keyed-${each.key}"
  image_tag_mutability = each.value
}

resource "google_artifact_registry_repository" "images" {
  for_each      = var.repositories
  repository_id = each.key
  format        = "DOCKER"
  location      = "europe-west1"
  dynamic "docker_config" {
    for_each = each.value.immutable ? [1] : []
    content {
      immutable_tags = true
    }
  }
}

# Only known when applied: one finding, unknown, never compliant.
resource "aws_ecr_repository" "later" {
  for_each             = var.later
  name                 = each.key
  image_tag_mutability = each.value.immutable ? "IMMUTABLE" : "MUTABLE"
}
