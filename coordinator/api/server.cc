#include "coordinator/api/server.h"

#include <cmath>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/file_util.h"
#include "coordinator/api/rpc_timing.h"
#include "proto/channel.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

// Checks the options, creates the data directory and makes the paths absolute (workers get
// output paths, and the process may change directory).
CoordinatorOptions checked(CoordinatorOptions options) {
  if (options.data_dir.empty()) fail("--data-dir: required");
  if (!(options.lease_timeout_s > 0)) fail("--lease-timeout-s: must be > 0");
  if (options.heartbeat_interval_ms <= 0) fail("--heartbeat-interval-ms: must be > 0");
  if (seconds_to_ms(options.lease_timeout_s).count() <= options.heartbeat_interval_ms)
    fail(
        "--heartbeat-interval-ms ({}) must be shorter than --lease-timeout-s ({} s), or every "
        "worker would be lost between two heartbeats",
        options.heartbeat_interval_ms, options.lease_timeout_s);
  if (options.schedule_interval_ms <= 0) fail("--schedule-interval-ms: must be > 0");
  if (options.max_dataset_bytes <= 0) fail("--max-dataset-bytes: must be > 0");
  if (options.shard_records <= 0) fail("--shard-records: must be > 0");
  if (!(options.fair_share_half_life_h > 0)) fail("--fair-share-half-life-h: must be > 0");
  if (options.default_quota < 0) fail("--default-quota: must be >= 0 (0: unlimited)");
  for (const auto& [user, quota] : options.quotas)
    if (quota < 0) fail("--quota {}={}: must be >= 0 (0: unlimited)", user, quota);
  if (!(options.stop_grace_s >= 0)) fail("--stop-grace-s: must be >= 0");
  if (options.metrics_listen == "off") options.metrics_listen.clear();
  if (options.metrics_listen.empty() && !options.metrics_port_file.empty())
    fail("--metrics-port-file {}: there is no metrics port, --metrics-listen is off",
         options.metrics_port_file);
  std::error_code error;
  fs::create_directories(options.data_dir, error);
  if (error) fail("--data-dir {}: cannot create it: {}", options.data_dir, error.message());
  options.data_dir = fs::absolute(options.data_dir).lexically_normal().string();
  if (options.output_root.empty()) options.output_root = options.data_dir + "/outputs";
  options.output_root = fs::absolute(options.output_root).lexically_normal().string();
  return options;
}

sched::Policy policy_of(const CoordinatorOptions& options) {
  sched::Policy policy;
  policy.user_quota = options.quotas;
  policy.default_quota = options.default_quota;
  return policy;
}

// The metrics server of --metrics-listen; null when it is off.
std::unique_ptr<metrics::MetricsServer> serve_metrics(const CoordinatorOptions& options) {
  if (options.metrics_listen.empty()) return nullptr;
  try {
    return std::make_unique<metrics::MetricsServer>(options.metrics_listen,
                                                    metrics::Component::kCoordinator);
  } catch (const Error& e) {
    fail("--metrics-listen: {} (\"off\" serves no metrics)", e.what());
  }
}

WorkerTimings timings_of(const CoordinatorOptions& options) {
  WorkerTimings timings;
  timings.lease_timeout = seconds_to_ms(options.lease_timeout_s);
  timings.heartbeat_interval = std::chrono::milliseconds(options.heartbeat_interval_ms);
  timings.stop_grace = seconds_to_ms(options.stop_grace_s);
  return timings;
}

}  // namespace

std::string coordinator_database_path(const std::string& data_dir) {
  return (fs::path(data_dir) / "coordinator.db").string();
}

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(checked(std::move(options))),
      policy_(policy_of(options_)),
      metrics_server_(serve_metrics(options_)),
      metrics_(metrics_server_ ? metrics_server_->registry() : unserved_metrics_),
      db_(coordinator_database_path(options_.data_dir)),
      tokens_(db_),
      auth_(tokens_),
      datasets_(db_, options_.data_dir + "/datasets",
                DatasetLimits{options_.max_dataset_bytes, options_.shard_records}),
      jobs_(db_),
      ranks_(db_),
      usage_(db_, options_.fair_share_half_life_h * 3600 * 1000),
      workers_(db_),
      logs_(options_.data_dir + "/logs", options_.max_log_bytes_per_job),
      lifecycle_(db_, jobs_, ranks_, usage_, logs_, metrics_, [this] { scheduling_loop_.wake(); }),
      submission_(datasets_, policy_, options_.output_root),
      reconciler_(jobs_, ranks_, lifecycle_, logs_, datasets_),
      registry_(db_, workers_, ranks_, jobs_, lifecycle_, reconciler_, timings_of(options_)),
      scheduling_loop_(db_, jobs_, ranks_, workers_, usage_, lifecycle_, metrics_, policy_,
                       std::chrono::milliseconds(options_.schedule_interval_ms),
                       [this](int64_t now_ms) { registry_.expire_leases(now_ms); }),
      rendezvous_(/*max_keys_per_attempt=*/1024),
      jobs_service_(auth_, submission_, lifecycle_, logs_, stopping_),
      workers_service_(auth_, registry_),
      rendezvous_service_(rendezvous_, jobs_),
      datasets_service_(datasets_, auth_, [this](const std::string& dataset) {
        return jobs_.unfinished_using_dataset(dataset);
      }) {
  if (metrics_server_)
    metrics_server_->serve_json("/sd/workers",
                                [this] { return worker_scrape_targets(workers_.list()); });
}

Coordinator::~Coordinator() {
  shutdown();
  metrics_server_.reset();  // its threads answer /sd/workers from the stores, which go next
}

void Coordinator::start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen, server_credentials(options_.tls_cert, options_.tls_key),
                           &port_);
  builder.SetMaxReceiveMessageSize(kMaxRpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxRpcMessageBytes);
  builder.RegisterService(&jobs_service_);
  builder.RegisterService(&workers_service_);
  builder.RegisterService(&rendezvous_service_);
  builder.RegisterService(&datasets_service_);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RpcTimingInterceptors>(
      metrics_, std::vector<std::string>{
                    v1::Jobs::service_full_name(), v1::Workers::service_full_name(),
                    v1::Rendezvous::service_full_name(), v1::Datasets::service_full_name()}));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0)
    fail("--listen {}: cannot listen there (address in use, or not HOST:PORT?)", options_.listen);
  scheduling_loop_.start();
  if (!options_.port_file.empty()) write_file_atomic(options_.port_file, std::to_string(port_));
  if (!options_.metrics_port_file.empty())
    write_file_atomic(options_.metrics_port_file, std::to_string(metrics_port()));
  spdlog::info("gradpool-coordinator listening on {} ({}), data in {}, metrics {}", address(),
               options_.tls_cert.empty() ? "plaintext" : "TLS", options_.data_dir,
               metrics_server_ ? "on http://" + metrics_server_->address() + "/metrics" : "off");
}

std::string Coordinator::address() const {
  const size_t colon = options_.listen.rfind(':');
  return options_.listen.substr(0, colon) + ":" + std::to_string(port_);
}

void Coordinator::wait() {
  std::unique_lock held(state_mutex_);
  state_changed_.wait(held, [this] { return shut_down_; });
}

void Coordinator::shutdown() {
  std::unique_lock held(state_mutex_);
  if (shut_down_) return;
  stopping_ = true;
  rendezvous_.shutdown();
  if (server_) {
    // Calls in flight get a moment to finish; waiting rendezvous and log streams end at once.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }
  scheduling_loop_.stop();
  shut_down_ = true;
  state_changed_.notify_all();
}

}  // namespace gradpool
