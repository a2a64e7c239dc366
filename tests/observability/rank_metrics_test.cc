// RankMetrics: rank report events (docs/service.md) become per-rank series with the right values;
// bad events change nothing; remove() drops every series of a rank and only those.
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/metrics/rank_metrics.h"

namespace gradpool::metrics {
namespace {

using nlohmann::json;

// The series of `name` whose labels include `labels`, as the registry collects it.
std::optional<prometheus::ClientMetric> series(const prometheus::Registry& registry,
                                               const std::string& name,
                                               const prometheus::Labels& labels) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      size_t matched = 0;
      for (const auto& label : metric.label)
        matched += labels.count(label.name) && labels.at(label.name) == label.value;
      if (matched == labels.size()) return metric;
    }
  }
  return std::nullopt;
}

// How many series in the registry carry `job_id`.
int series_of_job(const prometheus::Registry& registry, const std::string& job_id) {
  int count = 0;
  for (const prometheus::MetricFamily& family : registry.Collect())
    for (const prometheus::ClientMetric& metric : family.metric)
      for (const auto& label : metric.label)
        count += label.name == "job_id" && label.value == job_id;
  return count;
}

std::string exposition(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

json step_event(int step, int64_t local_tokens, double step_s, bool skipped = false) {
  return {{"event", "step"},
          {"step", step},
          {"total_steps", 100},
          {"loss", 3.0 - step},
          {"lr", 2e-4},
          {"grad_norm", 0.5 + step},
          {"tokens", 2 * local_tokens},
          {"local_tokens", local_tokens},
          {"samples", 16},
          {"local_samples", 8},
          {"step_s", step_s},
          {"allreduce_s", 0.01 * step},
          {"skipped", skipped}};
}

const prometheus::Labels kRank0 = {{"job_id", "5"}, {"rank", "0"}};

TEST(RankMetrics, StepEventsBecomeCountersGaugesAndHistograms) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kWorker);
  metrics.apply(
      "5", 0,
      {{"event", "start"}, {"rank", 0}, {"world_size", 2}, {"step", 20}, {"total_steps", 100}});
  EXPECT_EQ(series(registry, "gradpool_train_tokens_total", kRank0)->counter.value, 0);
  EXPECT_EQ(series(registry, "gradpool_train_step", kRank0)->gauge.value, 20);

  metrics.apply("5", 0, step_event(21, 1000, 0.5));
  metrics.apply("5", 0, step_event(22, 3000, 1.5, /*skipped=*/true));
  metrics.apply("5", 0, step_event(23, 2000, 0.5));
  metrics.apply("5", 0, {{"event", "checkpoint"}, {"step", 23}, {"seconds", 0.25}});
  metrics.apply("5", 0, {{"event", "done"}, {"step", 24}});

  EXPECT_EQ(series(registry, "gradpool_train_tokens_total", kRank0)->counter.value, 6000);
  EXPECT_EQ(series(registry, "gradpool_train_samples_total", kRank0)->counter.value, 24);
  EXPECT_EQ(series(registry, "gradpool_train_loss_scale_skips_total", kRank0)->counter.value, 1);
  EXPECT_EQ(series(registry, "gradpool_train_step", kRank0)->gauge.value, 24);
  EXPECT_EQ(series(registry, "gradpool_train_total_steps", kRank0)->gauge.value, 100);
  EXPECT_EQ(series(registry, "gradpool_train_loss", kRank0)->gauge.value, 3.0 - 23);
  EXPECT_EQ(series(registry, "gradpool_train_grad_norm", kRank0)->gauge.value, 23.5);
  EXPECT_DOUBLE_EQ(series(registry, "gradpool_train_learning_rate", kRank0)->gauge.value, 2e-4);
  // 6000 tokens over 2.5 s of steps.
  EXPECT_DOUBLE_EQ(series(registry, "gradpool_train_tokens_per_second", kRank0)->gauge.value, 2400);
  const auto steps = series(registry, "gradpool_train_step_seconds", kRank0)->histogram;
  EXPECT_EQ(steps.sample_count, 3u);
  EXPECT_DOUBLE_EQ(steps.sample_sum, 2.5);
  const auto allreduce = series(registry, "gradpool_train_allreduce_seconds", kRank0)->histogram;
  EXPECT_EQ(allreduce.sample_count, 3u);
  EXPECT_NEAR(allreduce.sample_sum, 0.66, 1e-12);
  const auto checkpoint = series(registry, "gradpool_train_checkpoint_seconds", kRank0)->histogram;
  EXPECT_EQ(checkpoint.sample_count, 1u);
  EXPECT_DOUBLE_EQ(checkpoint.sample_sum, 0.25);
  // Not reported (no GPU): no series at all rather than a misleading zero.
  EXPECT_FALSE(series(registry, "gradpool_train_mfu_ratio", kRank0));
  EXPECT_FALSE(series(registry, "gradpool_train_gpu_memory_peak_bytes", kRank0));
}

TEST(RankMetrics, TokensPerSecondSpansTheLastTenSteps) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kTrainer);
  for (int step = 1; step <= 5; ++step) metrics.apply("5", 0, step_event(step, 100, 10.0));
  for (int step = 6; step <= 15; ++step) metrics.apply("5", 0, step_event(step, 1000, 1.0));
  EXPECT_DOUBLE_EQ(series(registry, "gradpool_train_tokens_per_second", kRank0)->gauge.value, 1000);
  // A restarted attempt (a new start event) does not average over the previous one.
  metrics.apply("5", 0, {{"event", "start"}, {"rank", 0}, {"step", 10}});
  metrics.apply("5", 0, step_event(11, 30, 2.0));
  EXPECT_DOUBLE_EQ(series(registry, "gradpool_train_tokens_per_second", kRank0)->gauge.value, 15);
}

TEST(RankMetrics, GpuFiguresAndPlacementAreExported) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kWorker);
  json event = step_event(1, 100, 1.0);
  event["mfu"] = 0.42;
  event["gpu_memory_allocated_bytes"] = int64_t{5} << 30;
  event["gpu_memory_reserved_bytes"] = int64_t{6} << 30;
  event["gpu_memory_peak_bytes"] = int64_t{7} << 30;
  metrics.apply("5", 0, event);
  EXPECT_DOUBLE_EQ(series(registry, "gradpool_train_mfu_ratio", kRank0)->gauge.value, 0.42);
  EXPECT_EQ(series(registry, "gradpool_train_gpu_memory_allocated_bytes", kRank0)->gauge.value,
            double(int64_t{5} << 30));
  EXPECT_EQ(series(registry, "gradpool_train_gpu_memory_reserved_bytes", kRank0)->gauge.value,
            double(int64_t{6} << 30));
  EXPECT_EQ(series(registry, "gradpool_train_gpu_memory_peak_bytes", kRank0)->gauge.value,
            double(int64_t{7} << 30));

  metrics.set_placement("5", 0, {"worker-a", "node1", 0, "NVIDIA GeForce GTX 1080", "GPU-aaaa"});
  metrics.set_placement("5", 0, {"worker-b", "node2", 1, "NVIDIA GeForce GTX 1080", "GPU-bbbb"});
  EXPECT_FALSE(series(registry, "gradpool_job_gpu_info", {{"UUID", "GPU-aaaa"}}));
  const auto info = series(registry, "gradpool_job_gpu_info", {{"UUID", "GPU-bbbb"}});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->gauge.value, 1);
  EXPECT_TRUE(series(registry, "gradpool_job_gpu_info",
                     {{"job_id", "5"},
                      {"rank", "0"},
                      {"worker", "worker-b"},
                      {"hostname", "node2"},
                      {"gpu_index", "1"}}));

  // The rank exits: its GPU mapping goes at once, its training series stay until remove().
  metrics.clear_placement("5", 0);
  metrics.clear_placement("5", 0);
  EXPECT_FALSE(series(registry, "gradpool_job_gpu_info", kRank0));
  EXPECT_TRUE(series(registry, "gradpool_train_mfu_ratio", kRank0));
}

TEST(RankMetrics, RemoveDropsEveryRankSeriesAndOnlyThose) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kWorker);
  for (const auto& [job, rank] : {std::pair{"5", 0}, {"5", 1}, {"6", 0}}) {
    metrics.set_placement(job, rank, {"w", "h", rank, "cpu", ""});
    metrics.apply(job, rank, {{"event", "start"}, {"rank", rank}, {"step", 0}});
    json event = step_event(1, 100, 1.0);
    event["mfu"] = 0.1;
    metrics.apply(job, rank, event);
    metrics.apply(job, rank, {{"event", "checkpoint"}, {"step", 1}, {"seconds", 1.0}});
  }
  // 3 counters, 3 histograms, 7 gauges (no GPU memory reported), the GPU mapping.
  const int per_job6 = series_of_job(registry, "6");
  EXPECT_EQ(per_job6, 14);
  EXPECT_EQ(series_of_job(registry, "5"), 2 * per_job6);

  metrics.remove("5", 0);
  EXPECT_EQ(series_of_job(registry, "5"), per_job6);  // rank 1 left
  EXPECT_FALSE(series(registry, "gradpool_train_loss", kRank0));
  EXPECT_FALSE(series(registry, "gradpool_job_gpu_info", kRank0));
  EXPECT_TRUE(series(registry, "gradpool_train_loss", {{"job_id", "5"}, {"rank", "1"}}));
  metrics.remove("5", 1);
  metrics.remove("5", 1);  // twice, and a rank never seen: no-ops
  metrics.remove("99", 0);
  EXPECT_EQ(series_of_job(registry, "5"), 0);
  EXPECT_EQ(series_of_job(registry, "6"), per_job6);

  // A job id reused after removal starts from zero.
  metrics.apply("5", 0, step_event(1, 7, 1.0));
  EXPECT_EQ(series(registry, "gradpool_train_tokens_total", kRank0)->counter.value, 7);
}

TEST(RankMetrics, BadEventsAreErrorsNamingTheFieldAndChangeNothing) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kWorker);
  metrics.apply("5", 0, step_event(1, 100, 1.0));
  const std::string before = exposition(registry);

  auto with = [](const char* key, json value) {
    json event = step_event(2, 100, 1.0);
    event[key] = std::move(value);
    return event;
  };
  const std::vector<std::pair<json, std::string>> bad = {
      {json::array(), "not a JSON object"},
      {{{"step", 1}}, "field 'event'"},
      {{{"event", "explode"}}, "unknown event"},
      {with("loss", "high"), "field 'loss'"},
      {with("local_tokens", -5), "field 'local_tokens'"},
      {with("local_tokens", 1.5), "field 'local_tokens'"},
      {with("step_s", -1.0), "field 'step_s'"},
      {with("skipped", 1), "field 'skipped'"},
      {with("gpu_memory_peak_bytes", "lots"), "field 'gpu_memory_peak_bytes'"},
      {{{"event", "checkpoint"}, {"seconds", "slow"}}, "field 'seconds'"},
      {{{"event", "start"}, {"total_steps", -1}}, "field 'total_steps'"},
  };
  for (const auto& [event, needle] : bad) {
    SCOPED_TRACE(event.dump());
    try {
      metrics.apply("5", 0, event);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(metrics.apply("5", -1, step_event(2, 100, 1.0)), Error);
  EXPECT_EQ(exposition(registry), before);
}

TEST(RankMetrics, NullAndAbsentFieldsLeaveTheirSeries) {
  prometheus::Registry registry;
  RankMetrics metrics(registry, Component::kWorker);
  metrics.apply("5", 0, step_event(1, 100, 1.0));
  json diverged = step_event(2, 100, 1.0);
  diverged["loss"] = nullptr;  // how a rank writes a non-finite loss
  diverged.erase("grad_norm");
  metrics.apply("5", 0, diverged);
  EXPECT_EQ(series(registry, "gradpool_train_loss", kRank0)->gauge.value, 2.0);
  EXPECT_EQ(series(registry, "gradpool_train_grad_norm", kRank0)->gauge.value, 1.5);
  EXPECT_EQ(series(registry, "gradpool_train_step", kRank0)->gauge.value, 2);
}

TEST(RankMetrics, TheCoordinatorCannotRelayRankSeries) {
  prometheus::Registry registry;
  EXPECT_THROW(RankMetrics(registry, Component::kCoordinator), Error);
}

}  // namespace
}  // namespace gradpool::metrics
