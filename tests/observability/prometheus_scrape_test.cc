// Debian's Prometheus, on loopback with the shipped prometheus.yml and rules.yml (the addresses and
// intervals shortened), scrapes a coordinator-side MetricsServer, discovers a worker through its
// /sd/workers, scrapes the worker's rank series and evaluates the recording rules on them.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/metrics/metrics_server.h"
#include "common/metrics/rank_metrics.h"
#include "tests/observability/prometheus_server.h"
#include "tests/test_util.h"

namespace gradpool::metrics {
namespace {

using nlohmann::json;
using testing::PrometheusServer;

TEST(PrometheusScrape, ShippedConfigDiscoversWorkersAndEvaluatesRules) {
  if (!PrometheusServer::installed())
    GTEST_SKIP() << PrometheusServer::kBinary << " is not installed";
  MetricsServer coordinator("127.0.0.1:0", Component::kCoordinator);
  MetricsServer worker("127.0.0.1:0", Component::kWorker);
  coordinator.gauge("gradpool_gpus").with({{"gpu_name", "cpu"}, {"state", "busy"}}).Set(1);
  coordinator.gauge("gradpool_gpus").with({{"gpu_name", "cpu"}, {"state", "free"}}).Set(3);
  coordinator.serve_json("/sd/workers", [&] {
    return json::array({{{"targets", {worker.address()}}, {"labels", {{"worker", "worker-a"}}}}});
  });
  RankMetrics ranks(worker.registry(), Component::kWorker);
  ranks.apply("9", 0, {{"event", "step"}, {"step", 1}, {"local_tokens", 500}, {"step_s", 0.5}});

  PrometheusServer prometheus(testing::temp_dir("prometheus-scrape"), coordinator.address());
  const json tokens = prometheus.query_until("gradpool_train_tokens_total");
  ASSERT_EQ(tokens.size(), 1u) << prometheus.output();
  EXPECT_EQ(tokens[0]["metric"]["job_id"], "9");
  EXPECT_EQ(tokens[0]["metric"]["worker"], "worker-a");  // the label /sd/workers gave
  EXPECT_EQ(tokens[0]["metric"]["job"], "gradpool-workers");
  EXPECT_EQ(tokens[0]["value"][1], "500");

  const json utilisation = prometheus.query_until("pool:gradpool_gpu_utilisation:ratio");
  ASSERT_EQ(utilisation.size(), 1u) << prometheus.output();
  EXPECT_EQ(utilisation[0]["value"][1], "0.25");
  const json per_job = prometheus.query_until("job_id:gradpool_train_tokens_per_second:sum");
  ASSERT_EQ(per_job.size(), 1u) << prometheus.output();
  EXPECT_EQ(per_job[0]["metric"]["job_id"], "9");
  EXPECT_EQ(per_job[0]["value"][1], "1000");
  EXPECT_TRUE(prometheus.stop());
}

}  // namespace
}  // namespace gradpool::metrics
