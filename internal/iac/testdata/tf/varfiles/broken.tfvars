mutability = 'MUTABLE'
