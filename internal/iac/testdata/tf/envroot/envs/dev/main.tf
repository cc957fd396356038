variable "mutability" {
  type = string
}

module "app" {
  source     = "../.."
  name       = "dev-app"
  mutability = var.mutability
}
