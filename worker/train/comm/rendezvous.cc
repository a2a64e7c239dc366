#include "worker/train/comm/rendezvous.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "common/error.h"

namespace gradpool {

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
  if (url.rfind(tcp, 0) != 0)
    fail("--rendezvous: '{}': expected tcp://HOST:PORT or file:///PATH", url);
  const std::string rest = url.substr(tcp.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0)
    fail("--rendezvous: '{}': expected tcp://HOST:PORT", url);
  address.host = rest.substr(0, colon);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 1 || port > 65535) fail("--rendezvous: '{}': port must be 1..65535", url);
  address.port = static_cast<uint16_t>(port);
  return address;
}

StoreFactory store_factory(const RendezvousAddress& address, int rank, int world_size,
                           std::chrono::milliseconds timeout) {
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
