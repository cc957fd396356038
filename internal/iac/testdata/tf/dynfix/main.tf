variable "immutable" {
  type    = bool
  default = false
}

variable "format" {
  type    = any
  default = { docker = { immutable_tags = null } }
}

# The dynamic block only switches the setting on: a static block
# replaces it.
resource "google_artifact_registry_repository" "toggle" {
  repository_id = "toggle"
  format        = "DOCKER"

  dynamic "docker_config" {
    for_each = var.immutable ? [1] : []
    content {
      immutable_tags = true
    }
  }
}

# The dynamic block is the module's logic (the value is computed): a
# static docker_config next to it would be a second block.
resource "google_artifact_registry_repository" "computed" {
  repository_id = "computed"
  format        = "DOCKER"

  dynamic "docker_config" {
    for_each = try(var.format.docker.immutable_tags, null) != null ? [1] : []
    content {
      immutable_tags = var.format.docker.immutable_tags
    }
  }
}
