terraform {
  source = "git::https://github.com/cloudposse/terraform-aws-ecr.git?ref=0.29.0"
}

inputs = {
  image_names          = ["legacy/a"]
  image_tag_mutability = dependency.settings.outputs.mutability
}
