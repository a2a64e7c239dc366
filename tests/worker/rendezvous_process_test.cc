// gradpool-train --rendezvous gradpool://HOST:PORT/JOB/ATTEMPT against a real gRPC server that
// implements the Rendezvous service in memory, with real ranks.
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/net.h"
#include "tests/worker/rank_fixture.h"
#include "tests/worker/test_servers.h"

namespace gradpool::testing {
namespace {

// Rendezvous.Set/Get for one token, keys of any job and attempt, Get waiting up to timeout_ms.
class RendezvousServer : public v1::Rendezvous::Service {
 public:
  static constexpr const char* kToken = "rdv-token";

  grpc::Status Set(grpc::ServerContext* context, const v1::RendezvousSetRequest* request,
                   v1::RendezvousSetResponse*) override {
    if (bearer_token(*context) != kToken)
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this attempt's token");
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key(request->job_id(), request->attempt(), request->key())] = request->value();
    changed_.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext* context, const v1::RendezvousGetRequest* request,
                   v1::RendezvousGetResponse* response) override {
    if (bearer_token(*context) != kToken)
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not this attempt's token");
    const std::string wanted = key(request->job_id(), request->attempt(), request->key());
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::milliseconds(request->timeout_ms()),
                           [&] { return values_.count(wanted) > 0; }))
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no " + request->key());
    response->set_value(values_[wanted]);
    return grpc::Status::OK;
  }

  std::map<std::string, std::string> values() {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_;
  }

 private:
  static std::string key(uint64_t job, int attempt, const std::string& name) {
    return std::to_string(job) + "/" + std::to_string(attempt) + "/" + name;
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::string> values_;
};

class CoordinatorRendezvousTest : public TrainProcess {
 protected:
  // A rank of a world of two on the coordinator rendezvous `url`, with `env`.
  std::unique_ptr<ChildProcess> rank(const Args& config, int rank, const std::string& url,
                                     const std::vector<std::string>& env,
                                     const std::string& timeout_s = "60") {
    Args args = {GRADPOOL_TRAIN_BIN};
    args.insert(args.end(), config.begin(), config.end());
    for (const std::string& arg :
         {std::string("--world-size"), std::string("2"), std::string("--rank"),
          std::to_string(rank), std::string("--backend"), std::string("gloo"),
          std::string("--collective-timeout"), timeout_s, std::string("--rendezvous"), url})
      args.push_back(arg);
    return std::make_unique<ChildProcess>(args, next_log(), env);
  }
  const std::vector<std::string> token_env_ = {std::string("GRADPOOL_RENDEZVOUS_TOKEN=") +
                                               RendezvousServer::kToken};
};

TEST_F(CoordinatorRendezvousTest, RanksMeetThroughTheCoordinatorEvenIfItStartsLate) {
  RendezvousServer rendezvous;
  const int port = pick_free_tcp_port();
  const std::string url = "gradpool://127.0.0.1:" + std::to_string(port) + "/7/2";
  const Args config = command(job("out"), "out");
  // Rank 1 first, so that it waits for rank 0's address; the coordinator comes up last (as after
  // a restart): both retry until it answers.
  auto second = rank(config, 1, url, token_env_);
  auto first = rank(config, 0, url, token_env_);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  TestServer server({&rendezvous}, port);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(first->wait(), 0) << first->stderr_text();
  EXPECT_EQ(second->wait(), 0) << second->stderr_text();

  const auto values = rendezvous.values();
  ASSERT_EQ(values.size(), 1u);
  const std::string store = values.at("7/2/store");
  EXPECT_EQ(store.rfind("127.0.0.1:", 0), 0u) << store;
  EXPECT_TRUE(contains(second->stderr_text(), "tcp://" + store)) << second->stderr_text();
  EXPECT_EQ(read_steps(out("out")).size(), 10u);
}

TEST_F(CoordinatorRendezvousTest, ErrorsNameWhatIsWrong) {
  RendezvousServer rendezvous;
  TestServer server({&rendezvous});
  ASSERT_TRUE(server.ok());
  const std::string url = "gradpool://" + server.address() + "/7/1";
  const Args config = command(job("out"), "out");
  const auto expect_failure = [&](std::unique_ptr<ChildProcess> child,
                                  const std::vector<std::string>& parts) {
    EXPECT_EQ(child->wait(), 1) << child->stderr_text();
    for (const std::string& part : parts)
      EXPECT_TRUE(contains(child->stderr_text(), part)) << child->stderr_text();
  };
  expect_failure(rank(config, 0, url, {"GRADPOOL_RENDEZVOUS_TOKEN="}),
                 {"--rendezvous " + url, "GRADPOOL_RENDEZVOUS_TOKEN is not set"});
  expect_failure(rank(config, 0, url, {"GRADPOOL_RENDEZVOUS_TOKEN=wrong"}),
                 {"publishing rank 0's store address failed: PERMISSION_DENIED"});
  expect_failure(rank(config, 0, "gradpool://" + server.address() + "/job7/1", token_env_),
                 {"--rendezvous", "JOB must be a positive job id"});
  expect_failure(rank(config, 0, "gradpool://" + server.address() + "/7", token_env_),
                 {"--rendezvous", "expected gradpool://HOST:PORT/JOB/ATTEMPT"});
  expect_failure(rank(config, 1, url, token_env_, "1") /* rank 0 never publishes */,
                 {"rank 0 did not publish its store address within 1 s"});
  EXPECT_TRUE(rendezvous.values().empty());
}

}  // namespace
}  // namespace gradpool::testing
