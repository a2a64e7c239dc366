// gradpool-worker: the daemon of one node. Finds its GPUs (or offers CPU slots), registers with
// the coordinator, starts one gradpool-train per assigned rank and reports on them in every
// heartbeat (docs/service.md, "Worker"):
//   gradpool-worker --coordinator HOST:PORT [--token-file F | env GRADPOOL_TOKEN] [--ca-cert PEM]
//                   [--id NAME] [--address 127.0.0.1] [--cpu-slots N] [--cache-dir DIR]
//                   [--train-bin PATH] [--stop-grace-s 30] [--heartbeat-interval-ms MS]
//                   [--metrics-listen 127.0.0.1:9471|off] [--metrics-port-file FILE]
// /metrics on --metrics-listen serves the training series of the ranks it runs (docs/metrics.md).
// SIGTERM/SIGINT: stop the ranks (SIGTERM, SIGKILL after the grace period), tell the coordinator,
// exit. SIGKILL: the ranks die with the worker (PR_SET_PDEATHSIG).
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "common/metrics/metrics_server.h"
#include "common/process_main.h"
#include "worker/daemon/coordinator_client.h"
#include "worker/daemon/rank_metrics_relay.h"
#include "worker/daemon/rank_table.h"
#include "worker/daemon/shard_cache.h"
#include "worker/daemon/slots.h"

namespace gradpool {
namespace {
namespace fs = std::filesystem;

constexpr const char* kDefaultMetricsListen = "127.0.0.1:9471";
// How long a rank's series outlive it: two of the shipped prometheus.yml's 15 s scrape intervals,
// so that Prometheus scrapes its final counts.
constexpr auto kSeriesLinger = std::chrono::seconds(30);

std::string this_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return name;
}

// [A-Za-z0-9._-]{1,64}, as the coordinator requires of names.
bool is_valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && id != "." && id != ".." &&
         id.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
             std::string::npos;
}

std::string read_token(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    token = read_file(token_file);
  } else if (const char* from_env = std::getenv("GRADPOOL_TOKEN")) {
    token = from_env;
  } else {
    fail(
        "no token: give --token-file FILE or set GRADPOOL_TOKEN (a worker token from "
        "'gradpool-coordinator token add NAME --role worker')");
  }
  const auto begin = token.find_first_not_of(" \t\r\n");
  const auto end = token.find_last_not_of(" \t\r\n");
  if (begin == std::string::npos)
    fail("{}: the token is empty", token_file.empty() ? "GRADPOOL_TOKEN" : token_file);
  return token.substr(begin, end - begin + 1);
}

// The server of --metrics-listen; null when it is off. Prometheus finds a worker's port through
// the coordinator (/sd/workers), so when the default port is taken (a second worker on this host)
// a free one serves instead; a port given explicitly must be free.
std::unique_ptr<metrics::MetricsServer> serve_metrics(const std::string& listen, bool given) {
  if (listen.empty() || listen == "off") return nullptr;
  try {
    return std::make_unique<metrics::MetricsServer>(listen, metrics::Component::kWorker);
  } catch (const Error& e) {
    if (given) fail("--metrics-listen: {} (\"off\" serves no metrics)", e.what());
    auto server =
        std::make_unique<metrics::MetricsServer>("127.0.0.1:0", metrics::Component::kWorker);
    spdlog::warn("--metrics-listen {} (the default): {}; serving /metrics on {} instead", listen,
                 e.what(), server->address());
    return server;
  }
}

// "HOST:PORT" for others to scrape: this worker's --address and the port it serves on.
std::string scrape_address(const std::string& host, uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string default_train_bin() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? "gradpool-train" : (self.parent_path() / "gradpool-train").string();
}

int run(int argc, char** argv) {
  CLI::App app{"gradpool-worker: runs gradpool-train ranks for a gradpool coordinator"};
  std::string coordinator, token_file, ca_cert, id = this_hostname(), address = "127.0.0.1";
  std::string cache_dir = "./gradpool-worker-cache", train_bin = default_train_bin();
  int cpu_slot_count = 1;
  double stop_grace_s = 30;
  int64_t heartbeat_interval_ms = 0;
  std::string metrics_listen = kDefaultMetricsListen, metrics_port_file;
  app.add_option("--coordinator", coordinator, "coordinator HOST:PORT")->required();
  app.add_option("--token-file", token_file,
                 "file holding this worker's token "
                 "(default: env GRADPOOL_TOKEN)")
      ->check(CLI::ExistingFile);
  app.add_option("--ca-cert", ca_cert, "PEM CA certificate: speak TLS to the coordinator")
      ->check(CLI::ExistingFile);
  app.add_option("--id", id, "worker id, stable across restarts")->capture_default_str();
  app.add_option("--address", address, "address this node's ranks listen on (Gloo, TCPStore)")
      ->capture_default_str();
  app.add_option("--cpu-slots", cpu_slot_count, "slots to offer when there is no GPU")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--cache-dir", cache_dir, "dataset shards and rank work directories")
      ->capture_default_str();
  app.add_option("--train-bin", train_bin, "the gradpool-train to run")->capture_default_str();
  app.add_option("--stop-grace-s", stop_grace_s,
                 "seconds a stopped rank gets to checkpoint before SIGKILL")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--heartbeat-interval-ms", heartbeat_interval_ms,
                 "override the coordinator's heartbeat interval (0: the coordinator's)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI::Option* metrics_listen_option =
      app.add_option("--metrics-listen", metrics_listen,
                     "HOST:PORT of the ranks' /metrics (port 0: pick one; \"off\": none)")
          ->capture_default_str();
  app.add_option("--metrics-port-file", metrics_port_file, "receives the metrics port once up");
  CLI11_PARSE(app, argc, argv);

  if (!is_valid_id(id)) fail("--id '{}': must match [A-Za-z0-9._-]{{1,64}}", id);
  if (::access(train_bin.c_str(), X_OK) != 0)
    fail("--train-bin {}: not an executable file (build gradpool-train, or point at it)",
         train_bin);
  Endpoint endpoint;
  endpoint.address = coordinator;
  endpoint.token = read_token(token_file);
  endpoint.ca_cert_file = ca_cert.empty() ? "" : fs::absolute(ca_cert).string();
  const std::string cache = fs::absolute(cache_dir).lexically_normal().string();
  fs::create_directories(cache);

  // The stop signals are taken by sigwait below, so every thread started from here on blocks them
  // (ranks unblock them before exec). A coordinator or rank that goes away is a failed write, not
  // a SIGPIPE.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const std::unique_ptr<metrics::MetricsServer> metrics_server =
      serve_metrics(metrics_listen, metrics_listen_option->count() > 0);
  if (!metrics_port_file.empty()) {
    if (!metrics_server)
      fail("--metrics-port-file {}: there is no metrics port, --metrics-listen is off",
           metrics_port_file);
    write_file_atomic(metrics_port_file, std::to_string(metrics_server->port()));
  }
  WorkerIdentity identity{id, this_hostname(), address, detect_slots(cpu_slot_count),
                          metrics_server ? scrape_address(address, metrics_server->port()) : ""};
  std::unique_ptr<RankMetricsRelay> rank_metrics;
  if (metrics_server)
    rank_metrics = std::make_unique<RankMetricsRelay>(metrics_server->registry(), identity.id,
                                                      identity.hostname, kSeriesLinger);
  const auto channel = open_channel(endpoint);
  ShardCache shards(cache + "/datasets", channel, endpoint);
  LaunchSettings launch{fs::absolute(train_bin).string(), coordinator, address,
                        endpoint.ca_cert_file};
  RankTable ranks(launch, cache, identity.slots, shards, rank_metrics.get());
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(stop_grace_s * 1000));
  ClientOptions options{endpoint, std::chrono::milliseconds(heartbeat_interval_ms), grace};
  CoordinatorClient client(options, identity, channel, ranks);

  std::exception_ptr failure;
  std::thread heartbeats([&] {
    try {
      client.run();
    } catch (...) {
      failure = std::current_exception();
      ::kill(::getpid(), SIGTERM);  // wakes the sigwait below
    }
  });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  client.shutdown();
  heartbeats.join();
  if (!failure) spdlog::info("{}: stopping {} rank(s)", strsignal(sig), ranks.running());
  ranks.stop_all(grace);
  client.final_heartbeat();
  if (failure) std::rethrow_exception(failure);
  return 0;
}

}  // namespace
}  // namespace gradpool

int main(int argc, char** argv) {
  return gradpool::process_main(gradpool::run, argc, argv);
}
