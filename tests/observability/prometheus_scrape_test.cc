// Debian's Prometheus, on loopback with the shipped prometheus.yml and rules.yml (the addresses and
// intervals shortened), scrapes a coordinator-side MetricsServer, discovers a worker through its
// /sd/workers, scrapes the worker's rank series and evaluates the recording rules on them.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rank_metrics.h"
#include "common/net.h"
#include "tests/child_process.h"
#include "tests/observability/http_and_tools.h"
#include "tests/test_util.h"

namespace gradpool::metrics {
namespace {

using nlohmann::json;

const char* kPrometheus = "/usr/bin/prometheus";

// Replaces every occurrence of `from` in `text`, which must have one; a failure means the shipped
// file changed shape.
void replace_all(std::string& text, const std::string& from, const std::string& to) {
  ASSERT_NE(text.find(from), std::string::npos) << "'" << from << "' is not in prometheus.yml";
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

std::string url_encode(const std::string& text) {
  std::string encoded;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      encoded += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      encoded += hex;
    }
  }
  return encoded;
}

// The result vector of an instant query, once it is not empty (or empty after 30 s).
json query_until_found(uint16_t port, const std::string& promql) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto reply = testing::http_request(port, "/api/v1/query?query=" + url_encode(promql));
    if (reply.status == 200) {
      const json result = json::parse(reply.body).at("data").at("result");
      if (!result.empty()) return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return json::array();
}

TEST(PrometheusScrape, ShippedConfigDiscoversWorkersAndEvaluatesRules) {
  if (::access(kPrometheus, X_OK) != 0) GTEST_SKIP() << kPrometheus << " is not installed";
  MetricsServer coordinator("127.0.0.1:0", Component::kCoordinator);
  MetricsServer worker("127.0.0.1:0", Component::kWorker);
  coordinator.gauge("gradpool_gpus").with({{"gpu_name", "cpu"}, {"state", "busy"}}).Set(1);
  coordinator.gauge("gradpool_gpus").with({{"gpu_name", "cpu"}, {"state", "free"}}).Set(3);
  coordinator.serve_json("/sd/workers", [&] {
    return json::array({{{"targets", {worker.address()}}, {"labels", {{"worker", "worker-a"}}}}});
  });
  RankMetrics ranks(worker.registry(), Component::kWorker);
  ranks.apply("9", 0, {{"event", "step"}, {"step", 1}, {"local_tokens", 500}, {"step_s", 0.5}});

  const auto dir = testing::temp_dir("prometheus-scrape");
  std::string config = read_file(testing::source_path("deploy/prometheus/prometheus.yml"));
  replace_all(config, "127.0.0.1:9470", coordinator.address());
  replace_all(config, "scrape_interval: 15s", "scrape_interval: 1s");
  replace_all(config, "evaluation_interval: 15s", "evaluation_interval: 1s");
  replace_all(config, "refresh_interval: 30s", "refresh_interval: 1s");
  write_file_atomic((dir / "prometheus.yml").string(), config);
  write_file_atomic((dir / "rules.yml").string(),
                    read_file(testing::source_path("deploy/prometheus/rules.yml")));

  const uint16_t port = pick_free_tcp_port();
  testing::ChildProcess prometheus(
      {kPrometheus, "--config.file=" + (dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir / "prometheus");

  const json tokens = query_until_found(port, "gradpool_train_tokens_total");
  ASSERT_EQ(tokens.size(), 1u) << prometheus.output();
  EXPECT_EQ(tokens[0]["metric"]["job_id"], "9");
  EXPECT_EQ(tokens[0]["metric"]["worker"], "worker-a");  // the label /sd/workers gave
  EXPECT_EQ(tokens[0]["metric"]["job"], "gradpool-workers");
  EXPECT_EQ(tokens[0]["value"][1], "500");

  const json utilisation = query_until_found(port, "pool:gradpool_gpu_utilisation:ratio");
  ASSERT_EQ(utilisation.size(), 1u) << prometheus.output();
  EXPECT_EQ(utilisation[0]["value"][1], "0.25");
  const json per_job = query_until_found(port, "job_id:gradpool_train_tokens_per_second:sum");
  ASSERT_EQ(per_job.size(), 1u) << prometheus.output();
  EXPECT_EQ(per_job[0]["metric"]["job_id"], "9");
  EXPECT_EQ(per_job[0]["value"][1], "1000");
  prometheus.signal(SIGTERM);
  EXPECT_TRUE(prometheus.wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
}

}  // namespace
}  // namespace gradpool::metrics
