#include "worker/daemon/coordinator_client.h"

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {
namespace {

constexpr auto kCallTimeout = std::chrono::milliseconds(10'000);
constexpr auto kFinalCallTimeout = std::chrono::milliseconds(2000);

bool is_permanent_refusal(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return true;
    default:
      return false;
  }
}

v1::Gpu to_proto(const Slot& slot) {
  v1::Gpu gpu;
  gpu.set_index(slot.index);
  gpu.set_name(slot.name);
  gpu.set_uuid(slot.uuid);
  gpu.set_memory_bytes(slot.memory_bytes);
  gpu.set_compute_capability(slot.compute_capability);
  return gpu;
}

}  // namespace

CoordinatorClient::CoordinatorClient(ClientOptions options, WorkerIdentity identity,
                                     std::shared_ptr<grpc::Channel> channel, RankTable& ranks)
    : options_(std::move(options)),
      identity_(std::move(identity)),
      channel_(std::move(channel)),
      stub_(v1::Workers::NewStub(channel_)),
      ranks_(ranks) {}

void CoordinatorClient::run() {
  bool first = true, reachable = true;
  while (true) {
    const bool ok = registered_ ? heartbeat(kCallTimeout) : try_register(first);
    if (ok) {
      if (!reachable) spdlog::info("coordinator {} reachable again", options_.endpoint.address);
      reachable = true;
      first = false;
      if (!registered_) continue;  // told to register again: at once
      if (!sleep_for(interval_)) return;
      continue;
    }
    if (reachable)
      spdlog::warn("coordinator {} unreachable; retrying, {} rank(s) keep running",
                   options_.endpoint.address, ranks_.running());
    reachable = false;
    // Retry at the heartbeat interval, no slower: a restarted coordinator gives this worker one
    // lease to come back before it declares it lost and requeues its jobs. A failed call to a
    // coordinator that is down costs next to nothing. A fresh channel connects at once, where
    // gRPC 1.51 leaves a channel in TRANSIENT_FAILURE for many seconds after the server is back.
    if (!sleep_for(interval_)) return;
    channel_ = open_channel(options_.endpoint);
    stub_ = v1::Workers::NewStub(channel_);
  }
}

bool CoordinatorClient::try_register(bool first) {
  v1::RegisterRequest request;
  request.set_worker_id(identity_.id);
  request.set_hostname(identity_.hostname);
  request.set_address(identity_.address);
  request.set_metrics_address(identity_.metrics_address);
  for (const Slot& slot : identity_.slots) *request.add_gpus() = to_proto(slot);
  // The ranks it still has, for re-adoption; their logs follow in the heartbeats.
  for (v1::RankReport report : ranks_.reports().reports) {
    report.clear_log();
    *request.add_ranks() = std::move(report);
  }
  v1::RegisterResponse response;
  const auto context = make_context(options_.endpoint, kCallTimeout.count());
  const grpc::Status status = stub_->Register(context.get(), request, &response);
  if (!status.ok()) {
    if (first && is_permanent_refusal(status))
      fail("registering worker '{}' with {}: {}", identity_.id, options_.endpoint.address,
           describe(status));
    spdlog::warn("registering with {}: {}", options_.endpoint.address, describe(status));
    return false;
  }
  const int64_t interval_ms = options_.heartbeat_interval.count() > 0
                                  ? options_.heartbeat_interval.count()
                                  : response.heartbeat_interval_ms();
  interval_ = std::chrono::milliseconds(std::max<int64_t>(interval_ms, 50));
  registered_ = true;
  spdlog::info("registered worker '{}' ({} slot(s)) with {}; heartbeat every {} ms", identity_.id,
               identity_.slots.size(), options_.endpoint.address, interval_.count());
  return true;
}

bool CoordinatorClient::heartbeat(std::chrono::milliseconds deadline) {
  v1::HeartbeatRequest request;
  request.set_worker_id(identity_.id);
  const RankTable::Reports sent = ranks_.reports();
  for (const v1::RankReport& report : sent.reports) *request.add_ranks() = report;
  v1::HeartbeatResponse response;
  const auto context = make_context(options_.endpoint, deadline.count());
  const grpc::Status status = stub_->Heartbeat(context.get(), request, &response);
  if (!status.ok()) {
    // UNAUTHENTICATED/NOT_FOUND after a coordinator lost its state: registering again tells.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      spdlog::warn("heartbeat to {}: {}", options_.endpoint.address, describe(status));
      registered_ = false;
    }
    return false;
  }
  ranks_.delivered(sent);
  apply(response);
  return true;
}

void CoordinatorClient::apply(const v1::HeartbeatResponse& response) {
  if (response.reregister()) {
    spdlog::info("coordinator {} asks this worker to register again", options_.endpoint.address);
    registered_ = false;
  }
  const auto grace = response.stop_grace_ms() > 0
                         ? std::chrono::milliseconds(response.stop_grace_ms())
                         : options_.default_stop_grace;
  for (const v1::RankRef& ref : response.stop()) ranks_.stop(ref, grace);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutting_down_) return;  // no new ranks on the way out
  }
  for (const v1::RankAssignment& assignment : response.start()) ranks_.start(assignment);
  for (const v1::RankRef& ref : response.forget()) ranks_.forget(ref);
}

void CoordinatorClient::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  shutting_down_ = true;
  wake_.notify_all();
}

void CoordinatorClient::final_heartbeat() {
  if (registered_ && heartbeat(kFinalCallTimeout))
    spdlog::info("told coordinator {} how the ranks ended", options_.endpoint.address);
}

bool CoordinatorClient::sleep_for(std::chrono::milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return shutting_down_; });
}

}  // namespace gradpool
