module "ecr" {
  source  = "example/ecr/aws"
  version = "~> 2.0"

  repository_name                 = "shop/registry-module"
  repository_image_tag_mutability = "MUTABLE"
}

module "not_downloaded" {
  source = "git::https://example.com/modules.git//ecr"
}
