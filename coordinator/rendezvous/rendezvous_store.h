// RendezvousStore: the in-memory key-value maps the ranks of one attempt bootstrap from (rank 0
// publishes its TCPStore address, the others wait for it). Keyed by (job, attempt); nothing is
// persisted because a rendezvous only matters while an attempt starts. Get waits on a condition
// variable until the key appears, the timeout passes, the call is cancelled or the store shuts
// down.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gradpool {

class RendezvousStore {
 public:
  using Attempt = std::pair<uint64_t, int>;  // job id, attempt

  // RESOURCE_EXHAUSTED (RpcError) once an attempt holds max_keys keys.
  explicit RendezvousStore(size_t max_keys_per_attempt) : max_keys_(max_keys_per_attempt) {}

  void set(const Attempt& attempt, const std::string& key, std::string value);
  // The value once present; nullopt when `timeout` passed, `cancelled()` turned true (checked a
  // few times a second) or shutdown() was called first.
  std::optional<std::string> get(const Attempt& attempt, const std::string& key,
                                 std::chrono::milliseconds timeout,
                                 const std::function<bool()>& cancelled);

  std::vector<Attempt> attempts() const;
  void erase(const Attempt& attempt);
  // Wakes every waiting get(), which then returns nullopt.
  void shutdown();

 private:
  const size_t max_keys_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<Attempt, std::map<std::string, std::string>> values_;
  bool shut_down_ = false;
};

}  // namespace gradpool
