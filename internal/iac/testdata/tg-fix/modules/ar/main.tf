variable "immutable" {
  type    = bool
  default = true
}

resource "google_artifact_registry_repository" "this" {
  repository_id = "images"
  location      = "europe-west1"
  format        = "DOCKER"

  docker_config {
    immutable_tags = var.immutable
  }
}
