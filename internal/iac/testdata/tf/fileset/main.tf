# One YAML file per repository, listed with fileset().
locals {
  repos = {
    for f in fileset(path.module, "repos/**/*.yaml") :
    trimsuffix(basename(f), ".yaml") => yamldecode(file("${path.module}/${f}"))
  }
}

resource "aws_ecr_repository" "r" {
  for_each             = local.repos
  name                 = "shop/${each.key}"
  image_tag_mutability = try(each.value.mutability, "IMMUTABLE")
}
