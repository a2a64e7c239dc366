// What `gradpool top` shows, as a pure function of what it fetched: a header about the pool
// (workers up and lost, GPUs busy by model, jobs by state), the running and starting jobs
// (progress, loss, tokens/s, ETA, runtime) and the queue (position, reason), fitted to a width and
// a height. The live view (top_command.cc) draws it in place; `top --once` prints it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/step_rates.h"
#include "proto/gradpool.pb.h"

namespace gradpool::cli {

// One refresh: what Workers.List and Jobs.List (queued, starting and running jobs) answered.
struct TopSnapshot {
  std::string coordinator;  // its address, for the title
  v1::ListWorkersResponse workers;
  v1::ListJobsResponse jobs;
  int64_t fetched_ms = 0;  // when `workers` and `jobs` were fetched
  std::string problem;     // why the latest refresh failed ("" when it did not)
};

struct FrameSize {
  size_t width = 0;   // columns; 0: unlimited
  size_t height = 0;  // lines; 0: unlimited
};

// The frame's lines, each ending in '\n': never more than `size.height` lines, none wider than
// `size.width` columns. When the jobs do not fit, each section ends in a "… N more" line.
std::string top_frame(const TopSnapshot& snapshot, const StepRates& rates, FrameSize size,
                      int64_t now_ms);

// Milliseconds until the job's last step: remaining steps × tokens per step ÷ tokens/s while every
// step of the job was counted in its tokens (the first attempt), else remaining steps ÷ the step
// rate `top` saw (`observed_steps_per_second`). nullopt when neither is known.
std::optional<int64_t> eta_ms(const v1::Job& job, std::optional<double> observed_steps_per_second);

}  // namespace gradpool::cli
