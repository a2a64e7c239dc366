// Rendezvous: where the ranks of one job find each other before their first collective — a c10d
// key-value store that backends use to exchange their bootstrap (Gloo's addresses, NCCL's unique
// id) and the stall inspector uses for arrival counters.
//
// Batch mode names it on the command line: tcp://HOST:PORT (rank 0 serves a c10d TCPStore there;
// note that c10d's server listens on every interface of rank 0's host) or file:///PATH (a c10d
// FileStore on a filesystem all ranks share). The coordinator's per-job store plugs in later as
// another c10d::Store.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "worker/train/comm/stall_inspector.h"

namespace gradpool {

struct RendezvousAddress {
  enum class Kind { kTcp, kFile } kind = Kind::kTcp;
  std::string host;  // kTcp
  uint16_t port = 0; // kTcp
  std::string path;  // kFile
};

// Parses "tcp://HOST:PORT" or "file:///PATH"; Error naming --rendezvous otherwise.
RendezvousAddress parse_rendezvous(const std::string& url);

// A factory of store clients for this rank. The first call on rank 0 of a TCP rendezvous also
// starts the server, which lives as long as any store it returned.
StoreFactory store_factory(const RendezvousAddress& address, int rank, int world_size,
                           std::chrono::milliseconds timeout);

}  // namespace gradpool
