// Random pools and queues (seeded, so a failure reproduces) checked against the policy by
// replaying each decision job by job in scheduling order: no slot given twice, no busy, lost or
// reserved slot given, every gang whole and matching, quotas kept, fewest workers, every reason
// right, and no job left waiting while the slots it needed were open. A second test runs many
// passes in a row to show that every job that fits the pool eventually runs.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "coordinator/scheduler/scheduler.h"
#include "tests/scheduler/scheduler_test_util.h"

namespace gradpool::sched {
namespace {

struct Scenario {
  std::vector<WorkerView> pool;
  std::vector<QueuedJob> queue;
  Usage usage;
  Policy policy;
};

using SlotKey = std::pair<std::string, int>;  // worker id, slot index

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& items) {
  return items[std::uniform_int_distribution<size_t>(0, items.size() - 1)(rng)];
}
int uniform(std::mt19937& rng, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng);
}
bool chance(std::mt19937& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

Scenario random_scenario(std::mt19937& rng) {
  struct Model {
    const char* name;
    double memory_gb;
  };
  static const std::vector<Model> kModels = {{fixtures::kA100, 80},
                                             {fixtures::kA100, 40},
                                             {fixtures::kH100, 80},
                                             {fixtures::kGtx1080, 8},
                                             {"cpu", 0}};
  static const std::vector<int> kGpus = {0, 1, 1, 1, 1, 2, 2, 3, 4, 8, 16};
  static const std::vector<std::string> kTypes = {"any", "any", "a100", "H100",
                                                  "gtx", "cpu", "tpu"};
  static const std::vector<double> kMinMemory = {0, 0, 0, 16, 40, 80};
  static const std::vector<std::string> kUsers = {"ann", "bob", "cy", "dee"};
  static const std::vector<double> kUsage = {0, 10, 500, 500};
  static const std::vector<int> kDefaultQuota = {0, 0, 4, 8};

  Scenario s;
  for (int w = 0, workers = uniform(rng, 1, 10); w < workers; ++w) {
    const Model& model = pick(rng, kModels);
    const int gpus = uniform(rng, 1, 8);
    std::set<int> busy;
    for (int i = 0; i < gpus; ++i)
      if (chance(rng, 0.3)) busy.insert(i);
    s.pool.push_back(
        fixtures::worker("w" + std::to_string(w), gpus, model.name, model.memory_gb, busy));
    s.pool.back().up = chance(rng, 0.9);
    if (chance(rng, 0.3)) {  // a mixed box: more GPUs of another model, indexes interleaved
      const Model& other = pick(rng, kModels);
      for (Slot& slot : s.pool.back().slots) slot.index *= 2;
      for (int i = 0; i < uniform(rng, 1, 4); ++i)
        s.pool.back().slots.push_back({2 * i + 1, other.name, other.memory_gb, chance(rng, 0.3)});
    }
  }
  for (int j = 0, jobs = uniform(rng, 0, 30); j < jobs; ++j) {
    // Ids unique but not in submit order; submit times often tie.
    QueuedJob job = fixtures::job_of_type(100 + (j * 37) % 1000, pick(rng, kGpus),
                                          pick(rng, kTypes), pick(rng, kMinMemory));
    job.user = pick(rng, kUsers);
    job.submit_ms = uniform(rng, 0, 20);
    job.priority = uniform(rng, 0, 2);
    job.previous_attempt_stopping = chance(rng, 0.05);
    s.queue.push_back(job);
  }
  for (const std::string& user : kUsers) {
    if (chance(rng, 0.7)) s.usage.decayed_gpu_seconds[user] = pick(rng, kUsage);
    s.usage.gpus_in_use[user] = uniform(rng, 0, 4);
    if (chance(rng, 0.3)) s.policy.user_quota[user] = uniform(rng, 1, 10);
  }
  s.policy.default_quota = pick(rng, kDefaultQuota);
  s.policy.backfill = chance(rng, 0.8);
  return s;
}

std::vector<const QueuedJob*> scheduling_order(const Scenario& s) {
  const auto usage = [&](const QueuedJob* job) {
    const auto it = s.usage.decayed_gpu_seconds.find(job->user);
    return it == s.usage.decayed_gpu_seconds.end() ? 0.0 : it->second;
  };
  std::vector<const QueuedJob*> order;
  for (const QueuedJob& job : s.queue) order.push_back(&job);
  std::sort(order.begin(), order.end(), [&](const QueuedJob* a, const QueuedJob* b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    if (usage(a) != usage(b)) return usage(a) < usage(b);
    if (a->submit_ms != b->submit_ms) return a->submit_ms < b->submit_ms;
    return a->id < b->id;
  });
  return order;
}

// Every slot of an up worker with its Slot, and the keys of all of them and of the free ones.
struct PoolIndex {
  std::map<SlotKey, const Slot*> slots;
  std::set<SlotKey> all, free;
  explicit PoolIndex(const std::vector<WorkerView>& pool) {
    for (const WorkerView& worker : pool)
      if (worker.up)
        for (const Slot& slot : worker.slots) {
          slots[{worker.id, slot.index}] = &slot;
          all.insert({worker.id, slot.index});
          if (!slot.busy) free.insert({worker.id, slot.index});
        }
  }
  std::set<SlotKey> matching(const std::set<SlotKey>& keys, const QueuedJob& job) const {
    std::set<SlotKey> out;
    for (const SlotKey& key : keys)
      if (slot_matches(*slots.at(key), job.gpu_type, job.min_gpu_memory_gb)) out.insert(key);
    return out;
  }
};

// The placement uses `available` slots only, in the fewest workers (best fit when one), the
// lowest indexes on each, ranks grouped by worker.
void check_placement(const QueuedJob& job, const Placement& placement,
                     const std::set<SlotKey>& available) {
  ASSERT_EQ(static_cast<int>(placement.ranks.size()), job.gpus);
  std::map<std::string, int> offered, used;
  for (const SlotKey& key : available) ++offered[key.first];
  std::vector<std::string> worker_order;
  std::set<SlotKey> taken;
  for (const SlotRef& ref : placement.ranks) {
    const SlotKey key{ref.worker_id, ref.slot};
    ASSERT_TRUE(available.count(key)) << ref.worker_id << ":" << ref.slot << " was not available";
    ASSERT_TRUE(taken.insert(key).second) << ref.worker_id << ":" << ref.slot << " given twice";
    if (worker_order.empty() || worker_order.back() != ref.worker_id) {
      ASSERT_EQ(used.count(ref.worker_id), 0u) << "ranks of " << ref.worker_id << " not together";
      worker_order.push_back(ref.worker_id);
    }
    ++used[ref.worker_id];
  }
  for (const auto& worker_use : used) {
    // On each worker, its lowest available slots in order (std::set sorts them by index).
    auto lowest = available.lower_bound({worker_use.first, -1});
    for (const SlotRef& ref : placement.ranks) {
      if (ref.worker_id != worker_use.first) continue;
      EXPECT_EQ(ref.slot, (lowest++)->second) << "on " << ref.worker_id;
    }
  }
  std::vector<int> sizes;
  for (const auto& entry : offered) sizes.push_back(entry.second);
  std::sort(sizes.rbegin(), sizes.rend());
  size_t fewest = 0;
  for (int covered = 0; covered < job.gpus; covered += sizes[fewest++]) {
  }
  EXPECT_EQ(used.size(), fewest) << "job " << job.id << " spans more workers than needed";
  if (fewest == 1) {
    int best_fit = 1 << 30;
    for (const auto& entry : offered)
      if (entry.second >= job.gpus) best_fit = std::min(best_fit, entry.second);
    EXPECT_EQ(offered[worker_order[0]], best_fit) << "job " << job.id << " is not a best fit";
  }
}

void check_decision(const Scenario& s, const Decision& decision) {
  std::map<uint64_t, const Placement*> placed;
  std::map<uint64_t, PendingReason> reason;
  for (const Placement& placement : decision.placements) placed[placement.job_id] = &placement;
  for (const PendingJob& pending : decision.pending) reason[pending.job_id] = pending.reason;
  ASSERT_EQ(placed.size(), decision.placements.size()) << "a job placed twice";
  ASSERT_EQ(placed.size() + reason.size(), s.queue.size()) << "a job missing or both";

  // Placements and pending jobs each follow the scheduling order; positions count from 1.
  std::vector<uint64_t> expected_placed, expected_pending;
  for (const QueuedJob* job : scheduling_order(s))
    (placed.count(job->id) ? expected_placed : expected_pending).push_back(job->id);
  EXPECT_EQ(fixtures::placed_ids(decision), expected_placed);
  EXPECT_EQ(fixtures::pending_ids(decision), expected_pending);
  for (size_t i = 0; i < decision.pending.size(); ++i)
    EXPECT_EQ(decision.pending[i].position, static_cast<int>(i) + 1);

  // Replay: the slots still free, those reserved for the head, the GPUs placed per user.
  const PoolIndex pool(s.pool);
  std::set<SlotKey> free = pool.free, reserved;
  std::map<std::string, int> placed_gpus;
  bool head_seen = false, first_eligible_seen = false;
  for (const QueuedJob* job : scheduling_order(s)) {
    SCOPED_TRACE("job " + std::to_string(job->id));
    const PendingReason got = placed.count(job->id) ? PendingReason::kNone : reason[job->id];
    if (job->previous_attempt_stopping) {
      EXPECT_EQ(got, PendingReason::kStoppingPrevious);
      continue;
    }
    const int capacity = static_cast<int>(pool.matching(pool.all, *job).size());
    if (job->gpus < 1 || capacity < job->gpus) {
      EXPECT_EQ(got, PendingReason::kNoMatchingGpus);
      continue;
    }
    const int quota = quota_of(s.policy, job->user);
    const auto in_use = s.usage.gpus_in_use.find(job->user);
    const int held = (in_use == s.usage.gpus_in_use.end() ? 0 : in_use->second);
    if (quota > 0 && held + placed_gpus[job->user] + job->gpus > quota) {
      EXPECT_EQ(got, PendingReason::kQuota);
      continue;
    }
    std::set<SlotKey> open;
    std::set_difference(free.begin(), free.end(), reserved.begin(), reserved.end(),
                        std::inserter(open, open.end()));
    const std::set<SlotKey> available = pool.matching(open, *job);
    const bool fits = static_cast<int>(available.size()) >= job->gpus;
    if (!first_eligible_seen) {
      first_eligible_seen = true;
      EXPECT_EQ(got == PendingReason::kNone, fits) << "the first placeable job in order";
    }
    if (got == PendingReason::kNone) {
      check_placement(*job, *placed[job->id], available);
      for (const SlotRef& ref : placed[job->id]->ranks) free.erase({ref.worker_id, ref.slot});
      placed_gpus[job->user] += job->gpus;
      continue;
    }
    EXPECT_FALSE(fits) << "left waiting with enough open slots";
    if (!head_seen) {
      head_seen = true;
      EXPECT_EQ(got, PendingReason::kWaitingForGpus) << "the head";
      reserved = s.policy.backfill ? pool.matching(free, *job) : free;
    } else {
      const bool fits_but_for_head =
          static_cast<int>(pool.matching(free, *job).size()) >= job->gpus;
      EXPECT_EQ(got, fits_but_for_head ? PendingReason::kPriority : PendingReason::kWaitingForGpus);
    }
  }
}

TEST(SchedulerProperty, RandomPoolsAndQueuesKeepEveryInvariant) {
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const Scenario s = random_scenario(rng);
    const Decision decision = schedule(s.pool, s.queue, s.usage, s.policy);
    check_decision(s, decision);
    const Decision again = schedule(s.pool, s.queue, s.usage, s.policy);
    EXPECT_EQ(fixtures::placed_ids(again), fixtures::placed_ids(decision)) << "not deterministic";
    for (size_t i = 0; i < std::min(again.placements.size(), decision.placements.size()); ++i)
      EXPECT_EQ(again.placements[i].ranks, decision.placements[i].ranks) << "not deterministic";
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(SchedulerProperty, RepeatedPassesRunEveryJobThatFitsThePool) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Scenario s = random_scenario(rng);
    // Jobs the service would accept (within quota), counted in gpus_in_use while they run; the
    // slots busy at the start belong to ranks that end at random like the others.
    s.usage.gpus_in_use.clear();
    for (QueuedJob& job : s.queue) {
      job.previous_attempt_stopping = false;
      const int quota = quota_of(s.policy, job.user);
      if (quota > 0) job.gpus = std::min(job.gpus, quota);
    }
    std::vector<Placement> running;
    for (const WorkerView& worker : s.pool)
      for (const Slot& slot : worker.slots)
        if (slot.busy) running.push_back({0, {{worker.id, slot.index}}});  // job 0: not ours
    std::map<uint64_t, QueuedJob> owner;
    for (const QueuedJob& job : s.queue) owner.emplace(job.id, job);

    const auto only_unfit_jobs_wait = [](const Decision& decision) {
      return std::all_of(decision.pending.begin(), decision.pending.end(), [](const auto& pending) {
        return pending.reason == PendingReason::kNoMatchingGpus;
      });
    };
    Decision decision;
    for (int pass = 0; pass < 200; ++pass) {
      decision = schedule(s.pool, s.queue, s.usage, s.policy);
      check_decision(s, decision);
      if (::testing::Test::HasFailure() || only_unfit_jobs_wait(decision)) break;
      for (const Placement& placement : decision.placements) {
        const QueuedJob& job = owner.at(placement.job_id);
        fixtures::set_busy(s.pool, placement, true);
        s.usage.gpus_in_use[job.user] += job.gpus;
        running.push_back(placement);
        s.queue.erase(std::find_if(s.queue.begin(), s.queue.end(),
                                   [&](const QueuedJob& queued) { return queued.id == job.id; }));
      }
      for (auto it = running.begin(); it != running.end();) {
        if (!chance(rng, 0.3)) {
          ++it;
          continue;
        }
        fixtures::set_busy(s.pool, *it, false);
        if (it->job_id != 0)
          s.usage.gpus_in_use[owner.at(it->job_id).user] -= owner.at(it->job_id).gpus;
        it = running.erase(it);
      }
    }
    for (const PendingJob& pending : decision.pending)
      EXPECT_EQ(pending.reason, PendingReason::kNoMatchingGpus)
          << "job " << pending.job_id << " still waits after 200 passes";
  }
}

}  // namespace
}  // namespace gradpool::sched
