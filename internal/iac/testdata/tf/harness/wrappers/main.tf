variable "items" {
  type    = any
  default = { one = {} }
}

module "wrapper" {
  source     = "../"
  for_each   = var.items
  mutability = try(each.value.mutability, "MUTABLE")
}
