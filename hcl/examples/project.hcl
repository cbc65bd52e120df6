caravan {
  project = "acme-vision"
}
