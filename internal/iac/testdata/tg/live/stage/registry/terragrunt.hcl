terraform {
  source = "tfr:///terraform-aws-modules/ecr/aws?version=2.3.0"
}

dependency "kms" {
  config_path = "../kms"
}

inputs = {
  repository_name                 = "shop/stage"
  repository_image_tag_mutability = "MUTABLE"
  repository_kms_key              = dependency.kms.outputs.key_arn
}
