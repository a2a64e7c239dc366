#include "coordinator/workers/rank_reconciler.h"

#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace gradpool {
namespace {

constexpr size_t kMaxRankMessageBytes = 4096;

using RankKey = std::tuple<uint64_t, int, int>;  // job, attempt, rank

v1::RankRef ref_of(const RankRecord& rank) {
  v1::RankRef ref;
  ref.set_job_id(rank.job_id);
  ref.set_attempt(rank.attempt);
  ref.set_rank(rank.rank);
  return ref;
}

}  // namespace

class RankReconciler::Pass {
 public:
  Pass(RankReconciler& owner, const std::string& worker_id, int64_t now_ms,
       v1::HeartbeatResponse* response)
      : owner_(owner), worker_id_(worker_id), now_ms_(now_ms), response_(response) {}

  void apply(const v1::RankReport& report) {
    const v1::RankRef& ref = report.ref();
    reported_.emplace(ref.job_id(), ref.attempt(), ref.rank());
    auto rank = owner_.ranks_.find(ref.job_id(), ref.attempt(), ref.rank());
    JobRecord* job = rank && rank->worker_id == worker_id_ ? find_job(ref.job_id()) : nullptr;
    if (!job) {
      // Not ours to run here: whatever it is, it should not run.
      *(report.exited() ? response_->add_forget() : response_->add_stop()) = ref;
      return;
    }
    if (!report.log().empty()) owner_.logs_.rank_output(ref.job_id(), ref.rank(), report.log());
    // Before the exit: the report that says a rank exited also carries its last steps.
    if (rank->rank == 0 && report.has_progress() && Lifecycle::is_current(*job, *rank))
      owner_.lifecycle_.record_progress(*job, report.progress(), now_ms_);
    if (report.exited()) {
      if (rank->state != RankState::kExited)
        owner_.lifecycle_.rank_exited(*job, *rank, report.exit_code(),
                                      report.message().substr(0, kMaxRankMessageBytes), now_ms_);
      *response_->add_forget() = ref;
      return;
    }
    // Alive, whatever the store thought (a lost worker may come back with its ranks): the slot is
    // busy until the rank exits.
    if (report.running() && rank->state != RankState::kRunning)
      owner_.lifecycle_.rank_running(*job, *rank, now_ms_);
    if (!Lifecycle::is_current(*job, *rank)) *response_->add_stop() = ref;
  }

  // The ranks the store has alive on this worker that the worker did not mention.
  void visit_unreported() {
    for (RankRecord& rank : owner_.ranks_.live(worker_id_)) {
      if (reported_.count({rank.job_id, rank.attempt, rank.rank})) continue;
      JobRecord* job = find_job(rank.job_id);
      if (!job) continue;
      if (rank.state == RankState::kRunning) {
        owner_.lifecycle_.rank_lost(
            *job, rank, fmt::format("worker {} no longer reports it", worker_id_), now_ms_);
      } else if (!Lifecycle::is_current(*job, rank)) {
        owner_.lifecycle_.rank_exited(*job, rank, 0, "stopped before it started", now_ms_);
      } else {
        add_start(*job, rank);
      }
    }
  }

 private:
  JobRecord* find_job(uint64_t job_id) {
    auto cached = jobs_.find(job_id);
    if (cached == jobs_.end()) {
      auto job = owner_.jobs_.find(job_id);
      if (!job) return nullptr;
      cached = jobs_.emplace(job_id, std::move(*job)).first;
    }
    return &cached->second;
  }

  void add_start(JobRecord& job, const RankRecord& rank) {
    v1::RankAssignment assignment;
    if (!job.dataset_sha256.empty()) {
      auto dataset = owner_.datasets_.find(job.job.dataset());
      if (!dataset) {
        owner_.lifecycle_.fail_attempt(
            job,
            fmt::format("attempt {}: dataset '{}' is no longer registered", rank.attempt,
                        job.job.dataset()),
            AttemptFailure::kRankFailed, now_ms_);
        return;
      }
      *assignment.mutable_dataset() = std::move(*dataset);
    }
    *assignment.mutable_ref() = ref_of(rank);
    assignment.set_world_size(job.job.gpus());
    assignment.set_slot(rank.slot);
    assignment.set_spec_yaml(job.job.spec_yaml());
    assignment.set_rendezvous_token(job.rendezvous_token);
    assignment.set_backend(rank.gpu_name == "cpu" ? "gloo" : "nccl");
    assignment.set_local_batch(0);
    *response_->add_start() = std::move(assignment);
  }

  RankReconciler& owner_;
  const std::string& worker_id_;
  int64_t now_ms_;
  v1::HeartbeatResponse* response_;
  std::set<RankKey> reported_;
  std::map<uint64_t, JobRecord> jobs_;  // rows changed in this pass stay consistent here
};

RankReconciler::RankReconciler(JobStore& jobs, RankStore& ranks, Lifecycle& lifecycle,
                               JobLogs& logs, const DatasetStore& datasets)
    : jobs_(jobs), ranks_(ranks), lifecycle_(lifecycle), logs_(logs), datasets_(datasets) {}

void RankReconciler::reconcile(const std::string& worker_id,
                               const google::protobuf::RepeatedPtrField<v1::RankReport>& reports,
                               int64_t now_ms, v1::HeartbeatResponse* response) {
  Pass pass(*this, worker_id, now_ms, response);
  for (const v1::RankReport& report : reports) pass.apply(report);
  pass.visit_unreported();
}

}  // namespace gradpool
