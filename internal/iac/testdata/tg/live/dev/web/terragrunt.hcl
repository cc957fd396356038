include "root" {
  path = find_in_parent_folders("root.hcl")
}

locals {
  env_vars = read_terragrunt_config(find_in_parent_folders("env.hcl"))
}

terraform {
  source = "../../..//modules/ecr"
}

# Overrides the root's IMMUTABLE: the module's default does not apply.
inputs = {
  name                 = "shop/${local.env_vars.locals.environment}-web"
  image_tag_mutability = "MUTABLE"
}
