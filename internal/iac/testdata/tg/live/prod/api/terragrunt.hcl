include "root" {
  path   = find_in_parent_folders("root.hcl")
  expose = true
}

terraform {
  source = "${get_repo_root()}/modules/ecr"
}

inputs = {
  name = "${include.root.locals.project}/api"
}
