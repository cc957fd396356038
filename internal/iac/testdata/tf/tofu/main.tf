# Kept for Terraform users; OpenTofu ignores it next to main.tofu.
resource "aws_ecr_repository" "app" {
  name                 = "shop/app"
  image_tag_mutability = "IMMUTABLE"
}
