# Terraform 0.11-era syntax public modules still carry.
variable "repository_count" {
  type    = "string"
  default = "2"
}

variable "settings" {
  type = "map"
  default = {
    mutability = "IMMUTABLE"
  }
}

variable "names" {
  type    = list
  default = ["alpha", "beta"]
}

resource "aws_ecr_repository" "numbered" {
  count                = "${var.repository_count}"
  name                 = "${element(var.names, count.index)}"
  image_tag_mutability = "${lookup(var.settings, "mutability")}"
}

resource "aws_ecr_repository" "single" {
  count = "1"
  name  = "single"
}
