#include "coordinator/pool_metrics.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace gradpool {
namespace {

using metrics::Component;

const char* reason_label(AttemptFailure why) {
  return why == AttemptFailure::kRankFailed ? "rank_failed" : "worker_lost";
}

// The label value of an enum value's name: without its prefix, lower case
// ("JOB_SUCCEEDED" → "succeeded", "REASON_NO_MATCHING_GPUS" → "no_matching_gpus").
std::string label_of(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  std::string label(name);
  std::transform(label.begin(), label.end(), label.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return label;
}

// Sets `family`{label=<each value of the enum but `skipped`>} to its count in `counts`, or 0.
template <typename Enum>
void set_counts(metrics::GaugeFamily& family, const std::string& label,
                const google::protobuf::EnumDescriptor& values, Enum skipped,
                std::string_view prefix, const std::map<Enum, int64_t>& counts) {
  for (int i = 0; i < values.value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor& value = *values.value(i);
    const auto key = static_cast<Enum>(value.number());
    if (key == skipped) continue;
    const auto found = counts.find(key);
    family.with({{label, label_of(value.name(), prefix)}})
        .Set(found == counts.end() ? 0.0 : static_cast<double>(found->second));
  }
}

const char* const kSlotStates[] = {"free", "busy", "lost"};

}  // namespace

PoolMetrics::PoolMetrics(prometheus::Registry& registry)
    : jobs_(registry, Component::kCoordinator, "gradpool_jobs"),
      pending_(registry, Component::kCoordinator, "gradpool_jobs_pending"),
      gpus_(registry, Component::kCoordinator, "gradpool_gpus"),
      workers_(registry, Component::kCoordinator, "gradpool_workers"),
      attempts_(registry, Component::kCoordinator, "gradpool_job_attempt"),
      restarts_(registry, Component::kCoordinator, "gradpool_job_restarts_total"),
      failures_(registry, Component::kCoordinator, "gradpool_job_failures_total"),
      rpc_durations_(registry, Component::kCoordinator, "gradpool_rpc_duration_seconds"),
      queue_wait_(
          metrics::HistogramFamily(registry, Component::kCoordinator, "gradpool_queue_wait_seconds")
              .with({})),
      pass_seconds_(metrics::HistogramFamily(registry, Component::kCoordinator,
                                             "gradpool_scheduler_pass_seconds")
                        .with({})) {
  // Counters exist from the start, so that rate() sees their first increments.
  for (const AttemptFailure why : {AttemptFailure::kRankFailed, AttemptFailure::kWorkerLost}) {
    restarts_.with({{"reason", reason_label(why)}});
    failures_.with({{"reason", reason_label(why)}});
  }
}

void PoolMetrics::job_restarted(AttemptFailure why) {
  restarts_.with({{"reason", reason_label(why)}}).Increment();
}

void PoolMetrics::job_failed(AttemptFailure why) {
  failures_.with({{"reason", reason_label(why)}}).Increment();
}

void PoolMetrics::job_placed(double queue_wait_seconds) {
  queue_wait_.Observe(std::max(0.0, queue_wait_seconds));
}

prometheus::Histogram& PoolMetrics::rpc_duration(const std::string& method) {
  return rpc_durations_.with({{"method", method}});
}

void PoolMetrics::scheduling_pass(const PoolSnapshot& pool, double seconds) {
  set_counts(jobs_, "state", *v1::JobState_descriptor(), v1::JOB_STATE_UNSPECIFIED, "JOB_",
             pool.jobs_by_state);
  set_counts(pending_, "reason", *v1::PendingReason_descriptor(), v1::REASON_NONE, "REASON_",
             pool.pending_by_reason);

  std::map<v1::WorkerState, int64_t> workers_by_state;
  std::map<std::pair<std::string, std::string>, int64_t> slots;  // (gpu name, state) → count
  std::set<std::string> gpu_names;
  for (const v1::Worker& worker : pool.workers) {
    ++workers_by_state[worker.state()];
    for (const v1::Gpu& gpu : worker.gpus()) {
      gpu_names.insert(gpu.name());
      const char* state = worker.state() != v1::WORKER_UP                     ? "lost"
                          : pool.busy_slots.count({worker.id(), gpu.index()}) ? "busy"
                                                                              : "free";
      ++slots[{gpu.name(), state}];
    }
  }
  set_counts(workers_, "state", *v1::WorkerState_descriptor(), v1::WORKER_STATE_UNSPECIFIED,
             "WORKER_", workers_by_state);

  std::lock_guard held(mutex_);
  for (const std::string& name : gpu_names)
    for (const char* state : kSlotStates) {
      const auto found = slots.find({name, state});
      gpus_.with({{"gpu_name", name}, {"state", state}})
          .Set(found == slots.end() ? 0.0 : static_cast<double>(found->second));
    }
  for (const std::string& name : gpu_names_)
    if (!gpu_names.count(name))
      for (const char* state : kSlotStates) gpus_.remove({{"gpu_name", name}, {"state", state}});
  gpu_names_ = std::move(gpu_names);

  std::set<uint64_t> job_ids;
  for (const auto& [job_id, attempt] : pool.attempts) {
    attempts_.with({{"job_id", std::to_string(job_id)}}).Set(attempt);
    job_ids.insert(job_id);
  }
  for (const uint64_t job_id : job_ids_)
    if (!job_ids.count(job_id)) attempts_.remove({{"job_id", std::to_string(job_id)}});
  job_ids_ = std::move(job_ids);

  pass_seconds_.Observe(seconds);
}

nlohmann::json worker_scrape_targets(const std::vector<v1::Worker>& workers) {
  nlohmann::json groups = nlohmann::json::array();
  for (const v1::Worker& worker : workers) {
    if (worker.state() != v1::WORKER_UP || worker.metrics_address().empty()) continue;
    groups.push_back({{"targets", nlohmann::json::array({worker.metrics_address()})},
                      {"labels", {{"worker", worker.id()}, {"hostname", worker.hostname()}}}});
  }
  return groups;
}

}  // namespace gradpool
