// UsageStore: the `usage` table — each user's GPU-seconds, decayed with a half-life, which the
// scheduler's fair share orders queued jobs by. A value is stored with the time it was decayed to;
// reading decays it to "now" without writing. Writes run inside Database::transaction().
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "coordinator/store/database.h"

namespace gradpool {

class UsageStore {
 public:
  // half_life_ms > 0: usage halves every half_life_ms.
  UsageStore(Database& db, double half_life_ms);

  // Decays `user`'s usage to now_ms and adds gpu_seconds.
  void add(const std::string& user, double gpu_seconds, int64_t now_ms);
  // Every user's usage decayed to now_ms.
  std::map<std::string, double> decayed(int64_t now_ms) const;

 private:
  double decay(double value, int64_t from_ms, int64_t to_ms) const;

  Database& db_;
  double half_life_ms_;
};

}  // namespace gradpool
