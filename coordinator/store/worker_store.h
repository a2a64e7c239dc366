// WorkerStore: the `workers` table — every worker that ever registered, its slots (GPUs or CPU
// slots), its state (UP or LOST) and when it was last heard from. Leases themselves live in memory
// (workers/lease_table.h); this table is what survives a coordinator restart. Writes run inside
// Database::transaction().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/database.h"
#include "proto/gradpool.pb.h"

namespace gradpool {

class WorkerStore {
 public:
  explicit WorkerStore(Database& db);  // creates or migrates the table

  // Inserts or replaces the row of worker.id() (busy_slots are not stored: they follow from the
  // ranks).
  void upsert(const v1::Worker& worker);
  void set_state(const std::string& id, v1::WorkerState state);
  void set_last_heartbeat(const std::string& id, int64_t now_ms);

  std::optional<v1::Worker> find(const std::string& id) const;
  std::vector<v1::Worker> list() const;  // by id

 private:
  Database& db_;
};

}  // namespace gradpool
