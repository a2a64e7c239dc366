// JobStore: the `jobs` table — one row per submitted job with its spec, state, current attempt and
// the progress rank 0 last reported. Rows are read and written whole (JobRecord); the lifecycle
// decides what changes, this class only persists it. Callers run writes inside
// Database::transaction() so that a change is committed before the RPC that made it returns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/database.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

struct JobRecord {
  v1::Job job;                   // as the API shows it, without `ranks` (RankStore has those)
  std::string dataset_sha256;    // version of the registered dataset at submit ("" for a path)
  std::string rendezvous_token;  // of the current attempt
  int64_t accounted_ms = 0;      // while placed: usage has been counted up to this time
  int64_t requeued_ms = 0;       // when its last attempt was requeued (0: never)
};

struct JobFilter {
  std::string user;                  // empty: every user
  std::vector<v1::JobState> states;  // empty: every state
  int limit = 0;                     // 0: no limit
};

bool is_final(v1::JobState state);
// STARTING or RUNNING: the job's current attempt holds (or is about to hold) its slots.
bool is_placed(v1::JobState state);

class JobStore {
 public:
  explicit JobStore(Database& db);  // creates or migrates the table

  // Inserts `record` (its job.id is ignored) and returns the new id.
  uint64_t insert(const JobRecord& record);
  // Writes every column of the row record.job.id.
  void update(const JobRecord& record);

  std::optional<JobRecord> find(uint64_t id) const;
  // Newest first.
  std::vector<JobRecord> list(const JobFilter& filter) const;
  // How many jobs are in each state (states without jobs are absent).
  std::map<v1::JobState, int64_t> count_by_state() const;
  // Ids of jobs not yet final that use the registered dataset `name`.
  std::vector<uint64_t> unfinished_using_dataset(const std::string& name) const;

 private:
  Database& db_;
};

}  // namespace gradpool
