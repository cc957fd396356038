terraform {
  source = "tfr:///lgallard/ecr/aws?version=0.6.0"
}

inputs = {
  name                 = "shop/excl"
  image_tag_mutability = "IMMUTABLE_WITH_EXCLUSION"
  image_tag_mutability_exclusion_filters = [
    { filter = "latest" },
  ]
  scan_on_push = true
}
