// Training checkpoints: everything needed to continue a job as if it had never stopped.
//
// Layout under the job's output directory:
//   checkpoints/step-000050/  adapter_model.safetensors, adapter_config.json (a loadable PEFT
//                             adapter), optimizer.safetensors (AdamW moments, RNG states),
//                             trainer_state.json (step, data cursor, loss scale, fingerprint)
//   checkpoints/LATEST        the name of the newest complete checkpoint
// A checkpoint directory is written in full before LATEST is replaced atomically (temp + rename),
// so a crash at any moment leaves the previous checkpoint usable. Older ones are pruned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "worker/train/lora.h"
#include "worker/train/optimizer.h"
#include "worker/train/sample_order.h"
#include "worker/train/train_step.h"

namespace gradpool {

struct TrainerState {
  int64_t step = 0;  // optimizer steps completed
  DataCursor cursor;
  double loss_scale = 0;   // fp16 dynamic loss scale; 0 when unused
  int64_t clean_steps = 0; // fp16 steps since the scale last changed
  std::string fingerprint; // what must not change between save and resume (model, data, batch)
};

class CheckpointStore {
 public:
  // `root` is <output>/checkpoints; created on first save. Keeps the newest `keep` checkpoints.
  explicit CheckpointStore(std::string root, int keep = 2);

  // Writes a complete checkpoint for `state.step` and makes it the latest.
  void save(const TrainerState& state, const LoraAdapter& adapter, AdamW& optimizer,
            const std::string& base_model_path) const;

  // The latest checkpoint's state, if any. Error naming the file if it is unreadable or corrupt.
  std::optional<TrainerState> latest_state() const;
  // Loads the latest checkpoint's adapter weights, optimizer moments and RNG states.
  void restore(LoraAdapter& adapter, AdamW& optimizer, const at::Device& device) const;

  const std::string& root() const { return root_; }

 private:
  std::string latest_dir() const;

  std::string root_;
  int keep_;
};

}  // namespace gradpool
