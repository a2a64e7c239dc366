#include "coordinator/store/usage_store.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "coordinator/store/schema_version.h"

namespace gradpool {
namespace {

const std::vector<std::string> kMigrations = {
    "CREATE TABLE usage ("
    "  user TEXT PRIMARY KEY,"
    "  decayed_gpu_seconds REAL NOT NULL,"
    "  updated_ms INTEGER NOT NULL)"};

}  // namespace

UsageStore::UsageStore(Database& db, double half_life_ms) : db_(db), half_life_ms_(half_life_ms) {
  if (!(half_life_ms_ > 0)) fail("--fair-share-half-life-h: must be > 0");
  migrate_schema(db_, "usage", kMigrations);
}

double UsageStore::decay(double value, int64_t from_ms, int64_t to_ms) const {
  // A clock that steps back must not inflate usage.
  const double elapsed = static_cast<double>(std::max<int64_t>(0, to_ms - from_ms));
  return value * std::exp2(-elapsed / half_life_ms_);
}

void UsageStore::add(const std::string& user, double gpu_seconds, int64_t now_ms) {
  auto held = db_.lock();
  double current = 0;
  {
    Statement select(db_, "SELECT decayed_gpu_seconds, updated_ms FROM usage WHERE user = ?");
    select.bind(1, user);
    if (select.step()) current = decay(select.column_double(0), select.column_int(1), now_ms);
  }
  Statement upsert(db_,
                   "INSERT INTO usage (user, decayed_gpu_seconds, updated_ms) VALUES (?, ?, ?) "
                   "ON CONFLICT(user) DO UPDATE SET decayed_gpu_seconds = excluded."
                   "decayed_gpu_seconds, updated_ms = excluded.updated_ms");
  upsert.bind(1, user).bind(2, current + gpu_seconds).bind(3, now_ms).run();
}

std::map<std::string, double> UsageStore::decayed(int64_t now_ms) const {
  auto held = db_.lock();
  Statement select(db_, "SELECT user, decayed_gpu_seconds, updated_ms FROM usage");
  std::map<std::string, double> usage;
  while (select.step())
    usage[select.column_text(0)] = decay(select.column_double(1), select.column_int(2), now_ms);
  return usage;
}

}  // namespace gradpool
