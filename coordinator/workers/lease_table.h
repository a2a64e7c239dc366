// LeaseTable: when each worker's lease runs out. In memory only: after a coordinator restart every
// known worker gets a fresh lease (Coordinator start-up), so a restart never costs a worker that
// comes back in time. Steady clock, so wall-clock steps neither expire nor extend leases.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace gradpool {

class LeaseTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LeaseTable(Clock::duration timeout) : timeout_(timeout) {}

  // The worker holds a lease until now + timeout.
  void renew(const std::string& worker_id);
  void remove(const std::string& worker_id);
  bool holds(const std::string& worker_id) const;
  // Workers whose lease ran out (they stay in the table until remove()).
  std::vector<std::string> expired() const;
  // Whether this worker's lease has run out; false for workers without one.
  bool is_expired(const std::string& worker_id) const;

  Clock::duration timeout() const { return timeout_; }

 private:
  Clock::duration timeout_;
  mutable std::mutex mutex_;
  std::map<std::string, Clock::time_point> deadlines_;
};

}  // namespace gradpool
