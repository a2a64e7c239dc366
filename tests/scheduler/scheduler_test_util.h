// Small builders and lookups shared by the scheduler tests: hand-built pools and queues, and the
// questions the tests ask of a Decision.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>

#include "coordinator/scheduler/scheduler.h"

namespace gradpool::sched {

// Lets GoogleTest print reasons by name.
inline void PrintTo(PendingReason reason, std::ostream* out) {
  static const char* const kNames[] = {"kNone",  "kWaitingForGpus", "kPriority",
                                       "kQuota", "kNoMatchingGpus", "kStoppingPrevious"};
  *out << kNames[static_cast<int>(reason)];
}

namespace fixtures {

inline constexpr char kA100[] = "NVIDIA A100-SXM4-80GB";
inline constexpr char kH100[] = "NVIDIA H100 80GB HBM3";
inline constexpr char kGtx1080[] = "NVIDIA GeForce GTX 1080";

// A worker with `gpus` slots 0..gpus-1 of one model; the indexes in `busy` are held.
inline WorkerView worker(const std::string& id, int gpus, const std::string& gpu_name = kA100,
                         double memory_gb = 80, const std::set<int>& busy = {}) {
  WorkerView view;
  view.id = id;
  for (int i = 0; i < gpus; ++i) view.slots.push_back({i, gpu_name, memory_gb, busy.count(i) > 0});
  return view;
}

// A job of `user` needing `gpus` of any type; submitted at `id` ms so that ids follow age.
inline QueuedJob job(uint64_t id, int gpus, const std::string& user = "alice") {
  QueuedJob queued;
  queued.id = id;
  queued.user = user;
  queued.gpus = gpus;
  queued.submit_ms = static_cast<int64_t>(id);
  return queued;
}

inline QueuedJob job_of_type(uint64_t id, int gpus, const std::string& gpu_type,
                             double min_gpu_memory_gb = 0) {
  QueuedJob queued = job(id, gpus);
  queued.gpu_type = gpu_type;
  queued.min_gpu_memory_gb = min_gpu_memory_gb;
  return queued;
}

// The job's placement, or nullptr when it was not placed.
inline const Placement* placement_of(const Decision& decision, uint64_t job_id) {
  for (const Placement& placement : decision.placements)
    if (placement.job_id == job_id) return &placement;
  return nullptr;
}

// The job's pending entry, or nullptr when it was placed.
inline const PendingJob* pending_of(const Decision& decision, uint64_t job_id) {
  for (const PendingJob& pending : decision.pending)
    if (pending.job_id == job_id) return &pending;
  return nullptr;
}

// kNone when the job was placed.
inline PendingReason reason_of(const Decision& decision, uint64_t job_id) {
  const PendingJob* pending = pending_of(decision, job_id);
  return pending ? pending->reason : PendingReason::kNone;
}

inline std::vector<uint64_t> placed_ids(const Decision& decision) {
  std::vector<uint64_t> ids;
  for (const Placement& placement : decision.placements) ids.push_back(placement.job_id);
  return ids;
}

inline std::vector<uint64_t> pending_ids(const Decision& decision) {
  std::vector<uint64_t> ids;
  for (const PendingJob& pending : decision.pending) ids.push_back(pending.job_id);
  return ids;
}

inline std::vector<SlotRef> refs(std::initializer_list<std::pair<const char*, int>> slots) {
  std::vector<SlotRef> out;
  for (const auto& [worker_id, slot] : slots) out.push_back({worker_id, slot});
  return out;
}

// Matches a `const Placement*` that is set and whose ranks are `expected` (from refs()).
MATCHER_P(RanksAre, expected, "") {
  return arg != nullptr && arg->ranks == expected;
}

// Marks the placement's slots busy (the ranks started) or free (they exited) in `pool`.
inline void set_busy(std::vector<WorkerView>& pool, const Placement& placement, bool busy) {
  for (const SlotRef& ref : placement.ranks)
    for (WorkerView& view : pool)
      if (view.id == ref.worker_id)
        for (Slot& slot : view.slots)
          if (slot.index == ref.slot) slot.busy = busy;
}

}  // namespace fixtures
}  // namespace gradpool::sched
