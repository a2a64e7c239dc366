// MetricsServer: one process's Prometheus endpoint. It owns a prometheus::Registry and a
// prometheus::Exposer serving it at http://HOST:PORT/metrics, exports gradpool_build_info, and
// makes families only from the metrics catalog for its component (catalog_family.h). It can also
// answer GETs on other paths with JSON, which is how the coordinator serves the worker list to
// Prometheus' HTTP service discovery (/sd/workers, docs/metrics.md) on the same port.
//
// One per process (the coordinator, a worker, an mpirun rank); the families and handles it gives
// out live as long as it does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <nlohmann/json.hpp>

#include "common/metrics/catalog_family.h"
#include "common/metrics/metrics_catalog.h"

struct mg_connection;
struct mg_context;

namespace gradpool::metrics {

class MetricsServer {
 public:
  // Serves on `listen`, "HOST:PORT" (port 0: a free one; bind 127.0.0.1 unless exposing it is
  // meant). Error naming `listen` when it is malformed or cannot be bound.
  MetricsServer(const std::string& listen, Component component);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const { return port_; }
  // "HOST:PORT" as bound, e.g. for RegisterRequest.metrics_address (a wildcard host stays as
  // given: the caller knows which address others reach it at).
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  Component component() const { return component_; }
  prometheus::Registry& registry() { return *registry_; }

  // Families from the catalog; Error when the catalog has no such metric of this type for this
  // component.
  CounterFamily counter(std::string_view name) { return {*registry_, component_, name}; }
  GaugeFamily gauge(std::string_view name) { return {*registry_, component_, name}; }
  HistogramFamily histogram(std::string_view name) { return {*registry_, component_, name}; }

  // Answers GET `path` (e.g. "/sd/workers") with what `provider` returns at that moment, as
  // application/json; a provider that throws gives HTTP 500 with the message. Thread-safe.
  void serve_json(const std::string& path, std::function<nlohmann::json()> provider);

 private:
  static void on_context_created(const mg_context* context);
  static int on_request(mg_connection* connection);
  // The HTTP status sent when `path` is one of this server's JSON routes; 0 (the Exposer's
  // request) otherwise.
  int answer_json(mg_connection* connection, const std::string& path);

  Component component_;
  std::string host_;
  uint16_t port_ = 0;
  // Where civetweb's callbacks find this server: its context, mapped to the server while the
  // Exposer starts, unmapped on destruction (after the Exposer's threads are joined).
  struct Route {
    ~Route();
    MetricsServer* server;
    const mg_context* context = nullptr;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  std::mutex routes_mutex_;
  std::map<std::string, std::function<nlohmann::json()>> json_routes_;
  Route route_{this};
  std::unique_ptr<prometheus::Exposer> exposer_;  // last: stopped first
};

}  // namespace gradpool::metrics
