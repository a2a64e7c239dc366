// ReportStream: the machine-readable side of a rank's progress — one JSON object per line on a
// file descriptor that the worker daemon reads (gradpool-train --report-fd N; the events are in
// docs/service.md, "Rank report events").
//
// Reporting must never hurt training: SIGPIPE is ignored, and a reader that is gone (EPIPE,
// EBADF) or stuck (no room to write for 5 s) turns the stream off with one warning while training
// goes on.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace gradpool {

// One optimizer step as reported; tokens and samples over all ranks, local_tokens this rank's.
struct StepReport {
  int64_t step = 0;
  int64_t total_steps = 0;
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  int64_t tokens = 0;
  int64_t local_tokens = 0;
  int64_t samples = 0;
  double step_s = 0;
  double allreduce_s = 0;
  bool skipped = false;
};

class ReportStream {
 public:
  // `fd` < 0: reporting is off and every call does nothing. Error naming --report-fd when `fd`
  // is not an open file descriptor.
  explicit ReportStream(int fd);

  bool enabled() const { return fd_ >= 0; }

  void start(int rank, int world_size, int64_t step, int64_t total_steps);
  void step(const StepReport& report);
  void checkpoint(int64_t step, double seconds);
  void done(int64_t step);

 private:
  void write_line(const nlohmann::json& event);

  int fd_;
};

}  // namespace gradpool
