// Where the CLI's token comes from (flag > env > file) and what a failed call tells the user.
#include "cli/client.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file_util.h"
#include "common/net.h"
#include "tests/test_util.h"

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;

class CliTokenResolution : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = gradpool::testing::temp_dir("cli-token");
    flag_file_ = (dir_ / "flag-token").string();
    default_file_ = dir_ / "config" / "token";
    write_file_atomic(flag_file_, "  from-flag\n");
    fs::create_directories(default_file_.parent_path());
    write_file_atomic(default_file_.string(), "from-file\n");
  }

  fs::path dir_;
  std::string flag_file_;
  fs::path default_file_;
};

TEST_F(CliTokenResolution, FlagBeatsEnvironmentAndFile) {
  const ResolvedToken token = resolve_token(flag_file_, "from-env", default_file_);
  EXPECT_EQ(token.token, "from-flag");
  EXPECT_EQ(token.source, "--token-file " + flag_file_);
}

TEST_F(CliTokenResolution, EnvironmentBeatsFile) {
  const ResolvedToken token = resolve_token("", " from-env ", default_file_);
  EXPECT_EQ(token.token, "from-env");
  EXPECT_EQ(token.source, "GRADPOOL_TOKEN");
  EXPECT_EQ(resolve_token("", "", default_file_).token, "from-file");  // empty env: not set
}

TEST_F(CliTokenResolution, DefaultFileThenNothing) {
  const ResolvedToken token = resolve_token("", std::nullopt, default_file_);
  EXPECT_EQ(token.token, "from-file");
  EXPECT_EQ(token.source, default_file_.string());
  const ResolvedToken none = resolve_token("", std::nullopt, dir_ / "no-such-file");
  EXPECT_EQ(none.token, "");
  EXPECT_EQ(none.source, "");
}

TEST_F(CliTokenResolution, UnreadableOrEmptyFlagFileIsAnErrorNamingIt) {
  const std::string missing = (dir_ / "missing").string();
  try {
    resolve_token(missing, "from-env", default_file_);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const std::string empty = (dir_ / "empty").string();
  write_file_atomic(empty, "\n");
  EXPECT_THROW(resolve_token(empty, "from-env", default_file_), Error);
}

TEST_F(CliTokenResolution, ARejectedTokenNamesWhereItCameFrom) {
  GlobalOptions options;
  options.token_file = flag_file_;
  const Client client(options);
  EXPECT_EQ(client.endpoint().token, "from-flag");
  EXPECT_EQ(
      client.describe_failure(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token")),
      "UNAUTHENTICATED: unknown token (token from --token-file " + flag_file_ + ")");
}

TEST(CliClientErrors, UnreachableCoordinatorSaysWhereAndHowToSetIt) {
  GlobalOptions options;
  options.coordinator = "127.0.0.1:" + std::to_string(pick_free_tcp_port());  // nobody listens
  options.timeout_s = 5;
  Client client(options);
  v1::ListWorkersResponse response;
  const grpc::Status status =
      client.workers().List(client.context().get(), v1::ListWorkersRequest(), &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  try {
    client.check(status);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("UNAVAILABLE: ", 0), 0u) << message;
    EXPECT_NE(message.find("coordinator at " + options.coordinator), std::string::npos) << message;
    EXPECT_NE(message.find("GRADPOOL_COORDINATOR"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(client.check(grpc::Status::OK));
}

TEST(CliClientErrors, AMissingTokenSaysHowToGiveOne) {
  Client without_token(Endpoint{"127.0.0.1:1", "", ""}, 1);
  const grpc::Status unauthenticated(grpc::StatusCode::UNAUTHENTICATED, "missing token");
  EXPECT_NE(without_token.describe_failure(unauthenticated).find("GRADPOOL_TOKEN"),
            std::string::npos);
  EXPECT_EQ(without_token.describe_failure(grpc::Status(grpc::StatusCode::NOT_FOUND, "job 7")),
            "NOT_FOUND: job 7");
}

}  // namespace
}  // namespace gradpool::cli
