// The demo job of the README's first command: LoRA on a tiny random Llama over the fortunes of
// Debian's `fortunes` package. One definition for `gradpool run demo` (through the service) and
// `gradpool-train demo` (one process), so that both train exactly the same job.
#pragma once

#include <string>
#include <vector>

namespace gradpool {

inline constexpr const char* kDemoSpecSource = "the embedded demo spec";
inline constexpr const char* kDemoSpec = R"(name: fortunes-demo
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

inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

// The fortune files of kFortunesDir (those without an extension: the .dat files are their
// indexes), sorted; Error naming the directory and the package when there are none.
std::vector<std::string> fortune_files();

}  // namespace gradpool
