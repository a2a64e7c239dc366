// Trainer: runs one job spec to the end in this process — load the base model, tokenizer and
// data, attach LoRA, then step / log / checkpoint until done, and export a PEFT adapter.
//
// A run whose output directory holds a checkpoint continues from it (same step losses as a run
// that never stopped). SIGTERM or SIGINT makes it checkpoint and return at the next step boundary.
//
// Data parallel: every rank walks the same global sample order and takes its own slice of each
// global batch; gradients and token counts are summed in one all-reduce per step. Rank 0 alone
// writes checkpoints, logs and the adapter; the others wait at a barrier.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/job_spec.h"
#include "worker/train/rank_telemetry.h"

namespace gradpool {

// How this rank joins the others of a data-parallel job (world_size 1: alone). Under mpirun/srun
// rank and world size come from MPI instead.
struct DistributedOptions {
  std::string backend = "auto";  // auto | gloo | nccl | mpi
  int rank = 0;
  int world_size = 1;
  std::string rendezvous;  // tcp://HOST:PORT, file:///PATH or gradpool://HOST:PORT/JOB/ATTEMPT
  std::string local_address = "127.0.0.1";
  double collective_timeout_s = 600;
  // Sequences this rank contributes per step (micro × accum); default: an even share of
  // batch.global. Ranks may differ (a GTX 1080 beside an A100) as long as they sum to the global.
  std::optional<int64_t> local_batch;
};

struct TrainerOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  bool resume = true;           // continue from <output>/checkpoints when one exists
  bool interactive = false;     // draw a progress bar (a terminal) instead of log lines
  int report_fd = -1;  // JSON-lines progress events for a worker (report_stream.h); -1: none
  TelemetryOptions telemetry;  // --timeline, --metrics-listen (rank_telemetry.h)
  DistributedOptions distributed;
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
