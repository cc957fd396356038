# immutag-iac ignore mutable-tags: scratch images, rebuilt every hour
resource "aws_ecr_repository" "scratch" {
  name = "scratch"
}

resource "aws_ecr_repository" "inside" {
  name                 = "inside"
  image_tag_mutability = "MUTABLE" // immutag-iac ignore mutable-tags: load tests overwrite tags
}

# immutag-iac ignore mutable-tags
resource "aws_ecr_repository" "noreason" {
  name = "noreason"
}

# immutag-iac ignore mutable-patterns: wrong rule, still reported
resource "aws_ecr_repository" "wrongrule" {
  name = "wrongrule"
}
