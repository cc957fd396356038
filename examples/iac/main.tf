# Example infrastructure code for `immutag iac examples/iac`.

resource "aws_ecr_repository" "api" {
  name                 = "shop/api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "worker" {
  name = "shop/worker" # no setting: ECR's default is MUTABLE
}

resource "aws_ecr_repository" "web" {
  name                 = "shop/web"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  image_tag_mutability_exclusion_filter {
    filter      = "latest"
    filter_type = "WILDCARD"
  }
}

resource "google_artifact_registry_repository" "images" {
  location      = "europe-west1"
  repository_id = "images"
  format        = "DOCKER"

  docker_config {
    immutable_tags = true
  }
}

resource "docker_hub_repository" "cli" {
  namespace = "shop"
  name      = "cli"

  immutable_tags_settings = {
    enabled = true
  }
}
