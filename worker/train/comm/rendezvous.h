// Rendezvous: where the ranks of one job find each other before their first collective — a c10d
// key-value store that backends use to exchange their bootstrap (Gloo's addresses, NCCL's unique
// id) and the stall inspector uses for arrival counters.
//
// Batch mode names it on the command line: tcp://HOST:PORT (rank 0 serves a c10d TCPStore there;
// note that c10d's server listens on every interface of rank 0's host) or file:///PATH (a c10d
// FileStore on a filesystem all ranks share). Ranks started by a worker daemon get
// gradpool://HOST:PORT/JOB/ATTEMPT, the coordinator's per-attempt key-value store: it only carries
// rank 0's TCPStore address (key "store"), after which everything is the tcp:// path, so a
// coordinator restart never touches running ranks.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "worker/train/comm/stall_inspector.h"

namespace gradpool {

struct RendezvousAddress {
  enum class Kind { kTcp, kFile, kCoordinator } kind = Kind::kTcp;
  std::string host;     // kTcp: rank 0's store; kCoordinator: the coordinator
  uint16_t port = 0;    // kTcp, kCoordinator
  std::string path;     // kFile
  uint64_t job_id = 0;  // kCoordinator
  int attempt = 0;      // kCoordinator
};

// Parses "tcp://HOST:PORT", "file:///PATH" or "gradpool://HOST:PORT/JOB/ATTEMPT"; Error naming
// --rendezvous otherwise.
RendezvousAddress parse_rendezvous(const std::string& url);

// Turns a gradpool:// rendezvous into the tcp:// one of rank 0's store; other URLs come back
// unchanged. Rank 0 picks a free port, publishes "<local_address>:<port>" under "store" (its
// TCPStore starts on that port when the communicator connects: clients retry until it listens);
// the other ranks wait up to `timeout` for it. The token comes from env GRADPOOL_RENDEZVOUS_TOKEN,
// a CA certificate (TLS) from env GRADPOOL_CA_CERT. The coordinator being briefly unreachable
// (a restart) is retried until `timeout`; other refusals are an Error naming the coordinator.
std::string resolve_rendezvous(const std::string& url, int rank, const std::string& local_address,
                               std::chrono::milliseconds timeout);

// A factory of store clients for this rank (tcp:// or file://; resolve gradpool:// first). The
// first call on rank 0 of a TCP rendezvous also starts the server, which lives as long as any
// store it returned.
StoreFactory store_factory(const RendezvousAddress& address, int rank, int world_size,
                           std::chrono::milliseconds timeout);

}  // namespace gradpool
