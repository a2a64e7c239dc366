// A stand-in for the coordinator's Workers service: records what workers send and answers
// heartbeats with scripted responses, so that tests can drive a worker step by step.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool::testing {

class FakeWorkersService : public v1::Workers::Service {
 public:
  static constexpr const char* kToken = "worker-token";
  static constexpr int64_t kHeartbeatIntervalMs = 50;

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override {
    if (bearer_token(*context) != kToken)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
    std::lock_guard<std::mutex> lock(mutex_);
    registers_.push_back(*request);
    response->set_heartbeat_interval_ms(kHeartbeatIntervalMs);
    response->set_lease_timeout_ms(10 * kHeartbeatIntervalMs);
    changed_.notify_all();
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    if (bearer_token(*context) != kToken)
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
    std::lock_guard<std::mutex> lock(mutex_);
    heartbeats_.push_back(*request);
    if (!scripted_.empty()) {
      *response = scripted_.front();
      scripted_.pop_front();
    }
    changed_.notify_all();
    return grpc::Status::OK;
  }

  // The answer to the next heartbeat (then the default, empty one again).
  void answer_next(const v1::HeartbeatResponse& response) {
    std::lock_guard<std::mutex> lock(mutex_);
    scripted_.push_back(response);
  }

  // Waits until `done(registers, heartbeats)` holds; false after `timeout`.
  using Condition = std::function<bool(const std::vector<v1::RegisterRequest>&,
                                       const std::vector<v1::HeartbeatRequest>&)>;
  bool wait_for(const Condition& done, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(registers_, heartbeats_); });
  }
  std::vector<v1::RegisterRequest> registers() {
    std::lock_guard<std::mutex> lock(mutex_);
    return registers_;
  }
  std::vector<v1::HeartbeatRequest> heartbeats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return heartbeats_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<v1::RegisterRequest> registers_;
  std::vector<v1::HeartbeatRequest> heartbeats_;
  std::deque<v1::HeartbeatResponse> scripted_;
};

// The last report about (job 1, attempt 1, `rank`) in `heartbeats`, if any.
inline const v1::RankReport* last_report(const std::vector<v1::HeartbeatRequest>& heartbeats,
                                         int rank = 0) {
  for (auto heartbeat = heartbeats.rbegin(); heartbeat != heartbeats.rend(); ++heartbeat)
    for (const v1::RankReport& report : heartbeat->ranks())
      if (report.ref().rank() == rank) return &report;
  return nullptr;
}

// Everything reported as rank `rank`'s log, in order.
inline std::string all_logs(const std::vector<v1::HeartbeatRequest>& heartbeats, int rank = 0) {
  std::string log;
  for (const v1::HeartbeatRequest& heartbeat : heartbeats)
    for (const v1::RankReport& report : heartbeat.ranks())
      if (report.ref().rank() == rank) log += report.log();
  return log;
}

}  // namespace gradpool::testing
