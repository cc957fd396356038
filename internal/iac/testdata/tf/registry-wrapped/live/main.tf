module "app" {
  source = "../modules/ecr"
  name   = "shop/wrapped"
}
