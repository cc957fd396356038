variable "name" {
  type = string
}

variable "mutability" {
  type    = string
  default = "MUTABLE"
}

# A house module wrapping the public one.
module "ecr" {
  source  = "terraform-aws-modules/ecr/aws"
  version = "~> 2.0"

  repository_name                 = var.name
  repository_image_tag_mutability = var.mutability
}
