variable "name" {
  type = string
}

variable "mutability" {
  type     = string
  default  = "IMMUTABLE"
  nullable = false
}

variable "loose_mutablity" {
  type    = string
  default = "IMMUTABLE"
}

resource "aws_ecr_repository" "strict" {
  name                 = "${var.name}-strict"
  image_tag_mutability = var.mutability
}

resource "aws_ecr_repository" "loose" {
  name                 = "${var.name}-loose"
  image_tag_mutability = var.loose_mutablity
}
