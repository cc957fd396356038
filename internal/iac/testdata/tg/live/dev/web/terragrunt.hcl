include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../..//modules/ecr"
}

# Overrides the root's IMMUTABLE: the module's default does not apply.
inputs = {
  name                 = "shop/web"
  image_tag_mutability = "MUTABLE"
}
