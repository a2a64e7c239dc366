#include "coordinator/store/rank_store.h"

#include "common/error.h"
#include "coordinator/store/schema_version.h"

namespace gradpool {
namespace {

// No foreign key to jobs: each store owns and migrates its own table.
const std::vector<std::string> kMigrations = {
    "CREATE TABLE ranks ("
    "  job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, rank INTEGER NOT NULL,"
    "  worker_id TEXT NOT NULL, slot INTEGER NOT NULL, gpu_name TEXT NOT NULL,"
    "  state INTEGER NOT NULL, exit_code INTEGER NOT NULL, message TEXT NOT NULL,"
    "  PRIMARY KEY (job_id, attempt, rank));"
    "CREATE INDEX ranks_by_state ON ranks (state, worker_id);"};

constexpr char kSelect[] =
    "SELECT job_id, attempt, rank, worker_id, slot, gpu_name, state, exit_code, message "
    "FROM ranks ";

RankRecord read_row(const Statement& row) {
  RankRecord rank;
  rank.job_id = static_cast<uint64_t>(row.column_int(0));
  rank.attempt = static_cast<int>(row.column_int(1));
  rank.rank = static_cast<int>(row.column_int(2));
  rank.worker_id = row.column_text(3);
  rank.slot = static_cast<int>(row.column_int(4));
  rank.gpu_name = row.column_text(5);
  rank.state = static_cast<RankState>(row.column_int(6));
  rank.exit_code = static_cast<int>(row.column_int(7));
  rank.message = row.column_text(8);
  return rank;
}

std::vector<RankRecord> read_all(Statement& select) {
  std::vector<RankRecord> ranks;
  while (select.step()) ranks.push_back(read_row(select));
  return ranks;
}

constexpr int64_t kAssigned = static_cast<int64_t>(RankState::kAssigned);
constexpr int64_t kRunning = static_cast<int64_t>(RankState::kRunning);

}  // namespace

const char* to_string(RankState state) {
  switch (state) {
    case RankState::kAssigned:
      return "ASSIGNED";
    case RankState::kRunning:
      return "RUNNING";
    case RankState::kExited:
      return "EXITED";
    case RankState::kLost:
      return "LOST";
  }
  return "UNKNOWN";
}

v1::Rank RankRecord::to_proto() const {
  v1::Rank proto;
  proto.set_rank(rank);
  proto.set_worker_id(worker_id);
  proto.set_slot(slot);
  proto.set_gpu_name(gpu_name);
  proto.set_state(to_string(state));
  proto.set_exit_code(exit_code);
  return proto;
}

RankStore::RankStore(Database& db) : db_(db) {
  migrate_schema(db_, "ranks", kMigrations);
}

void RankStore::insert(const RankRecord& rank) {
  auto held = db_.lock();
  Statement insert(db_,
                   "INSERT INTO ranks (job_id, attempt, rank, worker_id, slot, gpu_name, state, "
                   "exit_code, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, static_cast<int64_t>(rank.job_id))
      .bind(2, int64_t{rank.attempt})
      .bind(3, int64_t{rank.rank})
      .bind(4, rank.worker_id)
      .bind(5, int64_t{rank.slot})
      .bind(6, rank.gpu_name)
      .bind(7, static_cast<int64_t>(rank.state))
      .bind(8, int64_t{rank.exit_code})
      .bind(9, rank.message)
      .run();
}

void RankStore::update(const RankRecord& rank) {
  auto held = db_.lock();
  Statement update(db_,
                   "UPDATE ranks SET state = ?, exit_code = ?, message = ? "
                   "WHERE job_id = ? AND attempt = ? AND rank = ?");
  update.bind(1, static_cast<int64_t>(rank.state))
      .bind(2, int64_t{rank.exit_code})
      .bind(3, rank.message)
      .bind(4, static_cast<int64_t>(rank.job_id))
      .bind(5, int64_t{rank.attempt})
      .bind(6, int64_t{rank.rank})
      .run();
  if (db_.changes() != 1)
    fail("job {} attempt {} rank {}: no such rank to update", rank.job_id, rank.attempt, rank.rank);
}

std::optional<RankRecord> RankStore::find(uint64_t job_id, int attempt, int rank) const {
  auto held = db_.lock();
  Statement select(db_, std::string(kSelect) + "WHERE job_id = ? AND attempt = ? AND rank = ?");
  select.bind(1, static_cast<int64_t>(job_id)).bind(2, int64_t{attempt}).bind(3, int64_t{rank});
  if (!select.step()) return std::nullopt;
  return read_row(select);
}

std::vector<RankRecord> RankStore::of_attempt(uint64_t job_id, int attempt) const {
  auto held = db_.lock();
  Statement select(db_, std::string(kSelect) + "WHERE job_id = ? AND attempt = ? ORDER BY rank");
  select.bind(1, static_cast<int64_t>(job_id)).bind(2, int64_t{attempt});
  return read_all(select);
}

std::vector<RankRecord> RankStore::live(const std::string& worker_id) const {
  auto held = db_.lock();
  Statement select(db_, std::string(kSelect) +
                            "WHERE state IN (?, ?) AND (?3 = '' OR worker_id = ?3) "
                            "ORDER BY job_id, attempt, rank");
  select.bind(1, kAssigned).bind(2, kRunning).bind(3, worker_id);
  return read_all(select);
}

std::vector<RankRecord> RankStore::live_of_job(uint64_t job_id) const {
  auto held = db_.lock();
  Statement select(
      db_, std::string(kSelect) + "WHERE job_id = ? AND state IN (?, ?) ORDER BY attempt, rank");
  select.bind(1, static_cast<int64_t>(job_id)).bind(2, kAssigned).bind(3, kRunning);
  return read_all(select);
}

}  // namespace gradpool
