terraform {
  source = "../../modules/ecr"
}

inputs = {
  name       = "shop/web"
  mutability = "MUTABLE"
}
