// ReportStream: the machine-readable side of a rank's progress — one JSON object per line on a
// file descriptor that the worker daemon reads (gradpool-train --report-fd N; the events are in
// docs/service.md, "Rank report events"), and the same events handed to an in-process sink (the
// rank's own /metrics under mpirun).
//
// Reporting must never hurt training: SIGPIPE is ignored, and a reader that is gone (EPIPE,
// EBADF) or stuck (no room to write for 5 s) turns the stream off with one warning while training
// goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

namespace gradpool {

// One optimizer step as reported; tokens and samples over all ranks, local_* this rank's. The
// optional figures are left out of the event when absent.
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
  int64_t local_samples = 0;
  std::optional<double> mfu = std::nullopt;
  std::optional<int64_t> gpu_memory_allocated_bytes = std::nullopt,
                         gpu_memory_reserved_bytes = std::nullopt,
                         gpu_memory_peak_bytes = std::nullopt;
};

class ReportStream {
 public:
  // `fd` < 0: no fd to write. Error naming --report-fd when `fd` is not an open file descriptor.
  explicit ReportStream(int fd);

  // Sees every event from now on as it is written, also when there is no fd or it was turned off.
  using Sink = std::function<void(const nlohmann::json& event)>;
  void set_sink(Sink sink) { sink_ = std::move(sink); }

  // Whether anyone takes the events: an fd or a sink.
  bool enabled() const { return fd_ >= 0 || sink_ != nullptr; }

  void start(int rank, int world_size, int64_t step, int64_t total_steps);
  void step(const StepReport& report);
  void checkpoint(int64_t step, double seconds);
  void done(int64_t step);

 private:
  void emit(const nlohmann::json& event);  // to the sink and the fd
  void write_line(const nlohmann::json& event);

  int fd_;
  Sink sink_;
};

}  // namespace gradpool
