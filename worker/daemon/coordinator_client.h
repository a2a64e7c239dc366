// CoordinatorClient: this worker's side of the Workers service — register, then heartbeat every
// interval with a report for each known rank, and carry out what the answers say (start, stop,
// forget, register again). A coordinator that cannot be reached (a restart) is retried with
// backoff while the ranks keep running; on its return the worker registers again with them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"
#include "worker/daemon/rank_table.h"
#include "worker/daemon/slots.h"

namespace gradpool {

struct WorkerIdentity {
  std::string id;  // stable across restarts (default: hostname)
  std::string hostname;
  std::string address;  // where this worker's ranks are reachable
  std::vector<Slot> slots;
  std::string metrics_address;  // HOST:PORT of its /metrics; empty: none served
};

struct ClientOptions {
  Endpoint endpoint;
  // 0: the interval the coordinator's registration answer gives.
  std::chrono::milliseconds heartbeat_interval{0};
  // For stops the coordinator gives no grace period for.
  std::chrono::milliseconds default_stop_grace{30'000};
};

class CoordinatorClient {
 public:
  CoordinatorClient(ClientOptions options, WorkerIdentity identity,
                    std::shared_ptr<grpc::Channel> channel, RankTable& ranks);

  // Registers and heartbeats until shutdown(). Throws Error when the very first registration is
  // refused for good (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT: a wrong token or id);
  // later refusals are logged and retried, since the ranks may still be worth keeping.
  void run();
  // Makes run() return soon; any thread.
  void shutdown();
  // One last heartbeat (short deadline, best effort) so that the coordinator learns how the ranks
  // ended; after run() has returned.
  void final_heartbeat();

 private:
  bool try_register(bool first);
  // false when the coordinator could not be reached.
  bool heartbeat(std::chrono::milliseconds deadline);
  void apply(const v1::HeartbeatResponse& response);
  // Sleeps up to `duration`; false once shutdown() was called.
  bool sleep_for(std::chrono::milliseconds duration);

  const ClientOptions options_;
  const WorkerIdentity identity_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Workers::Stub> stub_;
  RankTable& ranks_;
  std::chrono::milliseconds interval_{1000};
  bool registered_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool shutting_down_ = false;
};

}  // namespace gradpool
