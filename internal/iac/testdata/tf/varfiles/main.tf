variable "mutability" {
  type    = string
  default = "IMMUTABLE"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

# Immutable by default, but each environment's variable file decides.
resource "aws_ecr_repository" "app" {
  name                 = "shop/app"
  image_tag_mutability = var.mutability
}

# The same in every environment: reported once.
resource "aws_ecr_repository" "base" {
  name                 = "shop/base"
  image_tag_mutability = "IMMUTABLE"
}
