// Communicator: the collectives that data-parallel training needs — in-place sum all-reduce of a
// flat tensor, broadcast, barrier — behind one small interface (like c10d's ProcessGroup, but only
// what gradpool uses), with NCCL, Gloo and MPI implementations.
//
// Every collective has a deadline. A rank that passes it does not hang: the watchdog names the
// ranks that never arrived (from the arrival counters each rank bumps in the rendezvous store),
// aborts the backend, and ends the process with kExitCollectiveTimeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "worker/train/comm/stall_inspector.h"

namespace gradpool {

constexpr int kExitCollectiveTimeout = 3;

class Communicator {
 public:
  virtual ~Communicator();

  int rank() const { return rank_; }
  int size() const { return size_; }
  virtual const char* backend() const = 0;

  // Each blocks until every rank has called it (or the deadline ends the process).
  void all_reduce_sum(at::Tensor& flat);
  void broadcast(at::Tensor& tensor, int root);
  void barrier();

 protected:
  // `stores` opens clients of the job's rendezvous store (for the stall inspector).
  Communicator(int rank, int size, StoreFactory stores, std::chrono::milliseconds timeout);

  virtual void do_all_reduce_sum(at::Tensor& flat) = 0;
  virtual void do_broadcast(at::Tensor& tensor, int root) = 0;
  virtual void do_barrier() = 0;
  // Last words before the process exits on a deadline: release what the backend can release
  // (ncclCommAbort, MPI_Abort). Called from the watchdog thread.
  virtual void abort() noexcept = 0;

 private:
  template <typename Fn>
  void collective(const char* name, Fn&& fn);

  int rank_, size_;
  std::unique_ptr<StallInspector> inspector_;
};

enum class CommBackend { kAuto, kGloo, kNccl, kMpi };

struct CommOptions {
  CommBackend backend = CommBackend::kAuto;  // auto: NCCL for CUDA, MPI under mpirun/srun, else Gloo
  int rank = 0;
  int world_size = 1;
  std::string rendezvous;  // tcp://HOST:PORT (rank 0 serves it) or file:///PATH; unused under MPI
  std::string local_address = "127.0.0.1";  // where this rank's Gloo endpoint listens
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  at::Device device = at::kCPU;
};

CommBackend parse_comm_backend(const std::string& name);  // Error naming the accepted values

// Connects this rank to the others; returns nullptr for a world of one.
std::unique_ptr<Communicator> connect(const CommOptions& options);

}  // namespace gradpool
