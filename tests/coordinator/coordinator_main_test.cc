// The gradpool-coordinator binary: `token` commands, `serve` on port 0 with --port-file (and its
// metrics on port 0 with --metrics-port-file), and a graceful exit on SIGTERM.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "common/file_util.h"
#include "tests/coordinator/coordinator_harness.h"
#include "tests/observability/http_and_tools.h"

extern char** environ;

namespace gradpool::testing {
namespace {

const std::string kBinary = std::string(GRADPOOL_BINARY_DIR) + "/gradpool-coordinator";

struct Output {
  int exit_code = -1;
  std::string stdout_text;
};

// Runs the binary with `args` (stderr to the test's stderr) and collects stdout.
Output run(const std::string& args) {
  Output output;
  FILE* pipe = popen((kBinary + " " + args).c_str(), "r");
  if (!pipe) return output;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.stdout_text.append(buffer, n);
  const int status = pclose(pipe);
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

TEST(CoordinatorMainTest, TokenCommandsServeOnPortZeroAndStopOnSigterm) {
  const auto dir = temp_dir("coordinator-main");
  const std::string data_dir = (dir / "data").string();
  const Output added = run("token add alice --role admin --data-dir " + data_dir);
  ASSERT_EQ(added.exit_code, 0);
  EXPECT_TRUE(std::regex_match(added.stdout_text, std::regex("[0-9a-f]{64}\n")))
      << added.stdout_text;
  const std::string token = added.stdout_text.substr(0, 64);
  EXPECT_EQ(run("token list --data-dir " + data_dir).stdout_text, "alice admin\n");
  EXPECT_NE(run("token add bob --role boss --data-dir " + data_dir).exit_code, 0);
  EXPECT_NE(run("serve --data-dir " + data_dir + " --lease-timeout-s 0").exit_code, 0);
  EXPECT_NE(run("serve --data-dir " + data_dir + " --metrics-listen nowhere").exit_code, 0);

  const std::string port_file = (dir / "port").string();
  const std::string metrics_port_file = (dir / "metrics-port").string();
  const std::vector<std::string> args = {kBinary,
                                         "serve",
                                         "--data-dir",
                                         data_dir,
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--port-file",
                                         port_file,
                                         "--metrics-listen",
                                         "127.0.0.1:0",
                                         "--metrics-port-file",
                                         metrics_port_file};
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, kBinary.c_str(), nullptr, nullptr, argv.data(), environ), 0);

  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(port_file); }));
  const Endpoint endpoint{"127.0.0.1:" + read_file(port_file), token, ""};
  v1::ListJobsResponse jobs;
  const grpc::Status status = v1::Jobs::NewStub(open_channel(endpoint))
                                  ->List(make_context(endpoint, 5000).get(), {}, &jobs);
  EXPECT_TRUE(status.ok()) << describe(status);
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(metrics_port_file); }));
  const HttpReply metrics =
      http_request(static_cast<uint16_t>(std::stoi(read_file(metrics_port_file))), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("component=\"coordinator\""), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("gradpool_rpc_duration_seconds_count{method=\"Jobs.List\"} 1"),
            std::string::npos)
      << metrics.body;

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int exit_status = 0;
  ASSERT_EQ(waitpid(pid, &exit_status, 0), pid);
  EXPECT_TRUE(WIFEXITED(exit_status));
  EXPECT_EQ(WEXITSTATUS(exit_status), 0);

  EXPECT_EQ(run("token revoke alice --data-dir " + data_dir).exit_code, 0);
  EXPECT_EQ(run("token list --data-dir " + data_dir).stdout_text, "");
  EXPECT_NE(run("token revoke alice --data-dir " + data_dir).exit_code, 0);
}

}  // namespace
}  // namespace gradpool::testing
