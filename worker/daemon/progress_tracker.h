// ProgressTracker: turns the report events a rank writes on its --report-fd (docs/service.md,
// "Rank report events") into the v1::Progress that the worker's heartbeats carry for it.
// Not thread-safe; the rank's supervisor owns it under its lock.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

#include "proto/gradpool.pb.h"

namespace gradpool {

class ProgressTracker {
 public:
  // Applies one event line. Returns false, changing nothing, for a line that is not a JSON object
  // with a known "event"; fields that are missing or of the wrong type keep their last value.
  bool apply(std::string_view line);

  // step, total_steps, loss, lr, grad_norm as last reported; tokens summed over this process's
  // steps; tokens_per_second over the last few steps; checkpoint_step of the latest checkpoint;
  // updated_ms when the last event arrived.
  const v1::Progress& progress() const { return progress_; }

 private:
  struct TimedTokens {
    int64_t tokens;
    double seconds;
  };
  static constexpr size_t kRateWindow = 10;  // steps the tokens/s figure averages over

  v1::Progress progress_;
  std::deque<TimedTokens> recent_;
};

}  // namespace gradpool
