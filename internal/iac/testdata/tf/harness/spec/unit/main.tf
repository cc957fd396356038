# A test harness exercising the module with the values a test sets.
module "under_test" {
  source     = "../.."
  mutability = "MUTABLE"
}
