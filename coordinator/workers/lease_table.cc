#include "coordinator/workers/lease_table.h"

namespace gradpool {

void LeaseTable::renew(const std::string& worker_id) {
  std::lock_guard held(mutex_);
  deadlines_[worker_id] = Clock::now() + timeout_;
}

void LeaseTable::remove(const std::string& worker_id) {
  std::lock_guard held(mutex_);
  deadlines_.erase(worker_id);
}

bool LeaseTable::holds(const std::string& worker_id) const {
  std::lock_guard held(mutex_);
  return deadlines_.count(worker_id) > 0;
}

std::vector<std::string> LeaseTable::expired() const {
  std::lock_guard held(mutex_);
  const auto now = Clock::now();
  std::vector<std::string> ids;
  for (const auto& [id, deadline] : deadlines_)
    if (deadline < now) ids.push_back(id);
  return ids;
}

bool LeaseTable::is_expired(const std::string& worker_id) const {
  std::lock_guard held(mutex_);
  const auto found = deadlines_.find(worker_id);
  return found != deadlines_.end() && found->second < Clock::now();
}

}  // namespace gradpool
