locals {
  account = read_terragrunt_config(find_in_parent_folders("account.hcl"))
  project = "shop"
}

inputs = {
  image_tag_mutability = "IMMUTABLE"
}
