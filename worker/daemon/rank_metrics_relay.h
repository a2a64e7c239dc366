// RankMetricsRelay: the worker's side of its ranks' Prometheus series (docs/metrics.md, "From rank
// report events to series"). It applies every report event line of a rank to one RankMetrics,
// labelled job_id = the coordinator's job id and rank; exports gradpool_job_gpu_info (this worker,
// the slot's GPU) while the rank runs; and drops the rank's series `linger` after it exited, so
// that Prometheus scrapes the final counts first. The next attempt of a job starting a rank again
// on this worker before then keeps the series (its counters go on from where they were).
//
// The worker's main owns it beside the MetricsServer whose registry it fills; a thread of its own
// drops the series when their time comes. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <prometheus/registry.h>

#include "common/metrics/rank_metrics.h"
#include "proto/gradpool.pb.h"
#include "worker/daemon/slots.h"

namespace gradpool {

class RankMetricsRelay {
 public:
  using Clock = std::chrono::steady_clock;

  // Series in `registry` (which must outlive this), for worker `worker_id` on host `hostname`.
  RankMetricsRelay(prometheus::Registry& registry, std::string worker_id, std::string hostname,
                   std::chrono::milliseconds linger);
  ~RankMetricsRelay();
  RankMetricsRelay(const RankMetricsRelay&) = delete;
  RankMetricsRelay& operator=(const RankMetricsRelay&) = delete;

  // The rank is about to run on `slot`.
  void started(const v1::RankRef& ref, const Slot& slot);
  // One line of the rank's report fd. A line that is not a well-formed event changes nothing and
  // is logged (once per rank: a rank that writes garbage would flood the log).
  void event(const v1::RankRef& ref, std::string_view line);
  // The rank has exited (an exit of an attempt older than the one last started is ignored).
  void exited(const v1::RankRef& ref);

 private:
  using Key = std::pair<uint64_t, int>;  // job, rank: the labels of its series
  struct Rank {
    int attempt = 0;
    std::optional<Clock::time_point> remove_at;  // set once it exited
    bool warned = false;                         // about a malformed event line
  };
  void remove_expired();  // the thread: drops series whose linger has passed

  metrics::RankMetrics series_;
  const std::string worker_id_, hostname_;
  const std::chrono::milliseconds linger_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<Key, Rank> ranks_;
  bool stopping_ = false;
  std::thread remover_;  // last: starts once everything above exists
};

}  // namespace gradpool
