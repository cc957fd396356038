# Every unit of the account pushes through this default.
inputs = {
  repository_image_tag_mutability = "MUTABLE" # legacy default
  tags = {
    team = "platform"
  }
}
