// ProgressReporter: what a person watching a training run sees — step, loss, lr, tokens/s, ETA.
//
// On a terminal it redraws one progress bar in place; otherwise (logs, CI, a worker relaying
// output) it prints one plain line every `log_every` steps, which is also what the worker parses.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gradpool {

struct StepProgress {
  int64_t step = 0;         // optimizer steps completed, 1-based after the first
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;       // input tokens processed by this step (all ranks)
  bool skipped = false;     // fp16 overflow
};

class ProgressReporter {
 public:
  ProgressReporter(int64_t first_step, int64_t total_steps, int64_t log_every, std::FILE* out,
                   bool interactive);

  void report(const StepProgress& progress);
  void finish();  // ends the bar's line

  double tokens_per_second() const;

 private:
  std::string line(const StepProgress& progress) const;

  int64_t first_step_, total_steps_, log_every_;
  std::FILE* out_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  int64_t tokens_ = 0;
  int64_t steps_done_ = 0;
  bool drew_ = false;
};

// "1h02m", "3m05s", "42s"
std::string format_duration(double seconds);

}  // namespace gradpool
