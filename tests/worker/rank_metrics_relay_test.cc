// RankMetricsRelay: report event lines of a worker's ranks become their series, the GPU mapping
// lives as long as the rank runs, and the series go a while after it exited — unless the job's
// next attempt starts the rank again on this worker.
#include "worker/daemon/rank_metrics_relay.h"

#include <chrono>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace gradpool::testing {
namespace {

// How many series of `name` carry job_id `job_id`; the value of the last one in `value`.
int series_count(const prometheus::Registry& registry, const std::string& name,
                 const std::string& job_id, double* value = nullptr) {
  int count = 0;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric)
      for (const auto& label : metric.label)
        if (label.name == "job_id" && label.value == job_id) {
          ++count;
          if (value)
            *value = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                    : metric.gauge.value;
        }
  }
  return count;
}

v1::RankRef ref_of(uint64_t job, int attempt, int rank) {
  v1::RankRef ref;
  ref.set_job_id(job);
  ref.set_attempt(attempt);
  ref.set_rank(rank);
  return ref;
}

Slot gpu_slot() {
  Slot slot;
  slot.index = 3;
  slot.name = "NVIDIA A100-SXM4-80GB";
  slot.uuid = "GPU-0a1b2c3d-0000-1111-2222-333344445555";
  slot.gpu = true;
  return slot;
}

const char* kStep =
    R"({"event":"step","step":1,"total_steps":9,"loss":2.5,"lr":0.001,"grad_norm":0.5,)"
    R"("tokens":800,"local_tokens":400,"samples":4,"local_samples":2,"step_s":0.2,)"
    R"("allreduce_s":0.01,"skipped":false})";

TEST(RankMetricsRelay, RelaysEventsAndPlacementThenDropsTheSeriesAfterTheLinger) {
  prometheus::Registry registry;
  RankMetricsRelay relay(registry, "worker-a", "node-1", std::chrono::milliseconds(300));
  const v1::RankRef rank = ref_of(7, 1, 1);
  relay.started(rank, gpu_slot());
  relay.event(rank, R"({"event":"start","rank":1,"world_size":2,"step":0,"total_steps":9})");
  relay.event(rank, kStep);
  relay.event(rank, "not an event");                               // logged, ignored
  relay.event(rank, R"({"event":"step","local_tokens":"many"})");  // ditto

  double value = 0;
  EXPECT_EQ(series_count(registry, "gradpool_train_tokens_total", "7", &value), 1);
  EXPECT_EQ(value, 400);
  EXPECT_EQ(series_count(registry, "gradpool_train_samples_total", "7", &value), 1);
  EXPECT_EQ(value, 2);
  ASSERT_EQ(series_count(registry, "gradpool_job_gpu_info", "7"), 1);
  for (const prometheus::MetricFamily& family : registry.Collect())
    if (family.name == "gradpool_job_gpu_info") {
      std::map<std::string, std::string> labels;
      for (const auto& label : family.metric.at(0).label) labels[label.name] = label.value;
      EXPECT_EQ(labels, (std::map<std::string, std::string>{
                            {"job_id", "7"},
                            {"rank", "1"},
                            {"worker", "worker-a"},
                            {"hostname", "node-1"},
                            {"gpu_index", "3"},
                            {"gpu_name", "NVIDIA A100-SXM4-80GB"},
                            {"UUID", "GPU-0a1b2c3d-0000-1111-2222-333344445555"}}));
    }

  relay.exited(rank);
  // The GPU may run another rank at once; the final counts stay for Prometheus to scrape.
  EXPECT_EQ(series_count(registry, "gradpool_job_gpu_info", "7"), 0);
  EXPECT_EQ(series_count(registry, "gradpool_train_tokens_total", "7"), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (series_count(registry, "gradpool_train_tokens_total", "7") != 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(series_count(registry, "gradpool_train_tokens_total", "7"), 0);
  EXPECT_EQ(series_count(registry, "gradpool_train_step", "7"), 0);
}

TEST(RankMetricsRelay, TheNextAttemptOnThisWorkerKeepsTheSeries) {
  prometheus::Registry registry;
  RankMetricsRelay relay(registry, "worker-a", "node-1", std::chrono::milliseconds(200));
  relay.started(ref_of(7, 1, 0), cpu_slots(1)[0]);
  relay.event(ref_of(7, 1, 0), kStep);
  relay.exited(ref_of(7, 1, 0));
  relay.started(ref_of(7, 2, 0), cpu_slots(1)[0]);  // requeued, placed here again
  relay.exited(ref_of(7, 1, 0));                    // a late word about the old attempt
  relay.event(ref_of(7, 2, 0), kStep);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));

  double value = 0;
  EXPECT_EQ(series_count(registry, "gradpool_train_tokens_total", "7", &value), 1);
  EXPECT_EQ(value, 800);  // the counter goes on across attempts
  EXPECT_EQ(series_count(registry, "gradpool_job_gpu_info", "7"), 1);
}

}  // namespace
}  // namespace gradpool::testing
