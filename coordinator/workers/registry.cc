#include "coordinator/workers/registry.h"

#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "coordinator/auth/names.h"
#include "coordinator/jobs/clock.h"

namespace gradpool {
namespace {

constexpr int kMaxSlots = 1024;
constexpr int kMaxReports = 4096;
constexpr size_t kMaxFieldBytes = 256;

void check_text(const std::string& value, const char* field) {
  if (value.size() > kMaxFieldBytes)
    fail("{}: at most {} bytes, got {}", field, kMaxFieldBytes, value.size());
}

void check_worker_id(const std::string& id) {
  if (!is_valid_name(id))
    fail("worker_id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -, got '{}'", id);
}

void check_reports(const google::protobuf::RepeatedPtrField<v1::RankReport>& reports) {
  if (reports.size() > kMaxReports)
    fail("ranks: at most {} reports per message, got {}", kMaxReports, reports.size());
}

void check_register(const v1::RegisterRequest& request) {
  check_worker_id(request.worker_id());
  check_text(request.hostname(), "hostname");
  check_text(request.metrics_address(), "metrics_address");
  check_text(request.address(), "address");
  if (request.address().empty()) fail("address: required (where the worker's ranks listen)");
  if (request.gpus().empty()) fail("gpus: a worker needs at least one slot");
  if (request.gpus_size() > kMaxSlots)
    fail("gpus: at most {} slots, got {}", kMaxSlots, request.gpus_size());
  std::set<int> indexes;
  for (const v1::Gpu& gpu : request.gpus()) {
    if (gpu.index() < 0 || !indexes.insert(gpu.index()).second)
      fail("gpus: slot index {} is negative or given twice", gpu.index());
    if (gpu.name().empty()) fail("gpus[{}].name: required (\"cpu\" for CPU slots)", gpu.index());
    check_text(gpu.name(), "gpus.name");
    check_text(gpu.uuid(), "gpus.uuid");
    check_text(gpu.compute_capability(), "gpus.compute_capability");
    if (gpu.memory_bytes() < 0) fail("gpus[{}].memory_bytes: must be >= 0", gpu.index());
  }
  check_reports(request.ranks());
}

}  // namespace

WorkerRegistry::WorkerRegistry(Database& db, WorkerStore& workers, RankStore& ranks, JobStore& jobs,
                               Lifecycle& lifecycle, RankReconciler& reconciler,
                               WorkerTimings timings)
    : db_(db),
      workers_(workers),
      ranks_(ranks),
      jobs_(jobs),
      lifecycle_(lifecycle),
      reconciler_(reconciler),
      timings_(timings),
      leases_(timings.lease_timeout) {
  for (const v1::Worker& worker : workers_.list())
    if (worker.state() == v1::WORKER_UP) leases_.renew(worker.id());
}

v1::RegisterResponse WorkerRegistry::register_worker(const v1::RegisterRequest& request) {
  check_register(request);
  const int64_t now_ms = unix_now_ms();
  db_.transaction([&] {
    v1::Worker worker;
    worker.set_id(request.worker_id());
    worker.set_hostname(request.hostname());
    worker.set_address(request.address());
    *worker.mutable_gpus() = request.gpus();
    worker.set_state(v1::WORKER_UP);
    worker.set_last_heartbeat_ms(now_ms);
    worker.set_metrics_address(request.metrics_address());
    workers_.upsert(worker);
    leases_.renew(worker.id());
    // Re-adoption: what it reports alive stays if the store agrees; the start/stop/forget this
    // implies go out with its next heartbeat.
    v1::HeartbeatResponse ignored;
    reconciler_.reconcile(worker.id(), request.ranks(), now_ms, &ignored);
  });
  spdlog::info("worker {} registered: {} slot(s) at {}, {} running rank(s) reported",
               request.worker_id(), request.gpus_size(), request.address(), request.ranks_size());
  v1::RegisterResponse response;
  response.set_lease_timeout_ms(timings_.lease_timeout.count());
  response.set_heartbeat_interval_ms(timings_.heartbeat_interval.count());
  return response;
}

v1::HeartbeatResponse WorkerRegistry::heartbeat(const v1::HeartbeatRequest& request) {
  check_worker_id(request.worker_id());
  check_reports(request.ranks());
  const int64_t now_ms = unix_now_ms();
  v1::HeartbeatResponse response;
  db_.transaction([&] {
    // Unknown, or lost (its ranks are LOST and their jobs moved on): it must register again and
    // say what it still runs.
    if (!leases_.holds(request.worker_id())) {
      response.set_reregister(true);
      return;
    }
    leases_.renew(request.worker_id());
    workers_.set_last_heartbeat(request.worker_id(), now_ms);
    reconciler_.reconcile(request.worker_id(), request.ranks(), now_ms, &response);
  });
  response.set_stop_grace_ms(timings_.stop_grace.count());
  return response;
}

std::vector<v1::Worker> WorkerRegistry::list() const {
  auto held = db_.lock();
  std::vector<v1::Worker> workers = workers_.list();
  for (v1::Worker& worker : workers) {
    std::set<int> busy;
    for (const RankRecord& rank : ranks_.live(worker.id())) busy.insert(rank.slot);
    for (const int slot : busy) worker.add_busy_slots(slot);
  }
  return workers;
}

void WorkerRegistry::expire_leases(int64_t now_ms) {
  for (const std::string& id : leases_.expired()) {
    db_.transaction([&] {
      // A heartbeat may have renewed it since expired() looked.
      if (!leases_.is_expired(id)) return;
      leases_.remove(id);
      workers_.set_state(id, v1::WORKER_LOST);
      const std::string why = fmt::format("worker {} missed its lease (no heartbeat for {} ms)", id,
                                          timings_.lease_timeout.count());
      spdlog::warn("{}", why);
      for (RankRecord& rank : ranks_.live(id))
        if (auto job = jobs_.find(rank.job_id)) lifecycle_.rank_lost(*job, rank, why, now_ms);
    });
  }
}

}  // namespace gradpool
