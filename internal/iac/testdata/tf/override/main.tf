variable "mode" {
  type    = string
  default = "MUTABLE"
}

resource "aws_ecr_repository" "app" {
  name                 = "app"
  image_tag_mutability = "MUTABLE"
}

resource "aws_ecr_repository" "loosened" {
  name                 = "loosened"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "filtered" {
  name                 = "filtered"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = ["latest"]
    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }
}

resource "aws_ecr_repository" "from_var" {
  name                 = "from-var"
  image_tag_mutability = var.mode
}
