locals {
  settings = {
    dev  = { mutability = "MUTABLE" }
    prod = { mutability = "IMMUTABLE" }
  }
  current = local.settings[terraform.workspace]
}

# Each workspace the map names is a deployment of its own.
resource "aws_ecr_repository" "app" {
  name                 = "app-${terraform.workspace}"
  image_tag_mutability = local.current.mutability
}

# Any workspace but prod takes the other branch ("default" stands for them).
resource "aws_ecr_repository" "gate" {
  name                 = "gate"
  image_tag_mutability = terraform.workspace == "prod" ? "IMMUTABLE" : "MUTABLE"
}

resource "aws_ecr_repository" "fixed" {
  name                 = "fixed"
  image_tag_mutability = "IMMUTABLE"
}
