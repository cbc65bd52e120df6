# The caravan experiment equivalent to the recorded Nomad jobspec
# nomad/gpu-fits.nomad.hcl: its render must match nomad/jobspec-gpu-fits.json
# key for key (see fixture_test.go for the values allowed to differ).
experiment "resnet" {
  pool    = "gpu"
  driver  = "raw_exec"
  command = "/bin/sh"
  args    = ["-c", "env | grep -i -E 'NVIDIA|NOMAD_META' ; sleep 40"]
  env     = { LR = "$${NOMAD_META_caravan_params_lr}" }
  params  = { lr = 0.001 }

  resources {
    gpus       = 1
    gpu_memory = "40GiB"
    cpu        = 100
    memory     = "64MiB"
  }

  retries = 1
}
