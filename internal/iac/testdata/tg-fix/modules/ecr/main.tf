variable "name" {
  type = string
}

variable "mutability" {
  type    = string
  default = "IMMUTABLE"
}

resource "aws_ecr_repository" "this" {
  name                 = var.name
  image_tag_mutability = var.mutability
}
