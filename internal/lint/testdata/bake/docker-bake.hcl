# A bake file: each target's tags are what `docker buildx bake --push`
# pushes; variables take their defaults.
variable "REGISTRY" {
  default = "ghcr.io/acme"
}
variable "VERSION" {
  default = "latest"
}
variable "SHA" {
  default = ""
}
group "default" {
  targets = ["app", "worker", "tool"]
}
target "app" {
  tags = [
    "${REGISTRY}/app:${SHA}",
    # want: explicit-latest
    "${REGISTRY}/app:${VERSION}",
    # want: explicit-latest
    "${REGISTRY}/app:latest",
  ]
}
target "worker" {
  inherits = ["app"]
}
target "tool" {
  # want: implicit-latest, mutable-tag
  tags = ["${REGISTRY}/tool", "${REGISTRY}/tool:${SHA != "" ? SHA : "dev"}"]
}
target "pinned" {
  tags = ["${REGISTRY}/pinned:1.2.3", notequal("", SHA) ? "${REGISTRY}/pinned:${SHA}" : "${REGISTRY}/pinned:v1"]
}
