// RankStore: the `ranks` table — where each rank of each attempt of a job runs and what became of
// it. Rows of earlier attempts stay: a requeued job waits until its old ranks have exited, and
// their slots count as busy until then. Writes run inside Database::transaction().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/database.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

// ASSIGNED: placed, not yet reported running. RUNNING: its worker reports it alive. EXITED: its
// worker reported the exit (or it was stopped before it started). LOST: its worker missed its
// lease, or no longer knows the rank.
enum class RankState { kAssigned, kRunning, kExited, kLost };

const char* to_string(RankState state);  // "ASSIGNED" | "RUNNING" | "EXITED" | "LOST"

struct RankRecord {
  uint64_t job_id = 0;
  int attempt = 0;
  int rank = 0;
  std::string worker_id;
  int slot = 0;
  std::string gpu_name;
  RankState state = RankState::kAssigned;
  int exit_code = 0;
  std::string message;  // the worker's last word on it, e.g. the rank's last error line

  // Holds its slot: assigned or running.
  bool live() const { return state == RankState::kAssigned || state == RankState::kRunning; }
  v1::Rank to_proto() const;
};

class RankStore {
 public:
  explicit RankStore(Database& db);  // creates or migrates the table

  void insert(const RankRecord& rank);
  // Writes state, exit_code and message of the row (job_id, attempt, rank).
  void update(const RankRecord& rank);

  std::optional<RankRecord> find(uint64_t job_id, int attempt, int rank) const;
  // The ranks of one attempt, by rank.
  std::vector<RankRecord> of_attempt(uint64_t job_id, int attempt) const;
  // Every assigned or running rank, of any job and attempt; on one worker when `worker_id` is set.
  std::vector<RankRecord> live(const std::string& worker_id = "") const;
  // Assigned or running ranks of `job_id`, any attempt.
  std::vector<RankRecord> live_of_job(uint64_t job_id) const;

 private:
  Database& db_;
};

}  // namespace gradpool
