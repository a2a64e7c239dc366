// `gradpool run demo`: the job of `gradpool-train demo` (LoRA on a tiny random Llama over the
// fortunes of Debian's `fortunes` package), run through the service instead of in one process.
#pragma once

#include <filesystem>

#include "common/demo_job.h"
#include "common/job_spec.h"

namespace gradpool::cli {

// Writes the demo's dataset (from /usr/share/games/fortunes) and model (a random tiny-llama) with
// `train_bin` make-dataset / init-model, each only when it does not exist yet. `spec` is the demo
// spec with its paths made absolute.
void prepare_demo(const std::filesystem::path& train_bin, const JobSpec& spec);

}  // namespace gradpool::cli
