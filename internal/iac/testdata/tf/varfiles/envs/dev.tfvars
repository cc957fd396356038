region     = "us-east-1"
mutability = "MUTABLE"
