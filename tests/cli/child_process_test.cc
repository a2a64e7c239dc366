// ChildProcess with real programs (/bin/sh, /bin/sleep): exit statuses, output, signals, timeouts.
#include "cli/child_process.h"

#include <gtest/gtest.h>

#include "cli/local_service.h"
#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"

namespace gradpool::cli {
namespace {

using std::chrono::milliseconds;

TEST(CliChildProcess, CapturesStdoutAndReportsTheExitCode) {
  EXPECT_EQ(run_program_captured({"/bin/sh", "-c", "echo hello; echo world"}), "hello\nworld\n");
  try {
    run_program_captured({"/bin/sh", "-c", "echo oops; exit 3"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sh exited with 3: oops\n");
  }
}

TEST(CliChildProcess, AProgramThatCannotStartIsAnErrorNamingIt) {
  try {
    SpawnOptions options;
    options.argv = {"/nonexistent/gradpool-worker"};
    ChildProcess child(options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/gradpool-worker: cannot run"),
              std::string::npos)
        << e.what();
  }
}

TEST(CliChildProcess, WritesOutputAndSeesExtraEnvironment) {
  const auto dir = gradpool::testing::temp_dir("cli-child-output");
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo \"$GRADPOOL_TEST_VALUE\"; echo to-stderr >&2; exit 0"};
  options.extra_env = {"GRADPOOL_TEST_VALUE=forty-two"};
  options.output_file = (dir / "out.log").string();
  ChildProcess child(options);
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(read_file(options.output_file), "forty-two\nto-stderr\n");
  EXPECT_EQ(child.name(), "sh");
}

TEST(CliChildProcess, WaitForTimesOutWhileItRunsAndStopTerminatesIt) {
  SpawnOptions options;
  options.argv = {"/bin/sleep", "30"};
  ChildProcess child(options);
  EXPECT_FALSE(child.wait_for(milliseconds(50)).has_value());
  EXPECT_FALSE(child.exit_status().has_value());
  EXPECT_EQ(child.stop(milliseconds(5000)), 128 + SIGTERM);
  EXPECT_FALSE(child.signal(SIGTERM));  // already gone
}

TEST(CliChildProcess, StopKillsAProgramThatIgnoresTerm) {
  SpawnOptions options;
  // The marker file says the trap is in place before we signal.
  const auto dir = gradpool::testing::temp_dir("cli-child-kill");
  const std::string ready = (dir / "ready").string();
  options.argv = {"/bin/sh", "-c", "trap '' TERM; touch " + ready + "; while :; do sleep 1; done"};
  options.new_process_group = true;
  ChildProcess child(options);
  while (!std::filesystem::exists(ready)) ASSERT_FALSE(child.wait_for(milliseconds(10)));
  EXPECT_EQ(child.stop(milliseconds(200)), 128 + SIGKILL);
}

TEST(CliLocalService, TailOfFile) {
  const auto dir = gradpool::testing::temp_dir("cli-tail");
  const std::string path = (dir / "log").string();
  write_file_atomic(path, "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(tail_of_file(path, 2), "three\nfour");
  EXPECT_EQ(tail_of_file(path, 10), "one\ntwo\nthree\nfour");
  EXPECT_EQ(tail_of_file(dir / "missing", 3), "");
}

TEST(CliLocalService, AMissingBinarySaysHowToBuildIt) {
  try {
    find_program("/nonexistent-dir", "gradpool-coordinator");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--target gradpool-coordinator"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gradpool::cli
