// The scheduler: a pure function from (pool, queue, usage, policy) to placements. No I/O, no
// clock, no locks — the coordinator snapshots its state, calls schedule(), and commits the
// placements it returns; tests and bench/ call it directly on synthetic pools.
//
// Policy, in order:
//  1. Gang placement: a job gets all of its `gpus` slots in one pass or none. Every slot must
//     match the job's gpu_type (case-insensitive substring of the GPU name; "any" matches all)
//     and have at least min_gpu_memory_gb. Ranks may span workers; the fewest workers are used
//     (best fit: the worker with the fewest free matching slots that still holds the gang, else
//     the workers with the most free matching slots first; ties go to the earlier worker in
//     `pool`). Ranks follow the workers in the order taken, then slot index, lowest first.
//  2. Order: priority (higher first), then fair share (lower decayed GPU-seconds of the owner
//     first), then age (earlier submit first), then id.
//  3. Quota: a user may hold at most quota(user) GPUs at once (running + placed this pass);
//     a job that would exceed it waits with REASON_QUOTA and does not block others.
//  4. Backfill without delaying the head: the first job (in order) that cannot be placed for lack
//     of free slots reserves the free slots it could use; later jobs may only use unreserved
//     slots. Because reserved slots are exactly those the head could use now, a backfilled job
//     never takes a slot the head is waiting for. Only that one reservation exists per pass.
//     The head waits with REASON_WAITING_FOR_GPUS; a later job that would fit but for the
//     reservation waits with REASON_PRIORITY, else with REASON_WAITING_FOR_GPUS. With
//     backfill off the head reserves every free slot: nothing after it starts this pass.
//  5. Jobs that no set of registered, up workers could ever hold (too many GPUs of that type,
//     busy or not; or gpus < 1) wait with REASON_NO_MATCHING_GPUS and reserve nothing.
//  6. A job whose previous attempt is still stopping waits with REASON_STOPPING_PREVIOUS and
//     reserves nothing. Reasons are checked in the order 6, 5, 3, then room (1 and 4).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gradpool::sched {

// Mirrors gradpool.v1.PendingReason.
enum class PendingReason {
  kNone,
  kWaitingForGpus,
  kPriority,
  kQuota,
  kNoMatchingGpus,
  kStoppingPrevious
};

struct Slot {
  int index = 0;         // GPU index on the worker (or CPU slot)
  std::string gpu_name;  // "NVIDIA A100-SXM4-80GB", "cpu"
  double memory_gb = 0;
  bool busy = false;  // held by a running or starting rank (of any attempt)
};

struct WorkerView {
  std::string id;
  bool up = true;  // lost workers are ignored
  std::vector<Slot> slots;
};

struct QueuedJob {
  uint64_t id = 0;
  std::string user;
  int priority = 0;
  int64_t submit_ms = 0;
  int gpus = 1;
  std::string gpu_type = "any";
  double min_gpu_memory_gb = 0;
  bool previous_attempt_stopping = false;  // not placeable until its old ranks have exited
};

struct Usage {
  std::map<std::string, double> decayed_gpu_seconds;  // per user; missing = 0
  std::map<std::string, int> gpus_in_use;             // per user, running + starting
};

struct Policy {
  std::map<std::string, int> user_quota;  // max GPUs held at once per user
  int default_quota = 0;                  // for users not in user_quota; 0 = unlimited
  bool backfill = true;
};

struct SlotRef {
  std::string worker_id;
  int slot = 0;
  bool operator==(const SlotRef& other) const {
    return worker_id == other.worker_id && slot == other.slot;
  }
};

struct Placement {
  uint64_t job_id = 0;
  std::vector<SlotRef> ranks;  // ranks[r] runs rank r
};

struct PendingJob {
  uint64_t job_id = 0;
  PendingReason reason = PendingReason::kNone;
  int position = 0;  // 1-based among jobs left queued after this pass, in scheduling order
};

struct Decision {
  std::vector<Placement> placements;  // in scheduling order
  std::vector<PendingJob> pending;    // every queued job not placed, in scheduling order
};

// Whether `slot` satisfies the job's GPU constraints.
bool slot_matches(const Slot& slot, const std::string& gpu_type, double min_gpu_memory_gb);

// The GPU quota of `user` under `policy` (0 = unlimited).
int quota_of(const Policy& policy, const std::string& user);

Decision schedule(const std::vector<WorkerView>& pool, const std::vector<QueuedJob>& queue,
                  const Usage& usage, const Policy& policy);

}  // namespace gradpool::sched
