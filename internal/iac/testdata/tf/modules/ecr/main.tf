variable "names" {
  type    = list(string)
  default = []
}

variable "mutability" {
  type    = string
  default = "IMMUTABLE"
}

variable "exclusions" {
  type    = list(string)
  default = []
}

variable "settings" {
  type = object({
    scan = optional(bool, true)
    mode = optional(string, "MUTABLE")
  })
  default = {}
}

locals {
  prefix     = "team"
  mutability = upper(var.mutability)
}

resource "aws_ecr_repository" "this" {
  for_each             = toset(var.names)
  name                 = "${local.prefix}/${each.key}"
  image_tag_mutability = local.mutability

  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = var.exclusions
    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }
}

resource "aws_ecr_repository" "optional" {
  name                 = "${local.prefix}/optional"
  image_tag_mutability = var.settings.mode
}
