// gradpool-coordinator: `serve` runs the coordinator (docs/service.md lists the flags); `token`
// manages API tokens in the same SQLite file, also while a coordinator is serving.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/error.h"
#include "coordinator/api/server.h"
#include "coordinator/auth/token_store.h"

namespace {

using gradpool::Coordinator;
using gradpool::CoordinatorOptions;

std::map<std::string, int> parse_quotas(const std::vector<std::string>& items) {
  std::map<std::string, int> quotas;
  for (const std::string& item : items) {
    const size_t equals = item.find('=');
    size_t used = 0;
    int gpus = -1;
    try {
      if (equals != std::string::npos) gpus = std::stoi(item.substr(equals + 1), &used);
    } catch (const std::exception&) {
    }
    if (equals == 0 || equals == std::string::npos || gpus < 0 || used != item.size() - equals - 1)
      gradpool::fail("--quota {}: expected USER=N with N >= 0 GPUs", item);
    quotas[item.substr(0, equals)] = gpus;
  }
  return quotas;
}

// Serves until SIGTERM or SIGINT, then shuts down gracefully.
int serve(CoordinatorOptions options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  // Blocked before any thread starts, so that every thread inherits the mask and the signal
  // reaches sigwait() below instead of killing the process.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Coordinator coordinator(std::move(options));
  coordinator.start();
  int signal = 0;
  sigwait(&signals, &signal);
  spdlog::info("{}: shutting down", strsignal(signal));
  coordinator.shutdown();
  return 0;
}

std::unique_ptr<gradpool::Database> open_database(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  return std::make_unique<gradpool::Database>(gradpool::coordinator_database_path(data_dir));
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("gradpool-coordinator"));
  CLI::App app("gradpool coordinator: job queue, scheduler, datasets and worker registry");
  app.require_subcommand(1);

  CoordinatorOptions options;
  std::vector<std::string> quotas;
  CLI::App* serve_command = app.add_subcommand("serve", "run the coordinator");
  serve_command->add_option("--data-dir", options.data_dir, "SQLite file, datasets, logs")
      ->required();
  serve_command->add_option("--listen", options.listen, "HOST:PORT (port 0: pick one)")
      ->capture_default_str();
  serve_command->add_option("--port-file", options.port_file, "receives the port once up");
  serve_command->add_option("--tls-cert", options.tls_cert, "PEM certificate (with --tls-key)");
  serve_command->add_option("--tls-key", options.tls_key, "PEM private key");
  serve_command
      ->add_option("--lease-timeout-s", options.lease_timeout_s,
                   "a worker silent this long is lost")
      ->capture_default_str();
  serve_command->add_option("--heartbeat-interval-ms", options.heartbeat_interval_ms)
      ->capture_default_str();
  serve_command->add_option("--schedule-interval-ms", options.schedule_interval_ms)
      ->capture_default_str();
  serve_command->add_option("--max-dataset-bytes", options.max_dataset_bytes)
      ->capture_default_str();
  serve_command->add_option("--shard-records", options.shard_records)->capture_default_str();
  serve_command->add_option("--fair-share-half-life-h", options.fair_share_half_life_h)
      ->capture_default_str();
  serve_command
      ->add_option("--default-quota", options.default_quota,
                   "GPUs a user may hold at once (0: unlimited)")
      ->capture_default_str();
  serve_command->add_option("--quota", quotas, "USER=N, per user (repeatable)");
  serve_command
      ->add_option("--stop-grace-s", options.stop_grace_s, "SIGTERM to SIGKILL, for stopped ranks")
      ->capture_default_str();
  serve_command
      ->add_option("--metrics-listen", options.metrics_listen,
                   "HOST:PORT of /metrics and /sd/workers (port 0: pick one; \"off\": none)")
      ->capture_default_str();
  serve_command->add_option("--metrics-port-file", options.metrics_port_file,
                            "receives the metrics port once up");
  serve_command->add_option("--output-root", options.output_root,
                            "relative outputs go to <root>/<user>/<job-id>-<name> "
                            "(default <data-dir>/outputs)");

  std::string data_dir;
  std::string user;
  std::string role = "user";
  CLI::App* token_command = app.add_subcommand("token", "manage API tokens");
  token_command->require_subcommand(1);
  CLI::App* add = token_command->add_subcommand("add", "create a token; prints it once");
  add->add_option("USER", user)->required();
  add->add_option("--role", role, "user | admin | worker")->capture_default_str();
  CLI::App* list = token_command->add_subcommand("list", "users and roles of the tokens");
  CLI::App* revoke = token_command->add_subcommand("revoke", "remove every token of a user");
  revoke->add_option("USER", user)->required();
  for (CLI::App* command : {add, list, revoke})
    command->add_option("--data-dir", data_dir, "the coordinator's data directory")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (serve_command->parsed()) {
      options.quotas = parse_quotas(quotas);
      return serve(std::move(options));
    }
    auto db = open_database(data_dir);
    gradpool::TokenStore tokens(*db);
    if (add->parsed()) {
      const gradpool::Role parsed_role = gradpool::parse_role(role);
      std::cout << tokens.add(user, parsed_role) << std::endl;
    } else if (list->parsed()) {
      for (const auto& [name, token_role] : tokens.list())
        std::cout << name << " " << gradpool::to_string(token_role) << "\n";
    } else if (revoke->parsed()) {
      const int removed = tokens.revoke(user);
      if (removed == 0) gradpool::fail("token revoke: user '{}' has no tokens", user);
      std::cerr << "revoked " << removed << " token(s) of " << user << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "gradpool-coordinator: " << e.what() << std::endl;
    return 1;
  }
}
