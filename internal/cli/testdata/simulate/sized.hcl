pool "g1" {
  gpus_per_node  = 1
  price_per_hour = 4
}

pool "g4" {
  gpus_per_node  = 4
  price_per_hour = 16
}

pool "g8" {
  gpus_per_node  = 8
  price_per_hour = 32
}
