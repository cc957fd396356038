repositories = {
  api    = {}
  worker = { immutable = false }
  batch  = { ecr = { mutable = true } }
}
