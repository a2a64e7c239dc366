#include "common/metrics/metrics_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <thread>

#include "common/error.h"

#ifndef GRADPOOL_VERSION
#error "GRADPOOL_VERSION must be defined (common/metrics/CMakeLists.txt)"
#endif

namespace gradpool::metrics {
namespace {

// civetweb calls back with its context, not with us. While an Exposer starts, its constructor
// calls on_context_created (and the logger, when binding fails) on the constructing thread; that
// is where a server learns its context and collects civetweb's complaints.
std::mutex g_servers_mutex;
std::map<const mg_context*, MetricsServer*> g_servers;
thread_local MetricsServer* t_starting = nullptr;
thread_local std::string t_start_messages;

int collect_start_message(const mg_connection*, const char* message) {
  if (t_starting == nullptr) return 0;  // a running server: civetweb logs as usual
  if (!t_start_messages.empty()) t_start_messages += "; ";
  t_start_messages += message;
  return 1;
}

// The HOST of "HOST:PORT"; Error naming the address when it is not of that form.
std::string listen_host(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  const std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (host.empty() || !digits || std::stoi(port) > 65535)
    fail("metrics listen address '{}': expected HOST:PORT with a port 0-65535", listen);
  return host;
}

// Opens and closes one connection to the server at `host`:`port` (a wildcard host: loopback).
void poke(std::string host, uint16_t port) {
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  const int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0) {
    ::connect(fd, found->ai_addr, found->ai_addrlen);
    ::close(fd);
  }
  ::freeaddrinfo(found);
}

}  // namespace

MetricsServer::MetricsServer(const std::string& listen, Component component)
    : component_(component), registry_(std::make_shared<prometheus::Registry>()) {
  host_ = listen_host(listen);
  gauge("gradpool_build_info")
      .with({{"version", GRADPOOL_VERSION}, {"component", std::string(component_name(component))}})
      .Set(1);

  CivetCallbacks callbacks;  // copied by the server
  callbacks.init_context = on_context_created;
  callbacks.begin_request = on_request;
  callbacks.log_message = collect_start_message;
  t_starting = this;
  t_start_messages.clear();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2, &callbacks);
  } catch (const std::exception& e) {
    t_starting = nullptr;
    fail("metrics listen address '{}': cannot serve there: {}", listen,
         t_start_messages.empty() ? e.what() : t_start_messages);
  }
  t_starting = nullptr;
  exposer_->RegisterCollectable(registry_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) fail("metrics listen address '{}': the server reports no port", listen);
  port_ = static_cast<uint16_t>(ports.front());
}

MetricsServer::~MetricsServer() {
  // civetweb's listener looks at its stop flag only between 2-second polls; connecting to it
  // while the Exposer stops wakes it at once instead (else every process takes 2 s to exit).
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    while (!stopped) {
      poke(host_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  exposer_.reset();
  stopped = true;
  waker.join();
}

MetricsServer::Route::~Route() {
  std::lock_guard<std::mutex> lock(g_servers_mutex);
  const auto found = g_servers.find(context);
  if (found != g_servers.end() && found->second == server) g_servers.erase(found);
}

void MetricsServer::serve_json(const std::string& path, std::function<nlohmann::json()> provider) {
  std::lock_guard<std::mutex> lock(routes_mutex_);
  json_routes_[path] = std::move(provider);
}

void MetricsServer::on_context_created(const mg_context* context) {
  if (t_starting == nullptr) return;
  t_starting->route_.context = context;
  std::lock_guard<std::mutex> lock(g_servers_mutex);
  g_servers[context] = t_starting;
}

int MetricsServer::on_request(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  MetricsServer* server = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_servers_mutex);
    const auto found = g_servers.find(mg_get_context(connection));
    if (found != g_servers.end()) server = found->second;
  }
  if (server == nullptr || request->local_uri == nullptr) return 0;
  return server->answer_json(connection, request->local_uri);
}

int MetricsServer::answer_json(mg_connection* connection, const std::string& path) {
  std::function<nlohmann::json()> provider;
  {
    std::lock_guard<std::mutex> lock(routes_mutex_);
    const auto found = json_routes_.find(path);
    if (found == json_routes_.end()) return 0;
    provider = found->second;
  }
  if (std::string_view(mg_get_request_info(connection)->request_method) != "GET") {
    mg_send_http_error(connection, 405, "%s takes GET", path.c_str());
    return 405;
  }
  std::string body;
  try {
    body = provider().dump();
  } catch (const std::exception& e) {
    mg_send_http_error(connection, 500, "%s: %s", path.c_str(), e.what());
    return 500;
  }
  mg_send_http_ok(connection, "application/json", static_cast<long long>(body.size()));
  mg_write(connection, body.data(), body.size());
  return 200;
}

}  // namespace gradpool::metrics
