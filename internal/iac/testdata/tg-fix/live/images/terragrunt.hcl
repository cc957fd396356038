terraform {
  source = "../../modules/ar"
}

inputs = {
  immutable = false
}
