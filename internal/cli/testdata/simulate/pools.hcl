pool "a100" {
  gpus_per_node  = 8
  max_nodes      = 8
  idle_timeout   = "10m"
  boot_timeout   = "15m"
  price_per_hour = 32.77
}
