// One scheduling pass (the policy is in scheduler.h).
//
// Why it is fast: ranks may span workers, so a job fits exactly when the pool has at least `gpus`
// free matching slots, wherever they are. The pass therefore groups slots into kinds (same GPU
// name and memory) and jobs into constraint classes (same gpu_type and minimum memory), and keeps
// per-class counts of matching slots: all of them, the free ones, and the free ones not reserved
// for the head, and per worker the open slots of each kind. Deciding that a job waits costs O(1);
// a placement or the one reservation counts each worker's open matching slots by kind, then
// visits the slots of the workers it takes. For J jobs, C classes, K kinds, W workers, S slots
// and P placements (P <= S) a pass costs about O(J log J + C·K + (P + 1)·W + S·C).
#include "coordinator/scheduler/scheduler.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <tuple>
#include <unordered_map>
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

// How many open slots a worker offers a job; a placement is built from these.
struct Offer {
  int worker = 0;
  int open = 0;
};

// A queued job's owner, looked up once per pass.
struct Owner {
  double decayed_gpu_seconds = 0;
  int quota = 0;  // 0 = unlimited
  int held = 0;   // GPUs in use, plus those placed this pass
};

// A job's place in the scheduling order; the keys sit together so that sorting stays cheap.
struct OrderKey {
  int priority = 0;
  double owner_usage = 0;
  int64_t submit_ms = 0;
  uint64_t id = 0;
  size_t index = 0;  // into the queue; the last key, so that duplicate ids still sort one way
};

// Open slots of one kind on one worker (a worker usually has a single kind).
struct KindCount {
  int kind = 0;
  int open = 0;
};

class SchedulingPass {
 public:
  SchedulingPass(const std::vector<WorkerView>& pool, const std::vector<QueuedJob>& queue,
                 const Usage& usage, const Policy& policy)
      : queue_(queue), usage_(usage), policy_(policy) {
    index_pool(pool);
    std::unordered_map<std::string_view, int> owner_ids;
    for (const QueuedJob& job : queue) {
      job_class_.push_back(class_of(job));
      const auto [it, added] = owner_ids.emplace(job.user, static_cast<int>(owners_.size()));
      if (added) owners_.push_back(owner(job.user));
      job_owner_.push_back(it->second);
    }
  }

  Decision run() {
    Decision decision;
    for (size_t job_index : scheduling_order()) {
      const QueuedJob& job = queue_[job_index];
      const PendingReason reason = place_or_explain(job_index, decision);
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
      worker_kinds_.emplace_back();
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
          ++kind_free_[it->second], ++worker_open_[w], ++kind_count(w, it->second).open;
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

  Owner owner(const std::string& user) const {
    Owner owner;
    owner.quota = quota_of(policy_, user);
    if (const auto it = usage_.decayed_gpu_seconds.find(user);
        it != usage_.decayed_gpu_seconds.end())
      owner.decayed_gpu_seconds = it->second;
    if (const auto it = usage_.gpus_in_use.find(user); it != usage_.gpus_in_use.end())
      owner.held = it->second;
    return owner;
  }

  // Job indexes: priority desc, owner's decayed GPU-seconds asc, submit asc, id asc.
  std::vector<size_t> scheduling_order() const {
    std::vector<OrderKey> keys;
    keys.reserve(queue_.size());
    for (size_t i = 0; i < queue_.size(); ++i) {
      const QueuedJob& job = queue_[i];
      keys.push_back(
          {job.priority, owners_[job_owner_[i]].decayed_gpu_seconds, job.submit_ms, job.id, i});
    }
    std::sort(keys.begin(), keys.end(), [](const OrderKey& a, const OrderKey& b) {
      return std::tie(b.priority, a.owner_usage, a.submit_ms, a.id, a.index) <
             std::tie(a.priority, b.owner_usage, b.submit_ms, b.id, b.index);
    });
    std::vector<size_t> order;
    order.reserve(keys.size());
    for (const OrderKey& key : keys) order.push_back(key.index);
    return order;
  }

  // Places the job (kNone) or says why it waits; the first job short of slots becomes the head.
  PendingReason place_or_explain(size_t job_index, Decision& decision) {
    const QueuedJob& job = queue_[job_index];
    if (job.previous_attempt_stopping) return PendingReason::kStoppingPrevious;
    const int cls = job_class_[job_index];
    const ClassCounts& counts = classes_[cls];
    if (job.gpus < 1 || counts.capacity < job.gpus) return PendingReason::kNoMatchingGpus;
    Owner& owner = owners_[job_owner_[job_index]];
    if (owner.quota > 0 && owner.held + job.gpus > owner.quota) return PendingReason::kQuota;
    if (counts.open >= job.gpus) {
      decision.placements.push_back(place(job, cls));
      owner.held += job.gpus;
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

  bool usable(int kind, int cls) const {
    return cls == kAllClasses || classes_[cls].matches_kind[kind];
  }

  // The open slots each worker offers class `cls` (every open slot for kAllClasses), counted
  // per kind so that no slot is visited.
  std::vector<Offer> offers(int cls) const {
    std::vector<Offer> offers;
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      if (worker_open_[w] == 0) continue;
      Offer offer{w, 0};
      for (const KindCount& count : worker_kinds_[w])
        if (usable(count.kind, cls)) offer.open += count.open;
      if (offer.open > 0) offers.push_back(offer);
    }
    return offers;
  }

  // Fewest workers: the best-fitting single worker, else the largest offers first.
  Placement place(const QueuedJob& job, int cls) {
    std::vector<Offer> candidates = offers(cls);
    size_t best_fit = candidates.size();
    for (size_t i = 0; i < candidates.size(); ++i)
      if (candidates[i].open >= job.gpus &&
          (best_fit == candidates.size() || candidates[i].open < candidates[best_fit].open))
        best_fit = i;
    if (best_fit < candidates.size()) {
      candidates = {candidates[best_fit]};
    } else {
      std::stable_sort(candidates.begin(), candidates.end(),
                       [](const Offer& a, const Offer& b) { return a.open > b.open; });
    }
    Placement placement{job.id, {}};
    for (const Offer& offer : candidates) {
      const int missing = job.gpus - static_cast<int>(placement.ranks.size());
      if (missing == 0) break;
      claim(offer.worker, cls, std::min(missing, offer.open), SlotState::kTaken, &placement);
    }
    return placement;
  }

  void reserve_for_head(int cls) {
    for (const Offer& offer : offers(cls))
      claim(offer.worker, cls, offer.open, SlotState::kReserved, nullptr);
  }

  // Moves the `count` lowest-index open slots of worker `w` usable by `cls` to `state`, adding
  // them to `placement` when given.
  void claim(int w, int cls, int count, SlotState state, Placement* placement) {
    for (size_t s = worker_slots_[w].first; count > 0 && s < worker_slots_[w].second; ++s) {
      if (slots_[s].state != SlotState::kOpen || !usable(slots_[s].kind, cls)) continue;
      if (placement) placement->ranks.push_back({workers_[w]->id, slots_[s].index});
      set_state(slots_[s], state);
      --count;
    }
  }

  // Moves an open slot to `state`, keeping the counts of its worker and of every class it matches.
  void set_state(PoolSlot& slot, SlotState state) {
    slot.state = state;
    --worker_open_[slot.worker];
    --kind_count(slot.worker, slot.kind).open;
    for (int cls : classes_of_kind_[slot.kind]) {
      --classes_[cls].open;
      if (state == SlotState::kTaken) --classes_[cls].free;
    }
  }

  KindCount& kind_count(int w, int kind) {
    for (KindCount& count : worker_kinds_[w])
      if (count.kind == kind) return count;
    return worker_kinds_[w].emplace_back(KindCount{kind, 0});
  }

  static constexpr int kAllClasses = -1;  // with backfill off the head reserves every open slot

  const std::vector<QueuedJob>& queue_;
  const Usage& usage_;
  const Policy& policy_;

  std::vector<const WorkerView*> workers_;               // the up workers, in pool order
  std::vector<std::pair<size_t, size_t>> worker_slots_;  // [first, last) into slots_
  std::vector<int> worker_open_;                         // open slots per worker
  std::vector<std::vector<KindCount>> worker_kinds_;     // open slots per worker and kind
  std::vector<PoolSlot> slots_;

  std::vector<Slot> kinds_;  // one sample slot per (gpu_name, memory_gb)
  std::vector<int> kind_total_, kind_free_;
  std::vector<std::vector<int>> classes_of_kind_;

  std::map<std::pair<std::string, double>, int> class_ids_;
  std::vector<ClassCounts> classes_;
  std::vector<int> job_class_;  // per queue index

  std::vector<Owner> owners_;
  std::vector<int> job_owner_;  // per queue index, into owners_

  bool head_reserved_ = false;
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
