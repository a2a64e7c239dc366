#include "common/metrics/metrics_catalog.h"

#include "common/error.h"

namespace gradpool::metrics {
namespace {

constexpr unsigned kCoordinator = static_cast<unsigned>(Component::kCoordinator);
constexpr unsigned kRankRelays =  // a worker relays its ranks; an mpirun rank serves itself
    static_cast<unsigned>(Component::kWorker) | static_cast<unsigned>(Component::kTrainer);
constexpr unsigned kEveryone = kCoordinator | kRankRelays;

// Buckets sized for what they time: a GTX 1080 step takes seconds, an H100 step a tenth of one;
// a queue wait ranges from a second to a day.
const std::vector<double> kStepBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                          2.5,  5,     10,   25,  60,   120, 300};
const std::vector<double> kAllReduceBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kCheckpointBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                                5,    10,   30,  60,   120, 300};
const std::vector<double> kQueueWaitBuckets = {1,   5,    15,   30,   60,    120,   300,
                                               600, 1800, 3600, 7200, 14400, 28800, 86400};
const std::vector<double> kRpcBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kSchedulerBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                               0.025,  0.05,    0.1,    0.25,  0.5,    1};

const std::vector<std::string> kRank = {"job_id", "rank"};

std::vector<MetricSpec> build_catalog() {
  using T = MetricType;
  return {
      // The pool, as the coordinator sees it.
      {"gradpool_jobs",
       T::kGauge,
       "Jobs by state: queued, starting, running, succeeded, failed, cancelled.",
       {"state"},
       {},
       kCoordinator},
      {"gradpool_jobs_pending",
       T::kGauge,
       "Queued jobs by why they wait: waiting_for_gpus, priority, quota, no_matching_gpus, "
       "stopping_previous.",
       {"reason"},
       {},
       kCoordinator},
      {"gradpool_queue_wait_seconds",
       T::kHistogram,
       "Seconds from submit (or requeue) to placement, one observation per placed attempt.",
       {},
       kQueueWaitBuckets,
       kCoordinator},
      {"gradpool_gpus",
       T::kGauge,
       "GPU slots of registered workers (CPU slots have gpu_name cpu) by model and state: free, "
       "busy, lost.",
       {"gpu_name", "state"},
       {},
       kCoordinator},
      {"gradpool_workers",
       T::kGauge,
       "Registered workers by state: up, lost.",
       {"state"},
       {},
       kCoordinator},
      {"gradpool_job_attempt",
       T::kGauge,
       "Attempt number of each job that is not final yet: 1 for the first run, +1 per restart.",
       {"job_id"},
       {},
       kCoordinator},
      {"gradpool_job_restarts_total",
       T::kCounter,
       "Jobs requeued for another attempt, by reason: rank_failed, worker_lost.",
       {"reason"},
       {},
       kCoordinator},
      {"gradpool_job_failures_total",
       T::kCounter,
       "Jobs that ended FAILED (restarts used up), by reason: rank_failed, worker_lost.",
       {"reason"},
       {},
       kCoordinator},
      {"gradpool_rpc_duration_seconds",
       T::kHistogram,
       "Seconds the coordinator spent handling a gRPC call, by method (Service.Method); "
       "streaming calls count until the stream ends.",
       {"method"},
       kRpcBuckets,
       kCoordinator},
      {"gradpool_scheduler_pass_seconds",
       T::kHistogram,
       "Seconds one scheduling pass took.",
       {},
       kSchedulerBuckets,
       kCoordinator},

      // Training, one series per rank of a running job (rank report events, docs/service.md).
      {"gradpool_train_tokens_total",
       T::kCounter,
       "Label tokens this rank trained on (its share of each global batch).",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_samples_total",
       T::kCounter,
       "Sequences this rank trained on (its share of each global batch).",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_step_seconds", T::kHistogram,
       "Wall seconds of one optimizer step on this rank, all-reduce included.", kRank, kStepBuckets,
       kRankRelays},
      {"gradpool_train_allreduce_seconds", T::kHistogram,
       "Seconds of one optimizer step spent in the gradient all-reduce.", kRank, kAllReduceBuckets,
       kRankRelays},
      {"gradpool_train_loss",
       T::kGauge,
       "Training loss of the last optimizer step.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_learning_rate",
       T::kGauge,
       "Learning rate of the last optimizer step.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_grad_norm",
       T::kGauge,
       "Gradient norm (before clipping) of the last optimizer step.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_tokens_per_second",
       T::kGauge,
       "Label tokens per second this rank trained on over its last 10 steps.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_mfu_ratio",
       T::kGauge,
       "Model FLOPs utilisation (0-1) of this rank's GPU; only where the GPU's peak is known.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_gpu_memory_allocated_bytes",
       T::kGauge,
       "Bytes of GPU memory this rank's tensors hold.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_gpu_memory_reserved_bytes",
       T::kGauge,
       "Bytes of GPU memory this rank's caching allocator holds.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_gpu_memory_peak_bytes",
       T::kGauge,
       "Most bytes of GPU memory this rank's tensors held at once.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_loss_scale_skips_total",
       T::kCounter,
       "Optimizer steps skipped by fp16 loss scaling (gradients overflowed).",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_checkpoint_seconds", T::kHistogram,
       "Seconds one checkpoint took (rank 0 writes, every rank waits).", kRank, kCheckpointBuckets,
       kRankRelays},
      {"gradpool_train_step",
       T::kGauge,
       "Optimizer steps done; a restarted attempt resumes from its checkpoint's step.",
       kRank,
       {},
       kRankRelays},
      {"gradpool_train_total_steps",
       T::kGauge,
       "Optimizer steps the job runs in all.",
       kRank,
       {},
       kRankRelays},

      // Metadata: value 1, the labels are the information.
      {"gradpool_job_gpu_info",
       T::kGauge,
       "Which GPU each running rank uses; join DCGM exporter series on(UUID) to get job_id.",
       {"job_id", "rank", "worker", "hostname", "gpu_index", "gpu_name", "UUID"},
       {},
       kRankRelays},
      {"gradpool_build_info",
       T::kGauge,
       "The gradpool version this process runs.",
       {"version", "component"},
       {},
       kEveryone},
  };
}

}  // namespace

std::string_view component_name(Component component) {
  switch (component) {
    case Component::kCoordinator:
      return "coordinator";
    case Component::kWorker:
      return "worker";
    case Component::kTrainer:
      return "trainer";
  }
  return "unknown";
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "unknown";
}

const std::vector<MetricSpec>& catalog() {
  static const std::vector<MetricSpec> specs = build_catalog();
  return specs;
}

const MetricSpec& find_metric(std::string_view name) {
  for (const MetricSpec& spec : catalog())
    if (spec.name == name) return spec;
  fail("metric '{}' is not in the metrics catalog (common/metrics/metrics_catalog.cc)", name);
}

}  // namespace gradpool::metrics
