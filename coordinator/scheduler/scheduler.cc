// One scheduling pass (the policy is in scheduler.h).
//
// Why it is fast: ranks may span workers, so a job fits exactly when the pool has at least `gpus`
// free matching slots, wherever they are. The pass therefore groups slots into kinds (same GPU
// name and memory) and jobs into constraint classes (same gpu_type and minimum memory), and keeps
// per-class counts of matching slots: all of them, the free ones, and the free ones not reserved
// for the head. Deciding that a job waits costs O(1); only a placement or the one reservation
// scans the slots. For J jobs, C classes, K kinds, S slots and P placements (P <= S) a pass costs
// O(J log J + C·K + (P + 1)·S + S·C) — a full pool costs nothing more per job than an empty one.
#include "coordinator/scheduler/scheduler.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace gradpool::sched {
namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

enum class SlotState { kOpen, kReserved, kTaken };

// A slot of an up worker during the pass; slots_ holds each worker's slots together, by index.
struct PoolSlot {
  int worker = 0;  // into workers_
  int index = 0;
  int kind = 0;
  SlotState state = SlotState::kOpen;
};

// The slots a constraint class can use, counted over the up workers.
struct ClassCounts {
  std::vector<bool> matches_kind;
  int capacity = 0;  // every matching slot, busy or not
  int free = 0;      // not busy and not placed this pass
  int open = 0;      // free and not reserved for the head
};

// Free slots one worker offers a job; a placement is built from these.
struct Offer {
  int worker = 0;
  std::vector<int> slots;  // into slots_, lowest index first
};

class SchedulingPass {
 public:
  SchedulingPass(const std::vector<WorkerView>& pool, const std::vector<QueuedJob>& queue,
                 const Usage& usage, const Policy& policy)
      : queue_(queue), usage_(usage), policy_(policy) {
    index_pool(pool);
    job_class_.reserve(queue.size());
    for (const QueuedJob& job : queue) job_class_.push_back(class_of(job));
  }

  Decision run() {
    Decision decision;
    for (size_t job_index : scheduling_order()) {
      const QueuedJob& job = queue_[job_index];
      const PendingReason reason = place_or_explain(job, job_class_[job_index], decision);
      if (reason != PendingReason::kNone)
        decision.pending.push_back({job.id, reason, static_cast<int>(decision.pending.size()) + 1});
    }
    return decision;
  }

 private:
  void index_pool(const std::vector<WorkerView>& pool) {
    std::map<std::pair<std::string, double>, int> kind_ids;
    for (const WorkerView& worker : pool) {
      if (!worker.up) continue;
      const int w = static_cast<int>(workers_.size());
      workers_.push_back(&worker);
      worker_open_.push_back(0);
      const size_t first = slots_.size();
      for (const Slot& slot : worker.slots) {
        const auto [it, added] = kind_ids.emplace(std::make_pair(slot.gpu_name, slot.memory_gb),
                                                  static_cast<int>(kinds_.size()));
        if (added) {
          kinds_.push_back(slot);
          kind_total_.push_back(0);
          kind_free_.push_back(0);
        }
        ++kind_total_[it->second];
        PoolSlot pool_slot{w, slot.index, it->second, SlotState::kOpen};
        if (slot.busy)
          pool_slot.state = SlotState::kTaken;
        else
          ++kind_free_[it->second], ++worker_open_[w];
        slots_.push_back(pool_slot);
      }
      std::stable_sort(slots_.begin() + first, slots_.end(),
                       [](const PoolSlot& a, const PoolSlot& b) { return a.index < b.index; });
      worker_slots_.emplace_back(first, slots_.size());
    }
    classes_of_kind_.resize(kinds_.size());
  }

  // The class of the job's constraints, created (and counted) on first use.
  int class_of(const QueuedJob& job) {
    const auto [it, added] =
        class_ids_.emplace(std::make_pair(lowercase(job.gpu_type), job.min_gpu_memory_gb),
                           static_cast<int>(classes_.size()));
    if (!added) return it->second;
    ClassCounts counts;
    counts.matches_kind.resize(kinds_.size());
    for (size_t kind = 0; kind < kinds_.size(); ++kind) {
      if (!slot_matches(kinds_[kind], job.gpu_type, job.min_gpu_memory_gb)) continue;
      counts.matches_kind[kind] = true;
      classes_of_kind_[kind].push_back(it->second);
      counts.capacity += kind_total_[kind];
      counts.free += kind_free_[kind];
    }
    counts.open = counts.free;
    classes_.push_back(std::move(counts));
    return it->second;
  }

  // Job indexes: priority desc, owner's decayed GPU-seconds asc, submit asc, id asc.
  std::vector<size_t> scheduling_order() const {
    std::vector<double> owner_usage(queue_.size());
    for (size_t i = 0; i < queue_.size(); ++i) {
      const auto it = usage_.decayed_gpu_seconds.find(queue_[i].user);
      owner_usage[i] = it == usage_.decayed_gpu_seconds.end() ? 0 : it->second;
    }
    std::vector<size_t> order(queue_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const QueuedJob& x = queue_[a];
      const QueuedJob& y = queue_[b];
      if (x.priority != y.priority) return x.priority > y.priority;
      if (owner_usage[a] != owner_usage[b]) return owner_usage[a] < owner_usage[b];
      if (x.submit_ms != y.submit_ms) return x.submit_ms < y.submit_ms;
      return x.id < y.id;
    });
    return order;
  }

  // Places the job (kNone) or says why it waits; the first job short of slots becomes the head.
  PendingReason place_or_explain(const QueuedJob& job, int cls, Decision& decision) {
    if (job.previous_attempt_stopping) return PendingReason::kStoppingPrevious;
    const ClassCounts& counts = classes_[cls];
    if (job.gpus < 1 || counts.capacity < job.gpus) return PendingReason::kNoMatchingGpus;
    if (over_quota(job)) return PendingReason::kQuota;
    if (counts.open >= job.gpus) {
      decision.placements.push_back(place(job, cls));
      placed_gpus_[job.user] += job.gpus;
      return PendingReason::kNone;
    }
    if (!head_reserved_) {
      // Before the head, nothing is reserved: open == free, so it waits for GPUs, not for anyone.
      reserve_for_head(policy_.backfill ? cls : kAllClasses);
      head_reserved_ = true;
      return PendingReason::kWaitingForGpus;
    }
    return counts.free >= job.gpus ? PendingReason::kPriority : PendingReason::kWaitingForGpus;
  }

  bool over_quota(const QueuedJob& job) const {
    const int quota = quota_of(policy_, job.user);
    if (quota <= 0) return false;
    const auto in_use = usage_.gpus_in_use.find(job.user);
    const auto placed = placed_gpus_.find(job.user);
    const int held = (in_use == usage_.gpus_in_use.end() ? 0 : in_use->second) +
                     (placed == placed_gpus_.end() ? 0 : placed->second);
    return held + job.gpus > quota;
  }

  // The open slots each worker offers class `cls` (every open slot for kAllClasses).
  std::vector<Offer> offers(int cls) const {
    std::vector<Offer> offers;
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      if (worker_open_[w] == 0) continue;
      Offer offer{w, {}};
      for (size_t s = worker_slots_[w].first; s < worker_slots_[w].second; ++s)
        if (slots_[s].state == SlotState::kOpen &&
            (cls == kAllClasses || classes_[cls].matches_kind[slots_[s].kind]))
          offer.slots.push_back(static_cast<int>(s));
      if (!offer.slots.empty()) offers.push_back(std::move(offer));
    }
    return offers;
  }

  // Fewest workers: the best-fitting single worker, else the largest offers first.
  Placement place(const QueuedJob& job, int cls) {
    std::vector<Offer> candidates = offers(cls);
    size_t best_fit = candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i)
      if (static_cast<int>(candidates[i].slots.size()) >= job.gpus &&
          (best_fit == candidates.size() ||
           candidates[i].slots.size() < candidates[best_fit].slots.size()))
        best_fit = i;
    if (best_fit < candidates.size()) {
      candidates = {std::move(candidates[best_fit])};
    } else {
      std::stable_sort(candidates.begin(), candidates.end(), [](const Offer& a, const Offer& b) {
        return a.slots.size() > b.slots.size();
      });
    }
    Placement placement{job.id, {}};
    for (const Offer& offer : candidates) {
      for (int s : offer.slots) {
        if (static_cast<int>(placement.ranks.size()) == job.gpus) break;
        placement.ranks.push_back({workers_[offer.worker]->id, slots_[s].index});
        set_state(s, SlotState::kTaken);
      }
    }
    return placement;
  }

  void reserve_for_head(int cls) {
    for (const Offer& offer : offers(cls))
      for (int s : offer.slots) set_state(s, SlotState::kReserved);
  }

  // Moves an open slot to `state`, keeping the counts of every class it matches.
  void set_state(int s, SlotState state) {
    PoolSlot& slot = slots_[s];
    slot.state = state;
    --worker_open_[slot.worker];
    for (int cls : classes_of_kind_[slot.kind]) {
      --classes_[cls].open;
      if (state == SlotState::kTaken) --classes_[cls].free;
    }
  }

  static constexpr int kAllClasses = -1;  // with backfill off the head reserves every open slot

  const std::vector<QueuedJob>& queue_;
  const Usage& usage_;
  const Policy& policy_;

  std::vector<const WorkerView*> workers_;               // the up workers, in pool order
  std::vector<std::pair<size_t, size_t>> worker_slots_;  // [first, last) into slots_
  std::vector<int> worker_open_;                         // open slots per worker
  std::vector<PoolSlot> slots_;

  std::vector<Slot> kinds_;  // one sample slot per (gpu_name, memory_gb)
  std::vector<int> kind_total_, kind_free_;
  std::vector<std::vector<int>> classes_of_kind_;

  std::map<std::pair<std::string, double>, int> class_ids_;
  std::vector<ClassCounts> classes_;
  std::vector<int> job_class_;  // per queue index

  bool head_reserved_ = false;
  std::map<std::string, int> placed_gpus_;  // per user, this pass
};

}  // namespace

bool slot_matches(const Slot& slot, const std::string& gpu_type, double min_gpu_memory_gb) {
  if (slot.memory_gb < min_gpu_memory_gb) return false;
  const std::string type = lowercase(gpu_type);
  return type == "any" || lowercase(slot.gpu_name).find(type) != std::string::npos;
}

int quota_of(const Policy& policy, const std::string& user) {
  const auto it = policy.user_quota.find(user);
  return it == policy.user_quota.end() ? policy.default_quota : it->second;
}

Decision schedule(const std::vector<WorkerView>& pool, const std::vector<QueuedJob>& queue,
                  const Usage& usage, const Policy& policy) {
  return SchedulingPass(pool, queue, usage, policy).run();
}

}  // namespace gradpool::sched
