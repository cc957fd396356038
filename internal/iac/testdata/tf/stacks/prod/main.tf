module "registry" {
  source     = "../../modules/ecr"
  names      = ["api", "web"]
  exclusions = ["latest"]
  mutability = "immutable_with_exclusion"
  settings   = { mode = "IMMUTABLE" }
}

variable "create" {
  type    = bool
  default = true
}

variable "computed_mode" {
  type = string
}

resource "aws_ecr_repository" "counted" {
  count                = var.create ? 2 : 0
  name                 = "prod/counted-${count.index}"
  image_tag_mutability = count.index == 0 ? "IMMUTABLE" : "MUTABLE"
}

resource "aws_ecr_repository" "skipped" {
  count = var.create ? 0 : 1
  name  = "prod/skipped"
}

resource "aws_ecr_repository" "from_var" {
  name                 = "prod/from-var"
  image_tag_mutability = var.computed_mode
}

resource "aws_kms_key" "k" {}

resource "aws_ecr_repository" "from_resource" {
  name                 = "prod/from-resource"
  image_tag_mutability = aws_kms_key.k.arn
}
