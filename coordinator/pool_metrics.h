// PoolMetrics: the coordinator's series of the metrics catalog (docs/metrics.md). The scheduling
// loop hands it the pool as each pass left it (the snapshot the pass takes anyway) and the pass's
// duration; the lifecycle counts restarts, failures and queue waits where it decides them, once
// its transaction has committed; the gRPC interceptor (api/rpc_timing.h) times every call. It
// never reads the store itself.
//
// It writes to a prometheus::Registry it does not own and that must outlive it: the
// MetricsServer's, or one nobody serves when --metrics-listen is off, so that no caller needs to
// ask whether metrics are on. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "common/metrics/catalog_family.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

// Why an attempt ended before its job was done (the `reason` of the restart and failure counters).
enum class AttemptFailure { kRankFailed, kWorkerLost };

class PoolMetrics {
 public:
  explicit PoolMetrics(prometheus::Registry& registry);

  // The job of a failed attempt was requeued for another one / ended FAILED, restarts used up.
  void job_restarted(AttemptFailure why);
  void job_failed(AttemptFailure why);
  // An attempt was placed `seconds` after its job was submitted (or requeued).
  void job_placed(double queue_wait_seconds);

  // The pool as one scheduling pass left it.
  struct PoolSnapshot {
    std::map<v1::JobState, int64_t> jobs_by_state;
    std::map<v1::PendingReason, int64_t> pending_by_reason;  // queued jobs
    std::vector<v1::Worker> workers;                         // every registered worker
    std::set<std::pair<std::string, int>> busy_slots;        // (worker id, slot) with a live rank
    std::map<uint64_t, int> attempts;                        // job id → attempt, jobs not final
  };
  // Sets the pool gauges to `pool` (every state and reason, zeros included), drops the series of
  // GPU models and jobs that are gone, and observes the pass's duration.
  void scheduling_pass(const PoolSnapshot& pool, double seconds);

  // The duration series of one gRPC method, `method` as "Service.Method"; made at zero.
  prometheus::Histogram& rpc_duration(const std::string& method);

 private:
  metrics::GaugeFamily jobs_;
  metrics::GaugeFamily pending_;
  metrics::GaugeFamily gpus_;
  metrics::GaugeFamily workers_;
  metrics::GaugeFamily attempts_;
  metrics::CounterFamily restarts_;
  metrics::CounterFamily failures_;
  metrics::HistogramFamily rpc_durations_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& pass_seconds_;

  std::mutex mutex_;  // guards what the last pass exported, to drop what has gone since
  std::set<std::string> gpu_names_;
  std::set<uint64_t> job_ids_;
};

// Prometheus HTTP service discovery of the workers' /metrics (GET /sd/workers on the metrics
// port): one target group per worker that is up and has a metrics address, labelled with its id
// (`worker`) and `hostname`.
nlohmann::json worker_scrape_targets(const std::vector<v1::Worker>& workers);

}  // namespace gradpool
