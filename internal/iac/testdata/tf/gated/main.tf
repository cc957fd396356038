variable "create_registry" {
  type    = bool
  default = false
}

# Off until enabled; enabled, it creates an immutable repository.
module "registry" {
  source     = "./modules/repo"
  count      = var.create_registry ? 1 : 0
  name       = "gated"
  mutability = "IMMUTABLE"
}
