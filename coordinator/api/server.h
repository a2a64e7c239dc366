// Coordinator: one whole coordinator process as an object — the SQLite file in --data-dir, the
// stores, the services, the gRPC server, the scheduling thread and the metrics server — built
// from CoordinatorOptions. main.cc only parses flags into the options; tests and `gradpool run` run
// it in-process the same way:
//
//   Coordinator coordinator(options);
//   coordinator.start();          // listening; port() is the bound port
//   ...
//   coordinator.shutdown();       // or from another thread while one waits in wait()
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include "common/metrics/metrics_server.h"
#include "coordinator/api/jobs_service.h"
#include "coordinator/api/rendezvous_service.h"
#include "coordinator/api/workers_service.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/datasets/dataset_store.h"
#include "coordinator/datasets/datasets_service.h"
#include "coordinator/jobs/job_logs.h"
#include "coordinator/jobs/lifecycle.h"
#include "coordinator/jobs/scheduling_loop.h"
#include "coordinator/jobs/submission.h"
#include "coordinator/pool_metrics.h"
#include "coordinator/rendezvous/rendezvous_store.h"
#include "coordinator/store/job_store.h"
#include "coordinator/store/rank_store.h"
#include "coordinator/store/usage_store.h"
#include "coordinator/store/worker_store.h"
#include "coordinator/workers/rank_reconciler.h"
#include "coordinator/workers/registry.h"

namespace gradpool {

// The flags of `gradpool-coordinator serve` (docs/service.md), with their defaults.
struct CoordinatorOptions {
  std::string data_dir;                   // required
  std::string listen = "127.0.0.1:7070";  // HOST:0 picks a free port
  std::string port_file;                  // receives the bound port once the server is up
  std::string tls_cert;
  std::string tls_key;
  double lease_timeout_s = 10;
  int64_t heartbeat_interval_ms = 1000;
  int64_t schedule_interval_ms = 500;
  int64_t max_dataset_bytes = int64_t{1} << 30;
  int64_t shard_records = 10000;
  double fair_share_half_life_h = 24;
  int default_quota = 0;              // GPUs per user at once; 0 = unlimited
  std::map<std::string, int> quotas;  // per user, overrides default_quota
  double stop_grace_s = 30;
  std::string output_root;  // default <data-dir>/outputs
  int64_t max_log_bytes_per_job = int64_t{256} << 20;
  // /metrics and /sd/workers (docs/metrics.md); "" or "off": none. HOST:0 picks a free port.
  std::string metrics_listen = "127.0.0.1:9470";
  std::string metrics_port_file;  // receives the metrics port once the server is up
};

// <data-dir>/coordinator.db: the one SQLite file (`token` commands open it too).
std::string coordinator_database_path(const std::string& data_dir);

class Coordinator {
 public:
  // Opens (creating) the data directory and the database and serves the metrics; Error naming the
  // flag on bad options, or when --metrics-listen cannot be bound.
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();  // shutdown(), then stops serving the metrics
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Listens, writes the port file, starts scheduling. Error naming --listen if it cannot bind.
  void start();
  // Blocks until shutdown() has finished.
  void wait();
  // Stops accepting calls, ends waiting rendezvous and log streams, stops the scheduling thread.
  // Committed state is already on disk; nothing else to flush. Idempotent.
  void shutdown();

  int port() const { return port_; }
  // The bound metrics port; 0 when --metrics-listen is off.
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  // HOST:PORT to dial, from --listen and the bound port.
  std::string address() const;
  TokenStore& tokens() { return tokens_; }

 private:
  CoordinatorOptions options_;
  sched::Policy policy_;
  std::atomic<bool> stopping_{false};

  // Made before the parts that feed them, stopped (in the destructor) before those parts go.
  std::unique_ptr<metrics::MetricsServer> metrics_server_;  // null when --metrics-listen is off
  prometheus::Registry unserved_metrics_;                   // where they go then
  PoolMetrics metrics_;

  Database db_;
  TokenStore tokens_;
  Authorizer auth_;
  DatasetStore datasets_;
  JobStore jobs_;
  RankStore ranks_;
  UsageStore usage_;
  WorkerStore workers_;
  JobLogs logs_;
  Lifecycle lifecycle_;
  JobSubmission submission_;
  RankReconciler reconciler_;
  WorkerRegistry registry_;
  SchedulingLoop scheduling_loop_;
  RendezvousStore rendezvous_;

  JobsService jobs_service_;
  WorkersService workers_service_;
  RendezvousService rendezvous_service_;
  DatasetsService datasets_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool shut_down_ = false;
};

}  // namespace gradpool
