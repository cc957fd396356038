locals {
  common = { image_tag_mutability = "MUTABLE" }
}

terraform {
  source = "tfr:///lgallard/ecr/aws?version=0.6.0"
}

inputs = merge(local.common, { name = "shop/merged" })
