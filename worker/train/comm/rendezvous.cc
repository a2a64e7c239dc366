#include "worker/train/comm/rendezvous.h"

#include <cstdlib>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "common/error.h"
#include "common/net.h"
#ifdef GRADPOOL_WITH_SERVICE
#include "proto/channel.h"
#include "proto/gradpool.grpc.pb.h"
#endif

namespace gradpool {
namespace {

constexpr const char* kCoordinatorScheme = "gradpool://";
constexpr const char* kStoreKey = "store";

// Parses `authority` ("HOST:PORT", the part of `url` after its scheme) into `address`.
void parse_host_port(const std::string& url, const std::string& authority, const char* expected,
                     RendezvousAddress& address) {
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0)
    fail("--rendezvous: '{}': expected {}", url, expected);
  address.host = authority.substr(0, colon);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(authority.substr(colon + 1), &used);
    if (used != authority.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 1 || port > 65535) fail("--rendezvous: '{}': port must be 1..65535", url);
  address.port = static_cast<uint16_t>(port);
}

// A positive decimal number in full, or nullopt.
std::optional<uint64_t> parse_positive(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const uint64_t value = std::stoull(text);
  return value > 0 ? std::optional<uint64_t>(value) : std::nullopt;
}

// gradpool://HOST:PORT/JOB/ATTEMPT
RendezvousAddress parse_coordinator_rendezvous(const std::string& url) {
  constexpr const char* kExpected = "gradpool://HOST:PORT/JOB/ATTEMPT";
  RendezvousAddress address;
  address.kind = RendezvousAddress::Kind::kCoordinator;
  const std::string rest = url.substr(std::string(kCoordinatorScheme).size());
  const auto job_slash = rest.find('/');
  const auto attempt_slash =
      job_slash == std::string::npos ? std::string::npos : rest.find('/', job_slash + 1);
  if (attempt_slash == std::string::npos) fail("--rendezvous: '{}': expected {}", url, kExpected);
  parse_host_port(url, rest.substr(0, job_slash), kExpected, address);
  const auto job = parse_positive(rest.substr(job_slash + 1, attempt_slash - job_slash - 1));
  const auto attempt = parse_positive(rest.substr(attempt_slash + 1));
  if (!job) fail("--rendezvous: '{}': JOB must be a positive job id", url);
  if (!attempt || *attempt > 1000000)
    fail("--rendezvous: '{}': ATTEMPT must be a positive attempt number", url);
  address.job_id = *job;
  address.attempt = static_cast<int>(*attempt);
  return address;
}

#ifdef GRADPOOL_WITH_SERVICE
using Clock = std::chrono::steady_clock;

// Runs `call` (each time with a fresh context) again while the coordinator is UNAVAILABLE (it may
// be restarting) and time is left before `deadline`.
template <typename Call>
grpc::Status retry_while_unavailable(grpc::Channel& channel, Clock::time_point deadline,
                                     Call&& call) {
  auto backoff = std::chrono::milliseconds(100);
  while (true) {
    const grpc::Status status = call();
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE || Clock::now() + backoff >= deadline)
      return status;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    // gRPC's own reconnect backoff grows far beyond this loop's: retry on this loop's schedule.
    grpc::experimental::ChannelResetConnectionBackoff(&channel);
  }
}

int64_t ms_until(Clock::time_point deadline) {
  return std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
}

// Rank 0 publishes `store` ("HOST:PORT"); the others return what rank 0 published.
std::string exchange_store_address(const std::string& url, const RendezvousAddress& address,
                                   int rank, const std::string& store,
                                   std::chrono::milliseconds timeout) {
  Endpoint endpoint;
  endpoint.address = fmt::format("{}:{}", address.host, address.port);
  const char* token = std::getenv("GRADPOOL_RENDEZVOUS_TOKEN");
  if (!token || !*token)
    fail(
        "--rendezvous {}: env GRADPOOL_RENDEZVOUS_TOKEN is not set (the worker that starts the "
        "rank passes the attempt's token there)",
        url);
  endpoint.token = token;
  if (const char* ca = std::getenv("GRADPOOL_CA_CERT")) endpoint.ca_cert_file = ca;
  const auto channel = open_channel(endpoint);
  const auto stub = v1::Rendezvous::NewStub(channel);
  const Clock::time_point deadline = Clock::now() + timeout;

  if (rank == 0) {
    v1::RendezvousSetRequest request;
    request.set_job_id(address.job_id);
    request.set_attempt(address.attempt);
    request.set_key(kStoreKey);
    request.set_value(store);
    v1::RendezvousSetResponse response;
    const grpc::Status status = retry_while_unavailable(*channel, deadline, [&] {
      return stub->Set(make_context(endpoint, ms_until(deadline)).get(), request, &response);
    });
    if (!status.ok())
      fail("--rendezvous {}: publishing rank 0's store address failed: {}", url, describe(status));
    return store;
  }
  v1::RendezvousGetRequest request;
  request.set_job_id(address.job_id);
  request.set_attempt(address.attempt);
  request.set_key(kStoreKey);
  v1::RendezvousGetResponse response;
  const grpc::Status status = retry_while_unavailable(*channel, deadline, [&] {
    request.set_timeout_ms(ms_until(deadline));
    // The coordinator answers DEADLINE_EXCEEDED itself at timeout_ms; the call's own deadline
    // only covers a coordinator that never answers.
    return stub->Get(make_context(endpoint, ms_until(deadline) + 5000).get(), request, &response);
  });
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    fail("--rendezvous {}: rank 0 did not publish its store address within {} s", url,
         timeout.count() / 1000);
  if (!status.ok())
    fail("--rendezvous {}: reading rank 0's store address failed: {}", url, describe(status));
  return response.value();
}
#endif

}  // namespace

RendezvousAddress parse_rendezvous(const std::string& url) {
  RendezvousAddress address;
  const std::string tcp = "tcp://", file = "file://";
  if (url.rfind(file, 0) == 0) {
    address.kind = RendezvousAddress::Kind::kFile;
    address.path = url.substr(file.size());
    if (address.path.empty() || address.path[0] != '/')
      fail("--rendezvous: '{}': expected file:///ABSOLUTE/PATH", url);
    return address;
  }
  if (url.rfind(kCoordinatorScheme, 0) == 0) return parse_coordinator_rendezvous(url);
  if (url.rfind(tcp, 0) != 0)
    fail(
        "--rendezvous: '{}': expected tcp://HOST:PORT, file:///PATH or "
        "gradpool://HOST:PORT/JOB/ATTEMPT",
        url);
  parse_host_port(url, url.substr(tcp.size()), "tcp://HOST:PORT", address);
  return address;
}

std::string resolve_rendezvous(const std::string& url, int rank, const std::string& local_address,
                               std::chrono::milliseconds timeout) {
  if (url.rfind(kCoordinatorScheme, 0) != 0) return url;
  const RendezvousAddress address = parse_rendezvous(url);
#ifdef GRADPOOL_WITH_SERVICE
  const std::string mine =
      rank == 0 ? fmt::format("{}:{}", local_address, pick_free_tcp_port()) : "";
  const std::string store = exchange_store_address(url, address, rank, mine, timeout);
  const std::string resolved = "tcp://" + store;
  try {
    parse_rendezvous(resolved);
  } catch (const Error&) {
    fail("--rendezvous {}: the coordinator's '{}' holds '{}', not HOST:PORT", url, kStoreKey,
         store);
  }
  spdlog::info("rank {}: rendezvous {} → {}", rank, url, resolved);
  return resolved;
#else
  fail(
      "--rendezvous {}: this gradpool-train was built without gRPC, so it cannot reach a "
      "coordinator; use tcp:// or file://",
      url);
#endif
}

StoreFactory store_factory(const RendezvousAddress& address, int rank, int world_size,
                           std::chrono::milliseconds timeout) {
  if (address.kind == RendezvousAddress::Kind::kCoordinator)
    fail("--rendezvous gradpool://{}:{}/{}/{}: resolve it to rank 0's tcp:// store first",
         address.host, address.port, address.job_id, address.attempt);
  if (address.kind == RendezvousAddress::Kind::kFile) {
    return [address, world_size, timeout]() -> c10::intrusive_ptr<c10d::Store> {
      auto store = c10::make_intrusive<c10d::FileStore>(address.path, world_size);
      store->setTimeout(timeout);
      return store;
    };
  }
  // Rank 0's first store is the server; every later store (and every other rank's) a client.
  auto server = std::make_shared<c10::intrusive_ptr<c10d::Store>>();
  return [address, rank, timeout, server]() -> c10::intrusive_ptr<c10d::Store> {
    c10d::TCPStoreOptions options;
    options.port = address.port;
    options.isServer = rank == 0 && !*server;
    options.waitWorkers = false;
    options.timeout = timeout;
    try {
      auto store = c10::make_intrusive<c10d::TCPStore>(address.host, options);
      if (options.isServer) *server = store;
      return store;
    } catch (const std::exception& e) {
      fail("--rendezvous tcp://{}:{}: {} failed: {}", address.host, address.port,
           options.isServer ? "serving the store" : "connecting to rank 0's store", e.what());
    }
  };
}

}  // namespace gradpool
