# No backend, no variable files: a wrapper, not an environment.
module "inner" {
  source     = "../.."
  name       = "loose"
  mutability = "MUTABLE"
}
