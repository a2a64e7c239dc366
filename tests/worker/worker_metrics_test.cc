// The gradpool-worker binary's /metrics: the series of a real gradpool-train rank it runs, relayed
// from the rank's report events, which GPU slot the rank uses while it runs, the address it
// registers for Prometheus' service discovery, and its metrics flags.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "tests/child_process.h"
#include "tests/observability/http_and_tools.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/rank_fixture.h"
#include "tests/worker/test_servers.h"

namespace gradpool::testing {
namespace {

// The value of the sample `series` (name and labels as exposed) in `exposition`; -1 if absent.
double sample_value(const std::string& exposition, const std::string& series) {
  const size_t at = exposition.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(exposition.substr(at + series.size() + 2));
}

// The line of the first sample of `name` in `exposition`; empty if there is none.
std::string sample_line(const std::string& exposition, const std::string& name) {
  const size_t at = exposition.find("\n" + name + "{");
  return at == std::string::npos
             ? ""
             : exposition.substr(at + 1, exposition.find('\n', at + 1) - at - 1);
}

class WorkerMetricsTest : public TrainProcess {
 protected:
  void SetUp() override {
    TrainProcess::SetUp();
    std::ofstream(dir_ / "token") << FakeWorkersService::kToken << "\n";
  }
  std::unique_ptr<ChildProcess> worker(const std::string& coordinator, const Args& extra) {
    Args args = {GRADPOOL_WORKER_BIN,
                 "--coordinator",
                 coordinator,
                 "--token-file",
                 (dir_ / "token").string(),
                 "--id",
                 "w1",
                 "--cpu-slots",
                 "1",
                 "--cache-dir",
                 (dir_ / "cache").string(),
                 "--train-bin",
                 GRADPOOL_TRAIN_BIN,
                 "--stop-grace-s",
                 "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_ / ("worker-" + std::to_string(++runs_)));
  }
  // The port the worker wrote to `file` once it served; 0 if it never did.
  static uint16_t port_in(const fs::path& file) {
    if (!eventually([&] { return fs::exists(file); })) return 0;
    return static_cast<uint16_t>(std::stoi(read_file(file.string())));
  }
  int runs_ = 0;
};

TEST_F(WorkerMetricsTest, ServesTheSeriesOfTheRanksItRuns) {
  FakeWorkersService workers;
  TestServer server({&workers});
  const v1::RankAssignment assignment =
      assignment_for(yaml_of(job("out").set("steps", "100000"), dir_ / "job.yaml"));
  v1::HeartbeatResponse start;
  *start.add_start() = assignment;
  workers.answer_next(start);
  const fs::path port_file = dir_ / "metrics-port";
  auto daemon = worker(server.address(), {"--metrics-listen", "127.0.0.1:0", "--metrics-port-file",
                                          port_file.string()});
  const uint16_t port = port_in(port_file);
  ASSERT_NE(port, 0) << daemon->stderr_text();
  ASSERT_TRUE(
      workers.wait_for([](const auto& registers, const auto&) { return !registers.empty(); }));
  EXPECT_EQ(workers.registers()[0].metrics_address(), "127.0.0.1:" + std::to_string(port));

  const std::string tokens = "gradpool_train_tokens_total{job_id=\"1\",rank=\"0\"}";
  std::string metrics;
  ASSERT_TRUE(eventually([&] {
    metrics = http_request(port, "/metrics").body;
    return sample_value(metrics, tokens) > 0;
  })) << metrics
      << daemon->stderr_text();
  EXPECT_GT(sample_value(metrics, "gradpool_train_step{job_id=\"1\",rank=\"0\"}"), 0) << metrics;
  EXPECT_EQ(sample_value(metrics, "gradpool_train_total_steps{job_id=\"1\",rank=\"0\"}"), 100000)
      << metrics;
  EXPECT_GT(sample_value(metrics, "gradpool_train_step_seconds_count{job_id=\"1\",rank=\"0\"}"), 0)
      << metrics;
  EXPECT_TRUE(contains(metrics, "gradpool_build_info{component=\"worker\"")) << metrics;
  const std::string info = sample_line(metrics, "gradpool_job_gpu_info");
  for (const std::string label : {"UUID=\"\"", "gpu_index=\"0\"", "gpu_name=\"cpu\"",
                                  "job_id=\"1\"", "rank=\"0\"", "worker=\"w1\""})
    EXPECT_TRUE(contains(info, label)) << info;
  EXPECT_TRUE(contains(info, "} 1")) << info;

  // Stopped, the rank no longer holds its slot; its final counts stay for Prometheus to scrape.
  v1::HeartbeatResponse stop;
  *stop.add_stop() = assignment.ref();
  workers.answer_next(stop);
  ASSERT_TRUE(workers.wait_for([](const auto&, const auto& heartbeats) {
    const v1::RankReport* report = last_report(heartbeats);
    return report && report->exited();
  })) << daemon->stderr_text();
  metrics = http_request(port, "/metrics").body;
  EXPECT_EQ(sample_line(metrics, "gradpool_job_gpu_info"), "") << metrics;
  EXPECT_GT(sample_value(metrics, tokens), 0) << metrics;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0) << daemon->stderr_text();
}

TEST_F(WorkerMetricsTest, ATakenDefaultPortGivesWayToAFreeOne) {
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(9471);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(holder, 1) != 0) {
    ::close(holder);
    GTEST_SKIP() << "127.0.0.1:9471 is busy with something that may let go of it any time";
  }
  const fs::path port_file = dir_ / "metrics-port";
  auto daemon = worker("127.0.0.1:1", {"--metrics-port-file", port_file.string()});
  const uint16_t port = port_in(port_file);
  ::close(holder);
  ASSERT_NE(port, 0) << daemon->stderr_text();
  EXPECT_NE(port, 9471);
  EXPECT_EQ(http_request(port, "/metrics").status, 200);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0) << daemon->stderr_text();
  EXPECT_TRUE(contains(daemon->stderr_text(), "--metrics-listen 127.0.0.1:9471 (the default)"))
      << daemon->stderr_text();
}

TEST_F(WorkerMetricsTest, BadMetricsFlagsAreNamed) {
  auto bad_address = worker("127.0.0.1:1", {"--metrics-listen", "nowhere"});
  EXPECT_EQ(bad_address->wait(), 1);
  EXPECT_TRUE(contains(bad_address->stderr_text(),
                       "--metrics-listen: metrics listen address "
                       "'nowhere'"))
      << bad_address->stderr_text();
  auto no_port = worker(
      "127.0.0.1:1", {"--metrics-listen", "off", "--metrics-port-file", (dir_ / "port").string()});
  EXPECT_EQ(no_port->wait(), 1);
  EXPECT_TRUE(contains(no_port->stderr_text(), "--metrics-listen is off"))
      << no_port->stderr_text();
  EXPECT_FALSE(fs::exists(dir_ / "port"));
}

}  // namespace
}  // namespace gradpool::testing
