variable "repository_name" {
  type = string
}

variable "repository_image_tag_mutability" {
  type    = string
  default = "IMMUTABLE"
}

resource "aws_ecr_repository" "this" {
  name                 = var.repository_name
  image_tag_mutability = var.repository_image_tag_mutability
}
