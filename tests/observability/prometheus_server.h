// Debian's Prometheus (/usr/bin/prometheus) on loopback for a test, run with the shipped
// deploy/prometheus files: prometheus.yml with the coordinator's metrics address put in and its
// intervals shortened to 1 s, rules.yml as it is. Queries go to its HTTP API.
#pragma once

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/net.h"
#include "tests/child_process.h"
#include "tests/observability/http_and_tools.h"

namespace gradpool::testing {

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  static bool installed() { return ::access(kBinary, X_OK) == 0; }

  // Starts Prometheus in `dir`, made if need be (its configuration, data and output go there),
  // scraping the coordinator whose metrics are served at `coordinator_metrics` ("HOST:PORT").
  PrometheusServer(const std::filesystem::path& dir, const std::string& coordinator_metrics)
      : dir_(dir), port_(pick_free_tcp_port()) {
    std::filesystem::create_directories(dir);
    std::string config = read_file(source_path("deploy/prometheus/prometheus.yml").string());
    replace_all(config, "127.0.0.1:9470", coordinator_metrics);
    replace_all(config, "scrape_interval: 15s", "scrape_interval: 1s");
    replace_all(config, "evaluation_interval: 15s", "evaluation_interval: 1s");
    replace_all(config, "refresh_interval: 30s", "refresh_interval: 1s");
    write_file_atomic((dir / "prometheus.yml").string(), config);
    write_file_atomic((dir / "rules.yml").string(),
                      read_file(source_path("deploy/prometheus/rules.yml").string()));
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "--config.file=" + (dir / "prometheus.yml").string(),
                                 "--storage.tsdb.path=" + (dir / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
        dir / "prometheus");
  }

  // The result vector of the instant query `promql` once `accept` holds for it (by default: once
  // it is not empty); the last result seen when it does not within `timeout`.
  nlohmann::json query_until(
      const std::string& promql,
      const std::function<bool(const nlohmann::json&)>& accept =
          [](const nlohmann::json& result) { return !result.empty(); },
      std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json result = nlohmann::json::array();
    while (std::chrono::steady_clock::now() < deadline) {
      const auto reply = http_request(port_, "/api/v1/query?query=" + url_encode(promql));
      if (reply.status == 200) {
        result = nlohmann::json::parse(reply.body).at("data").at("result");
        if (accept(result)) return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return result;
  }

  // SIGTERM; whether it exited within 20 s.
  bool stop() {
    process_->signal(SIGTERM);
    return process_->wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(20))
        .has_value();
  }

  std::string output() const { return process_->output(); }

 private:
  // Replaces every occurrence of `from`, which the shipped file must have (else it changed shape).
  static void replace_all(std::string& text, const std::string& from, const std::string& to) {
    EXPECT_NE(text.find(from), std::string::npos) << "'" << from << "' is not in prometheus.yml";
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  }

  static std::string url_encode(const std::string& text) {
    std::string encoded;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
        encoded += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        encoded += hex;
      }
    }
    return encoded;
  }

  std::filesystem::path dir_;
  uint16_t port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace gradpool::testing
