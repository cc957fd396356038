resource "aws_ecr_repository" "app" {
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "loosened" {
  image_tag_mutability = "MUTABLE"
}

variable "mode" {
  default = "IMMUTABLE"
}
