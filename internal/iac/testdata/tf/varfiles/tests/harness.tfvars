mutability = "MUTABLE"
