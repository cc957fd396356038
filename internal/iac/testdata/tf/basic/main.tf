# Compliant: the documented examples.
resource "aws_ecr_repository" "immutable" {
  name                 = "web/api"
  image_tag_mutability = "IMMUTABLE"
}

resource "aws_ecr_repository" "default" {
  name = "web/default"
}

resource "aws_ecr_repository" "mutable" {
  name                 = "web/mutable" # keep
  image_tag_mutability = "MUTABLE"
}

resource "aws_ecr_repository" "excl" {
  name                 = "web/excl"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"

  image_tag_mutability_exclusion_filter {
    filter      = "latest"
    filter_type = "WILDCARD"
  }
  image_tag_mutability_exclusion_filter {
    filter      = "dev-*"
    filter_type = "WILDCARD"
  }
}

resource "aws_ecr_repository" "mutexcl" {
  name                 = "web/mutexcl"
  image_tag_mutability = "MUTABLE_WITH_EXCLUSION"

  image_tag_mutability_exclusion_filter {
    filter      = "v*"
    filter_type = "WILDCARD"
  }
}

resource "google_artifact_registry_repository" "docker" {
  location      = "europe-west1"
  repository_id = "images"
  format        = "DOCKER"

  docker_config {
    immutable_tags = true
  }
}

resource "google_artifact_registry_repository" "docker_mutable" {
  location      = "europe-west1"
  repository_id = "scratch"
  format        = "DOCKER"
}

resource "google_artifact_registry_repository" "maven" {
  location      = "europe-west1"
  repository_id = "jars"
  format        = "MAVEN"
}

resource "google_artifact_registry_repository" "remote" {
  location      = "europe-west1"
  repository_id = "dockerhub-mirror"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
}

resource "docker_hub_repository" "hub" {
  namespace = "acme"
  name      = "api"

  immutable_tags_settings {
    enabled = true
  }
}

resource "docker_hub_repository" "hub_attr" {
  namespace = "acme"
  name      = "worker"
  immutable_tags_settings = {
    enabled = true
    rules   = ["v.*"]
  }
}

resource "docker_hub_repository" "hub_plain" {
  namespace = "acme"
  name      = "plain"
}

resource "aws_s3_bucket" "unrelated" {
  bucket = "not-a-registry"
}

resource "aws_ecr_repository" "ignored" {
  name                 = "web/ignored"
  image_tag_mutability = "MUTABLE"

  lifecycle {
    ignore_changes = [image_tag_mutability]
  }
}
