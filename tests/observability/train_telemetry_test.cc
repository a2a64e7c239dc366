// gradpool-train's own telemetry: --timeline writes a Chrome trace of each rank's step phases to a
// file of its own, and --metrics-listen serves the rank's training series where no worker relays
// them (mpirun/srun), as the real binary does it.
#include <csignal>
#include <map>
#include <set>

#include "common/net.h"
#include "tests/integration/train_process_fixture.h"
#include "tests/observability/http_and_tools.h"

namespace gradpool::testing {
namespace {

using nlohmann::json;
using TrainTelemetryTest = TrainProcess;

// The value of the sample `series` (name and labels as exposed) in `exposition`; -1 if absent.
double sample_value(const std::string& exposition, const std::string& series) {
  const size_t at = exposition.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(exposition.substr(at + series.size() + 2));
}

TEST_F(TrainTelemetryTest, TimelineOfEachRankShowsEveryPhase) {
  constexpr int kWorld = 2, kSteps = 10;
  // Two sequences per rank and step, one per micro-batch: two forward and backward passes.
  const Args args = command(job("out").set("batch", "{global: 4, micro: 1}"), "out",
                            {"--world-size", std::to_string(kWorld), "--rendezvous",
                             "tcp://127.0.0.1:" + std::to_string(pick_free_tcp_port()), "--backend",
                             "gloo", "--timeline", (dir_ / "trace" / "rank-{rank}.json").string()});
  std::vector<std::unique_ptr<Child>> ranks;
  for (int rank = 0; rank < kWorld; ++rank) {
    Args with_rank = args;
    with_rank.insert(with_rank.end(), {"--rank", std::to_string(rank)});
    ranks.push_back(std::make_unique<Child>(with_rank, next_log()));
  }
  for (auto& rank : ranks) ASSERT_EQ(rank->wait(), 0) << rank->stderr_text();

  for (int rank = 0; rank < kWorld; ++rank) {
    const fs::path path = dir_ / "trace" / ("rank-" + std::to_string(rank) + ".json");
    const json trace = json::parse(read_file(path.string()), nullptr, false);
    ASSERT_TRUE(trace.is_array()) << path << ":\n" << read_file(path.string());
    std::map<std::string, int> count;
    std::set<int64_t> micro_batches;
    std::vector<int64_t> steps;
    bool named = false;
    for (const json& event : trace) {
      EXPECT_EQ(event.at("pid"), rank) << event;
      if (event.at("ph") == "M") {
        named |= event.at("name") == "process_name" &&
                 event.at("args").at("name") == "rank " + std::to_string(rank);
        continue;
      }
      ASSERT_EQ(event.at("ph"), "X") << event;
      EXPECT_GE(event.at("dur").get<int64_t>(), 0) << event;
      const std::string name = event.at("name");
      ++count[name];
      if (name == "forward")
        micro_batches.insert(event.at("args").at("micro_batch").get<int64_t>());
      if (name == "step") steps.push_back(event.at("args").at("step"));
    }
    EXPECT_TRUE(named) << path;
    EXPECT_EQ(count["step"], kSteps) << path;
    EXPECT_EQ(count["data_wait"], kSteps) << path;
    EXPECT_EQ(count["forward"], 2 * kSteps) << path;
    EXPECT_EQ(count["backward"], 2 * kSteps) << path;
    EXPECT_EQ(count["allreduce"], kSteps) << path;
    EXPECT_EQ(count["optimizer"], kSteps) << path;
    EXPECT_EQ(count["checkpoint"], kSteps / 2) << path;  // every 2 steps, the last at the end
    EXPECT_EQ(micro_batches, (std::set<int64_t>{0, 1})) << path;
    ASSERT_EQ(steps.size(), static_cast<size_t>(kSteps));
    for (int step = 0; step < kSteps; ++step) EXPECT_EQ(steps[step], step + 1) << path;
  }
}

TEST_F(TrainTelemetryTest, ARankWithoutAWorkerServesItsOwnMetrics) {
  const uint16_t port = pick_free_tcp_port();
  Child child(command(job("out").set("steps", "100000"), "out",
                      {"--metrics-listen", "127.0.0.1:" + std::to_string(port)}),
              next_log());
  const std::string tokens = "gradpool_train_tokens_total{job_id=\"it\",rank=\"0\"}";
  HttpReply reply;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (sample_value(reply.body, tokens) <= 0) {
    ASSERT_TRUE(child.running()) << child.stderr_text();
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << reply.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    reply = http_request(port, "/metrics");
  }
  EXPECT_GT(sample_value(reply.body, "gradpool_train_samples_total{job_id=\"it\",rank=\"0\"}"), 0)
      << reply.body;
  EXPECT_EQ(sample_value(reply.body, "gradpool_train_total_steps{job_id=\"it\",rank=\"0\"}"),
            100000)
      << reply.body;
  EXPECT_TRUE(contains(reply.body, "gradpool_build_info{component=\"trainer\"")) << reply.body;
  // No worker: the host names the rank's place, and a CPU rank has no GPU UUID.
  const size_t info = reply.body.find("\ngradpool_job_gpu_info{");
  ASSERT_NE(info, std::string::npos) << reply.body;
  const std::string info_line = reply.body.substr(info, reply.body.find('\n', info + 1) - info);
  for (const std::string label :
       {"UUID=\"\"", "gpu_index=\"0\"", "gpu_name=\"cpu\"", "job_id=\"it\"", "rank=\"0\""})
    EXPECT_TRUE(contains(info_line, label)) << info_line;
  // A CPU rank reports no MFU and no GPU memory: those series do not exist rather than read 0.
  EXPECT_FALSE(contains(reply.body, "gradpool_train_mfu_ratio{")) << reply.body;
  EXPECT_FALSE(contains(reply.body, "gradpool_train_gpu_memory_allocated_bytes{")) << reply.body;
  if (const auto promtool = find_promtool()) {
    write_file_atomic((dir_ / "metrics.txt").string(), reply.body);
    const CommandResult check = run_command(promtool->string() + " check metrics < '" +
                                            (dir_ / "metrics.txt").string() + "'");
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << reply.body;
  }
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(), 128 + SIGTERM) << child.stderr_text();
}

TEST_F(TrainTelemetryTest, BadTelemetryFlagsAreNamed) {
  write_file_atomic((dir_ / "a-file").string(), "not a directory");
  expect_rejected(job("bad"), {"--timeline", (dir_ / "a-file" / "trace.json").string()},
                  {"--timeline", (dir_ / "a-file" / "trace.json").string()});
  expect_rejected(job("bad"), {"--metrics-listen", "nowhere"}, {"--metrics-listen", "nowhere"});
}

}  // namespace
}  // namespace gradpool::testing
