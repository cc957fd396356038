module "registry" {
  source = "../../modules/ecr"
  names  = ["scratch"]
  # mutability left at the module default
}
