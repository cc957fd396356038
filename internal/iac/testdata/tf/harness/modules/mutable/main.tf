# A submodule offering the module with other defaults: it calls its own
# enclosing module, which only a consumer deploys.
module "inner" {
  source     = "../../"
  mutability = "MUTABLE"
}
