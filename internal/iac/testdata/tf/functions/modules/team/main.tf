# Relative paths in file() are read from the root module's directory.
locals {
  teams = yamldecode(file("repos.yaml")).repositories
}

resource "aws_ecr_repository" "team" {
  count                = length(local.teams)
  name                 = "team/${local.teams[count.index].name}"
  image_tag_mutability = replace("MUTABLE", "/^MUT/", "IMMUT")
}
