// The gradpool-worker binary against a scripted Workers service: flags, registration, a rank
// started and, on SIGTERM, stopped and reported before the worker exits.
#include <csignal>

#include <CLI/CLI.hpp>

#include "tests/child_process.h"
#include "tests/worker/fake_coordinator.h"
#include "tests/worker/rank_fixture.h"
#include "tests/worker/test_servers.h"

namespace gradpool::testing {
namespace {

class WorkerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ / "token") << FakeWorkersService::kToken << "\n";
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::unique_ptr<ChildProcess> worker(const Args& args, const std::vector<std::string>& env = {}) {
    Args full = {GRADPOOL_WORKER_BIN};
    full.insert(full.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(full, dir_ / ("worker-" + std::to_string(++runs_)), env);
  }

  fs::path dir_;
  int runs_ = 0;
};

TEST_F(WorkerProcessTest, RunsARankAndStopsItOnSigterm) {
  FakeWorkersService workers;
  TestServer server({&workers});
  v1::HeartbeatResponse start;
  *start.add_start() = assignment_for("name: fake\nmodel: /m\ndataset: /d.jsonl\nsteps: 9\n");
  workers.answer_next(start);
  const std::string script = write_script(
      dir_ / "fake-train.sh",
      "echo \"rank env token=$GRADPOOL_RENDEZVOUS_TOKEN worker token=${GRADPOOL_TOKEN:-none}\"\n"
      "trap 'echo checkpointed; exit 143' TERM\n"
      "while :; do sleep 0.05; done");
  auto daemon = worker({"--coordinator", server.address(), "--token-file",
                        (dir_ / "token").string(), "--id", "w1", "--cpu-slots", "2", "--cache-dir",
                        (dir_ / "cache").string(), "--train-bin", script, "--stop-grace-s", "20",
                        // Leaves the default port to the test that needs it free.
                        "--metrics-listen", "127.0.0.1:0"},
                       {"GRADPOOL_TOKEN=should-not-reach-ranks"});
  ASSERT_TRUE(workers.wait_for([](const auto&, const auto& heartbeats) {
    const v1::RankReport* report = last_report(heartbeats);
    return report && report->running() && contains(all_logs(heartbeats), "rank env");
  })) << daemon->stderr_text();
  const auto registers = workers.registers();
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0].worker_id(), "w1");
  EXPECT_EQ(registers[0].address(), "127.0.0.1");
  EXPECT_EQ(registers[0].gpus_size(), 2);
  EXPECT_TRUE(
      contains(all_logs(workers.heartbeats()), "rank env token=rdv-token worker token=none"));

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(), 0) << daemon->stderr_text();
  // The last heartbeat told how the rank ended.
  const v1::RankReport* report = last_report(workers.heartbeats());
  ASSERT_NE(report, nullptr);
  EXPECT_TRUE(report->exited());
  EXPECT_EQ(report->exit_code(), 143);
  EXPECT_TRUE(contains(all_logs(workers.heartbeats()), "checkpointed\n"));
}

TEST_F(WorkerProcessTest, BadFlagsAreNamed) {
  // Exit status 1 for what the worker checks, CLI11's own for what the flag parser does.
  const auto expect_failure = [&](int status, Args args, const std::vector<std::string>& env,
                                  const std::string& part) {
    args.insert(args.begin(), {"--coordinator", "127.0.0.1:1"});
    auto daemon = worker(args, env);
    EXPECT_EQ(daemon->wait(), status) << daemon->stderr_text();
    EXPECT_TRUE(contains(daemon->stderr_text(), part)) << daemon->stderr_text();
  };
  const std::string token = (dir_ / "token").string();
  const std::string sh = "/bin/sh";
  expect_failure(1, {"--train-bin", sh}, {"GRADPOOL_TOKEN="}, "GRADPOOL_TOKEN: the token is empty");
  expect_failure(1, {"--train-bin", sh, "--token-file", token, "--id", "a/b"}, {}, "--id 'a/b'");
  expect_failure(1, {"--token-file", token, "--train-bin", (dir_ / "missing").string()}, {},
                 "--train-bin " + (dir_ / "missing").string());
  expect_failure(static_cast<int>(CLI::ExitCodes::ValidationError),
                 {"--train-bin", sh, "--token-file", token, "--cpu-slots", "0"}, {}, "--cpu-slots");
}

}  // namespace
}  // namespace gradpool::testing
