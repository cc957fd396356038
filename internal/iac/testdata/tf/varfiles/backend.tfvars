bucket = "state"
key    = "shop.tfstate"
