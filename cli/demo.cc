#include "cli/demo.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/child_process.h"
#include "common/error.h"

namespace gradpool::cli {

const char* const kDemoSpec = R"(name: fortunes-demo
model: runs/demo/model
dataset: runs/demo/fortunes.jsonl
format: text
seq_len: 128
lora: {r: 16, alpha: 32, dropout: 0.0, target_modules: all-linear}
optimizer: {lr: 3.0e-3, weight_decay: 0.0, warmup_steps: 5, schedule: cosine, clip_grad_norm: 1.0}
batch: {global: 16, micro: 8}
steps: 100
precision: auto
checkpoint_every: 20
log_every: 10
output: runs/demo/output
)";

void prepare_demo(const std::filesystem::path& train_bin, const JobSpec& spec) {
  namespace fs = std::filesystem;
  const fs::path fortunes_dir = "/usr/share/games/fortunes";
  if (!fs::exists(spec.dataset)) {
    // Fortune files are the ones without an extension (the .dat files are their indexes).
    std::vector<std::string> inputs;
    std::error_code error;
    if (fs::is_directory(fortunes_dir, error))
      for (const auto& entry : fs::directory_iterator(fortunes_dir))
        if (entry.is_regular_file() && entry.path().extension().empty())
          inputs.push_back(entry.path().string());
    if (inputs.empty())
      fail("{}: no fortune files; install Debian's 'fortunes' package (scripts/setup.sh does)",
           fortunes_dir.string());
    std::sort(inputs.begin(), inputs.end());
    fs::create_directories(fs::path(spec.dataset).parent_path());
    std::vector<std::string> argv = {train_bin.string(), "make-dataset", "--out", spec.dataset};
    argv.insert(argv.end(), inputs.begin(), inputs.end());
    std::fprintf(stderr, "gradpool: demo: writing %s from %zu fortune files\n",
                 spec.dataset.c_str(), inputs.size());
    run_program(argv);
  }
  if (!fs::exists(fs::path(spec.model) / "config.json")) {
    std::fprintf(stderr, "gradpool: demo: writing a random tiny-llama checkpoint to %s\n",
                 spec.model.c_str());
    run_program({train_bin.string(), "init-model", "--preset", "tiny-llama", "--out", spec.model});
  }
}

}  // namespace gradpool::cli
