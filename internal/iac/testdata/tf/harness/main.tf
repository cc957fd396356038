variable "mutability" {
  type    = string
  default = "IMMUTABLE"
}

resource "aws_ecr_repository" "this" {
  name                 = "harnessed"
  image_tag_mutability = var.mutability
}
