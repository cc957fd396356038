unused = "x"
