resource "aws_s3_bucket" "logs" {
    bucket = "shop-logs"
  force_destroy    = true
}

resource "aws_ecr_repository" "api" {
    name = "shop/api"
  image_tag_mutability   =   "MUTABLE"
  force_delete = true
}
