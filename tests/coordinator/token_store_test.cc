// TokenStore on a real SQLite file, and the Authorizer behind a real gRPC server on loopback.
#include "coordinator/auth/token_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/sha256.h"
#include "coordinator/auth/authorizer.h"
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class TokenStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = testing::temp_dir("token-store");
  std::string db_path_ = (dir_ / "coordinator.db").string();
  Database db_{db_path_};
  TokenStore tokens_{db_};
};

TEST_F(TokenStoreTest, AddFindRevokeList) {
  const std::string alice = tokens_.add("alice", Role::kUser);
  const std::string root = tokens_.add("root", Role::kAdmin);
  const std::string node = tokens_.add("node-1", Role::kWorker);
  EXPECT_EQ(alice.size(), 64u);
  EXPECT_EQ(alice.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(alice, root);

  const std::optional<Caller> found = tokens_.find(alice);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_EQ(found->role, Role::kUser);
  EXPECT_FALSE(found->is_admin());
  EXPECT_TRUE(tokens_.find(root)->is_admin());
  EXPECT_EQ(tokens_.find(node)->role, Role::kWorker);
  EXPECT_FALSE(tokens_.find(""));
  EXPECT_FALSE(tokens_.find(alice.substr(1)));

  const std::vector<std::pair<std::string, Role>> expected = {
      {"alice", Role::kUser}, {"node-1", Role::kWorker}, {"root", Role::kAdmin}};
  EXPECT_EQ(tokens_.list(), expected);

  const std::string second = tokens_.add("alice", Role::kUser);
  EXPECT_EQ(tokens_.revoke("alice"), 2);
  EXPECT_FALSE(tokens_.find(alice));
  EXPECT_FALSE(tokens_.find(second));
  EXPECT_TRUE(tokens_.find(root));
  EXPECT_EQ(tokens_.revoke("nobody"), 0);
  EXPECT_EQ(tokens_.list().size(), 2u);
}

TEST_F(TokenStoreTest, StoresOnlyHashesAndSurvivesReopening) {
  const std::string token = tokens_.add("alice", Role::kAdmin);
  // The row may sit in the WAL or the main file; neither may hold the token itself.
  std::string raw;
  for (const auto& entry : std::filesystem::directory_iterator(dir_))
    raw += read_bytes(entry.path());
  EXPECT_NE(raw.find(sha256_hex(token)), std::string::npos) << "the hash should be stored";
  EXPECT_EQ(raw.find(token), std::string::npos) << "the raw token must not be stored";

  Database reopened(db_path_);
  const std::optional<Caller> found = TokenStore(reopened).find(token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_TRUE(found->is_admin());
}

TEST_F(TokenStoreTest, RejectsBadUserNames) {
  for (const std::string& bad :
       std::vector<std::string>{"", "../etc", "a b", "a/b", "..", std::string(65, 'x')}) {
    try {
      tokens_.add(bad, Role::kUser);
      ADD_FAILURE() << "accepted user name '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("user name '" + bad + "'"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(tokens_.list().empty());
  EXPECT_NO_THROW(tokens_.add(std::string(64, 'x'), Role::kUser));
}

TEST(RoleTest, ParsesAndPrintsEveryRole) {
  for (const Role role : {Role::kUser, Role::kAdmin, Role::kWorker})
    EXPECT_EQ(parse_role(to_string(role)), role);
  try {
    parse_role("root");
    ADD_FAILURE() << "accepted role 'root'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--role"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'root'"), std::string::npos) << e.what();
  }
}

// Workers.List guarded by the Authorizer for users and admins; it answers with who called.
class WhoAmIService final : public v1::Workers::Service {
 public:
  explicit WhoAmIService(const Authorizer& auth) : auth_(auth) {}
  grpc::Status List(grpc::ServerContext* context, const v1::ListWorkersRequest*,
                    v1::ListWorkersResponse* response) override {
    Caller caller;
    const grpc::Status status =
        auth_.authorize(*context, {Role::kUser, Role::kAdmin}, "Workers.List", &caller);
    if (!status.ok()) return status;
    v1::Worker* worker = response->add_workers();
    worker->set_id(caller.user);
    worker->set_hostname(to_string(caller.role));
    return grpc::Status::OK;
  }

 private:
  const Authorizer& auth_;
};

class AuthorizerTest : public TokenStoreTest {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status call(const std::string& token, v1::ListWorkersResponse* response) {
    const Endpoint endpoint{"127.0.0.1:" + std::to_string(port_), token, ""};
    auto stub = v1::Workers::NewStub(open_channel(endpoint));
    return stub->List(make_context(endpoint, 10000).get(), v1::ListWorkersRequest(), response);
  }

  Authorizer auth_{tokens_};
  WhoAmIService service_{auth_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(AuthorizerTest, ChecksTokenAndRole) {
  v1::ListWorkersResponse response;
  grpc::Status status = call("", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "Workers.List: missing bearer token");

  status = call(std::string(64, 'a'), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "Workers.List: unknown token");

  status = call(tokens_.add("node-1", Role::kWorker), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "Workers.List: role 'worker' may not call this");
  EXPECT_EQ(response.workers_size(), 0);

  const std::string alice = tokens_.add("alice", Role::kUser);
  status = call(alice, &response);
  ASSERT_TRUE(status.ok()) << describe(status);
  ASSERT_EQ(response.workers_size(), 1);
  EXPECT_EQ(response.workers(0).id(), "alice");
  EXPECT_EQ(response.workers(0).hostname(), "user");

  tokens_.revoke("alice");  // takes effect on the next call: nothing is cached
  status = call(alice, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace gradpool
