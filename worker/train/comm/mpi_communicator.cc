// MPI: collectives over MPI_COMM_WORLD for ranks that mpirun/srun started, and the bootstrap that
// every backend uses under those launchers (join_mpi_world).
//
// Bootstrap: MPI names the rank and size (overriding --rank/--world-size). Rank 0 serves a c10d
// TCPStore on a port the kernel picks and MPI_Bcast tells the others "tcp://HOST:PORT"; the store
// carries the stall inspector's arrival counters and NCCL's or Gloo's own bootstrap. HOST is
// 127.0.0.1 when all ranks share rank 0's node, else rank 0's MPI_Get_processor_name, which must
// resolve from the other nodes (as it must for mpirun's own launch).
//
// Collectives run on host memory, since Debian's Open MPI is not CUDA-aware: CUDA tensors, strided
// views and fp16/bf16 (MPI has no type to sum them; they are summed in fp32) go through a host
// copy. MPI errors abort the job (MPI_ERRORS_ARE_FATAL, the default), so return codes are not
// checked.

// MPI's C API only: C++ callers of mpi.h would otherwise need the deprecated C++ bindings' library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "common/error.h"
#include "common/net.h"
#include "worker/train/comm/backends.h"
#include "worker/train/comm/rendezvous.h"

namespace gradpool {
namespace {

// The process's MPI session, the one piece of global state: MPI may be initialized once per
// process, so the first join starts it and the process's exit ends it. A clean exit finalizes. An
// exit while the world is still in use, or after this rank failed (an exception unwound the last
// user), aborts the job instead: the other ranks may be waiting in a collective for this one, and
// MPI_Finalize would wait for them in turn.
class MpiSession {
 public:
  static MpiSession& get() {
    static MpiSession session;
    return session;
  }

  // Held (through the store factory) by everything that works through the MPI world.
  std::shared_ptr<void> lease() {
    ++leases_;
    return std::shared_ptr<void>(nullptr, [this](void*) {
      if (std::uncaught_exceptions() > 0) failed_ = true;
      --leases_;
    });
  }

 private:
  MpiSession() {
    // MULTIPLE: the stall inspector's watchdog calls MPI_Abort while the training thread may be
    // inside a collective.
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  }
  ~MpiSession() {
    if (leases_ > 0 || failed_)
      MPI_Abort(MPI_COMM_WORLD, 1);  // 1: main()'s status for errors
    else
      MPI_Finalize();
  }

  std::atomic<int> leases_{0};
  std::atomic<bool> failed_{false};
};

// Where the other ranks reach rank 0's store (see the top of this file). Collective.
std::string store_host() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_size = 0, world_size = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_free(&node);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  if (node_size == world_size) return "127.0.0.1";
  std::array<char, MPI_MAX_PROCESSOR_NAME> name{};
  int length = 0;
  MPI_Get_processor_name(name.data(), &length);
  return std::string(name.data(), length);
}

int mpi_count(const at::Tensor& t) {
  if (t.numel() > INT_MAX) fail("MPI backend: {} elements exceed MPI's int count", t.numel());
  return static_cast<int>(t.numel());
}

MPI_Datatype mpi_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kInt:
      return MPI_INT32_T;
    case at::kLong:
      return MPI_INT64_T;
    case at::kChar:
      return MPI_INT8_T;
    case at::kByte:
      return MPI_UINT8_T;
    default:
      fail("MPI backend: no MPI type for {} tensors", c10::toString(type));
  }
}

// `t` itself when MPI can work on it in place, else a contiguous host copy of an MPI type.
at::Tensor on_host(const at::Tensor& t) {
  const at::ScalarType type = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16
                                  ? at::kFloat
                                  : t.scalar_type();
  return t.to(at::kCPU, type).contiguous();
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const CommOptions& options, StoreFactory stores)
      : Communicator(options.rank, options.world_size, std::move(stores), options.timeout) {}

  const char* backend() const override { return "mpi"; }

 protected:
  void do_all_reduce_sum(at::Tensor& flat) override {
    at::Tensor host = on_host(flat);
    MPI_Allreduce(MPI_IN_PLACE, host.data_ptr(), mpi_count(host), mpi_type(host.scalar_type()),
                  MPI_SUM, MPI_COMM_WORLD);
    if (!host.is_same(flat)) flat.copy_(host);
  }
  void do_broadcast(at::Tensor& tensor, int root) override {
    at::Tensor host = on_host(tensor);
    MPI_Bcast(host.data_ptr(), mpi_count(host), mpi_type(host.scalar_type()), root, MPI_COMM_WORLD);
    if (!host.is_same(tensor)) tensor.copy_(host);
  }
  void do_barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void abort() noexcept override { MPI_Abort(MPI_COMM_WORLD, kExitCollectiveTimeout); }
};

}  // namespace

MpiWorld join_mpi_world(std::chrono::milliseconds timeout) {
  MpiSession& session = MpiSession::get();
  MpiWorld world;
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  if (world.size == 1) return world;

  // Rank 0 serves before it tells the others, so that its failure reaches them as an empty address.
  const std::string host = store_host();
  std::array<char, MPI_MAX_PROCESSOR_NAME + 16> url{};
  StoreFactory stores;
  std::exception_ptr failure;
  if (world.rank == 0) {
    try {
      RendezvousAddress address;
      address.host = host;
      address.port = pick_free_tcp_port();
      stores = store_factory(address, 0, world.size, timeout);
      stores();  // starts the server, which the factory keeps
      fmt::format_to_n(url.data(), url.size() - 1, "tcp://{}:{}", address.host, address.port);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  MPI_Bcast(url.data(), static_cast<int>(url.size()), MPI_CHAR, 0, MPI_COMM_WORLD);
  if (failure) std::rethrow_exception(failure);
  if (url[0] == '\0')
    fail("MPI bootstrap: rank 0 could not serve the rendezvous store (see its log)");
  if (world.rank != 0)
    stores = store_factory(parse_rendezvous(url.data()), world.rank, world.size, timeout);
  world.stores = [lease = session.lease(), stores] { return stores(); };
  return world;
}

std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options,
                                                    StoreFactory stores) {
  return std::make_unique<MpiCommunicator>(options, std::move(stores));
}

}  // namespace gradpool
