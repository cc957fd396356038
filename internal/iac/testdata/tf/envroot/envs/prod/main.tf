# An environment applying the module it lives in: its backend says so.
terraform {
  backend "s3" {
    bucket = "state"
    key    = "prod"
  }
}

module "app" {
  source = "../.."
  name   = "prod-app"
}
