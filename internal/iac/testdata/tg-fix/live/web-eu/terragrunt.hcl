# The same repository in a second account: one finding with web's.
terraform {
  source = "../../modules/ecr"
}

inputs = {
  name       = "shop/web"
  mutability = "MUTABLE"
}
