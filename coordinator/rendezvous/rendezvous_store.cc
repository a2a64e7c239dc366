#include "coordinator/rendezvous/rendezvous_store.h"

#include "coordinator/rpc_error.h"

namespace gradpool {
namespace {

// How often a waiting get() looks at cancelled(): gRPC does not signal a cancelled call.
constexpr std::chrono::milliseconds kPollInterval{200};

}  // namespace

void RendezvousStore::set(const Attempt& attempt, const std::string& key, std::string value) {
  {
    std::lock_guard held(mutex_);
    auto& values = values_[attempt];
    if (!values.count(key) && values.size() >= max_keys_)
      rpc_fail(grpc::StatusCode::RESOURCE_EXHAUSTED,
               "rendezvous of job {} attempt {}: at most {} keys", attempt.first, attempt.second,
               max_keys_);
    values[key] = std::move(value);
  }
  changed_.notify_all();
}

std::optional<std::string> RendezvousStore::get(const Attempt& attempt, const std::string& key,
                                                std::chrono::milliseconds timeout,
                                                const std::function<bool()>& cancelled) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock held(mutex_);
  while (true) {
    const auto values = values_.find(attempt);
    if (values != values_.end()) {
      const auto value = values->second.find(key);
      if (value != values->second.end()) return value->second;
    }
    const auto now = std::chrono::steady_clock::now();
    if (shut_down_ || now >= deadline || cancelled()) return std::nullopt;
    changed_.wait_until(held, std::min(deadline, now + kPollInterval));
  }
}

std::vector<RendezvousStore::Attempt> RendezvousStore::attempts() const {
  std::lock_guard held(mutex_);
  std::vector<Attempt> attempts;
  for (const auto& entry : values_) attempts.push_back(entry.first);
  return attempts;
}

void RendezvousStore::erase(const Attempt& attempt) {
  std::lock_guard held(mutex_);
  values_.erase(attempt);
}

void RendezvousStore::shutdown() {
  {
    std::lock_guard held(mutex_);
    shut_down_ = true;
  }
  changed_.notify_all();
}

}  // namespace gradpool
