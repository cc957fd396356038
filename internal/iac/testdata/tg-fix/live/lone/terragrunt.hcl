terraform {
  source = "tfr:///lgallard/ecr/aws?version=0.6.0"
}

inputs = { name = "shop/lone" }
