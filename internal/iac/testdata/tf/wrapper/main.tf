# A wrapper forwards its own optional input; null means "the inner
# module's default" only where the inner variable is non-nullable.
variable "mutability" {
  type    = string
  default = null
}

module "strict" {
  source     = "./inner"
  name       = "strict"
  mutability = var.mutability
}

module "loose" {
  source          = "./inner"
  name            = "loose"
  loose_mutablity = var.mutability
}
