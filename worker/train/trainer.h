// Trainer: runs one job spec to the end in this process — load the base model, tokenizer and
// data, attach LoRA, then step / log / checkpoint until done, and export a PEFT adapter.
//
// A run whose output directory holds a checkpoint continues from it (same step losses as a run
// that never stopped). SIGTERM or SIGINT makes it checkpoint and return at the next step boundary.
#pragma once

#include <memory>
#include <string>

#include "common/job_spec.h"

namespace gradpool {

struct TrainerOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  bool resume = true;           // continue from <output>/checkpoints when one exists
  bool interactive = false;     // draw a progress bar (a terminal) instead of log lines
};

enum class TrainOutcome { kFinished, kInterrupted };

class Trainer {
 public:
  Trainer(JobSpec spec, TrainerOptions options);
  ~Trainer();

  TrainOutcome run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Set by SIGTERM/SIGINT; the trainer checkpoints and stops at the next step boundary.
void install_stop_signal_handlers();

}  // namespace gradpool
