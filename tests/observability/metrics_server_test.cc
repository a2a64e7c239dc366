// MetricsServer on loopback: /metrics over real HTTP, checked by promtool; families only from the
// catalog; JSON routes (Prometheus HTTP service discovery); bad listen addresses.
#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rank_metrics.h"
#include "tests/observability/http_and_tools.h"
#include "tests/test_util.h"

namespace gradpool::metrics {
namespace {

using testing::http_request;

// promtool check metrics on `exposition`; GTEST_SKIP-able by the caller when promtool is missing.
void expect_promtool_accepts(const std::string& exposition, const std::string& tag) {
  const auto promtool = testing::find_promtool();
  ASSERT_TRUE(promtool);
  const std::filesystem::path file = testing::temp_dir(tag) / "metrics.txt";
  write_file_atomic(file.string(), exposition);
  const auto result =
      testing::run_command(promtool->string() + " check metrics < '" + file.string() + "'");
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n--- the exposition:\n" << exposition;
}

// Runs `f`, which must throw Error with `needle` in its message.
void expect_error_naming(const std::string& needle, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(MetricsServer, ServesCoordinatorMetricsOverHttpThatPromtoolAccepts) {
  MetricsServer server("127.0.0.1:0", Component::kCoordinator);
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));
  server.gauge("gradpool_jobs").with({{"state", "queued"}}).Set(3);
  server.gauge("gradpool_jobs").with({{"state", "running"}}).Set(2);
  server.gauge("gradpool_jobs_pending").with({{"reason", "quota"}}).Set(1);
  server.gauge("gradpool_gpus")
      .with({{"gpu_name", "NVIDIA GeForce GTX 1080"}, {"state", "busy"}})
      .Set(1);
  server.gauge("gradpool_workers").with({{"state", "up"}}).Set(2);
  server.gauge("gradpool_job_attempt").with({{"job_id", "7"}}).Set(2);
  server.counter("gradpool_job_restarts_total").with({{"reason", "worker_lost"}}).Increment();
  server.counter("gradpool_job_failures_total").with({{"reason", "rank_failed"}});
  server.histogram("gradpool_queue_wait_seconds").with({}).Observe(42);
  server.histogram("gradpool_rpc_duration_seconds")
      .with({{"method", "Jobs.Submit"}})
      .Observe(0.003);
  server.histogram("gradpool_scheduler_pass_seconds").with({}).Observe(0.0002);

  const auto reply = http_request(server.port(), "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("gradpool_build_info{component=\"coordinator\",version=\""),
            std::string::npos)
      << reply.body;
  EXPECT_NE(reply.body.find("gradpool_jobs{state=\"queued\"} 3"), std::string::npos);
  EXPECT_NE(reply.body.find("gradpool_queue_wait_seconds_bucket{le=\"60\"} 1"), std::string::npos);
  if (!testing::find_promtool()) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
  expect_promtool_accepts(reply.body, "promtool-coordinator");
}

TEST(MetricsServer, ServesRankSeriesThatPromtoolAccepts) {
  MetricsServer server("127.0.0.1:0", Component::kWorker);
  RankMetrics ranks(server.registry(), Component::kWorker);
  ranks.set_placement("12", 0, {"worker-a", "node1", 0, "NVIDIA A100-SXM4-80GB", "GPU-3f2a"});
  ranks.set_placement("12", 1, {"worker-a", "node1", 1, "cpu", ""});
  ranks.apply("12", 0, {{"event", "start"}, {"rank", 0}, {"step", 0}, {"total_steps", 10}});
  ranks.apply("12", 0,
              {{"event", "step"},
               {"step", 1},
               {"loss", 2.5},
               {"lr", 1e-4},
               {"grad_norm", 0.7},
               {"tokens", 8192},
               {"local_tokens", 4096},
               {"local_samples", 8},
               {"samples", 16},
               {"step_s", 0.4},
               {"allreduce_s", 0.02},
               {"skipped", false},
               {"mfu", 0.31},
               {"gpu_memory_allocated_bytes", 1 << 30},
               {"gpu_memory_reserved_bytes", 1 << 30},
               {"gpu_memory_peak_bytes", 1 << 30}});
  ranks.apply("12", 0, {{"event", "checkpoint"}, {"step", 1}, {"seconds", 0.12}});

  const auto reply = http_request(server.port(), "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.body.find("gradpool_train_tokens_total{job_id=\"12\",rank=\"0\"} 4096"),
            std::string::npos)
      << reply.body;
  EXPECT_NE(reply.body.find("UUID=\"GPU-3f2a\""), std::string::npos);
  if (!testing::find_promtool()) GTEST_SKIP() << "promtool is not installed (Debian: prometheus)";
  expect_promtool_accepts(reply.body, "promtool-worker");
}

TEST(MetricsServer, RefusesWhatTheCatalogLacks) {
  MetricsServer coordinator("127.0.0.1:0", Component::kCoordinator);
  expect_error_naming("gradpool_jobs_total", [&] { coordinator.counter("gradpool_jobs_total"); });
  expect_error_naming("is a gauge", [&] { coordinator.counter("gradpool_jobs"); });
  expect_error_naming("coordinator", [&] { coordinator.gauge("gradpool_train_loss"); });
  expect_error_naming("{state, user}", [&] {
    coordinator.gauge("gradpool_jobs").with({{"state", "queued"}, {"user", "bob"}});
  });
  expect_error_naming("{state}", [&] { coordinator.gauge("gradpool_jobs").with({}); });
  MetricsServer worker("127.0.0.1:0", Component::kWorker);
  expect_error_naming("worker", [&] { worker.gauge("gradpool_jobs"); });
  // What was refused is not served.
  const auto reply = http_request(coordinator.port(), "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body.find("bob"), std::string::npos);
  EXPECT_EQ(reply.body.find("gradpool_jobs_total"), std::string::npos);
}

TEST(MetricsServer, BadListenAddressesAreErrorsNamingThem) {
  for (const std::string bad :
       {"nonsense", "127.0.0.1:", ":9100", "127.0.0.1:99999", "127.0.0.1:9x"})
    expect_error_naming("'" + bad + "'", [&] { MetricsServer("" + bad, Component::kWorker); });
  MetricsServer first("127.0.0.1:0", Component::kWorker);
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  expect_error_naming("'" + taken + "': cannot serve there",
                      [&] { MetricsServer(taken, Component::kWorker); });
}

TEST(MetricsServer, AnswersJsonRoutesBesideMetrics) {
  MetricsServer one("127.0.0.1:0", Component::kCoordinator);
  MetricsServer two("127.0.0.1:0", Component::kCoordinator);
  const nlohmann::json targets =
      nlohmann::json::parse(R"([{"targets":["127.0.0.1:9471"],"labels":{"worker":"worker-a"}}])");
  one.serve_json("/sd/workers", [&] { return targets; });
  two.serve_json("/sd/workers", [] { return nlohmann::json::array(); });
  two.serve_json("/broken", []() -> nlohmann::json { throw Error("the store is gone"); });

  const auto reply = http_request(one.port(), "/sd/workers");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(nlohmann::json::parse(reply.body), targets);
  // Each server answers with its own routes.
  EXPECT_EQ(nlohmann::json::parse(http_request(two.port(), "/sd/workers").body),
            nlohmann::json::array());
  EXPECT_EQ(http_request(one.port(), "/broken").status, 404);
  const auto broken = http_request(two.port(), "/broken");
  EXPECT_EQ(broken.status, 500);
  EXPECT_NE(broken.body.find("the store is gone"), std::string::npos) << broken.body;
  EXPECT_EQ(http_request(one.port(), "/sd/workers", "POST").status, 405);
  EXPECT_EQ(http_request(one.port(), "/metrics").status, 200);
}

}  // namespace
}  // namespace gradpool::metrics
