// RankMetrics: the per-rank training series (gradpool_train_*{job_id, rank}) and the GPU mapping
// series (gradpool_job_gpu_info), fed by the rank report events of docs/service.md ("Rank report
// events"). The worker daemon owns one and applies each event line its ranks write; a rank
// started by mpirun without a worker can own one and apply its own events.
//
// Counters grow by each step's own figures (local_tokens, local_samples: a rank's share, so sums
// over ranks are the job's), gauges take the last value, histograms observe the step, all-reduce
// and checkpoint times. When a rank exits, call clear_placement() at once (its GPU may take the
// next rank right away, and a UUID must map to one rank for PromQL joins) and remove() some time
// later (two scrape intervals) so that Prometheus sees the final counts. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "common/metrics/catalog_family.h"

namespace gradpool::metrics {

// Where a rank runs, for gradpool_job_gpu_info.
struct RankPlacement {
  std::string worker;  // worker id
  std::string hostname;
  int gpu_index = 0;     // CUDA device index on the worker (or CPU slot)
  std::string gpu_name;  // "NVIDIA GeForce GTX 1080", or "cpu"
  std::string uuid;      // "GPU-…" as nvidia-smi and DCGM spell it; empty for a CPU slot
};

class RankMetrics {
 public:
  // Families in `registry` (which must outlive this), for a worker or a trainer.
  RankMetrics(prometheus::Registry& registry, Component component);

  // Applies one report event of `rank` of job `job_id`. Error naming the event and field,
  // changing nothing, when `event` is not an object with a known "event", a field has the wrong
  // type, or a count or duration is negative. Absent or null fields (a non-finite loss is written
  // as null) leave their series as they were.
  void apply(const std::string& job_id, int rank, const nlohmann::json& event);

  // Exports gradpool_job_gpu_info for the rank, replacing the one an earlier call exported.
  void set_placement(const std::string& job_id, int rank, const RankPlacement& placement);

  // Drops the rank's gradpool_job_gpu_info series, if any.
  void clear_placement(const std::string& job_id, int rank);

  // Drops every series of the rank (a no-op for a rank with none).
  void remove(const std::string& job_id, int rank);

 private:
  struct RankState {
    struct TimedTokens {
      int64_t tokens;
      double seconds;
    };
    std::deque<TimedTokens> recent;  // the tokens/s window
    prometheus::Labels placement;    // labels of its gradpool_job_gpu_info series, if any
  };
  static constexpr size_t kRateWindow = 10;  // steps gradpool_train_tokens_per_second spans

  void create_series(const prometheus::Labels& labels);

  CounterFamily tokens_, samples_, loss_scale_skips_;
  HistogramFamily step_seconds_, allreduce_seconds_, checkpoint_seconds_;
  GaugeFamily loss_, learning_rate_, grad_norm_, tokens_per_second_, mfu_, memory_allocated_,
      memory_reserved_, memory_peak_, step_, total_steps_, gpu_info_;

  std::mutex mutex_;
  std::map<std::pair<std::string, int>, RankState> ranks_;
};

}  // namespace gradpool::metrics
