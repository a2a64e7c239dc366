#include "worker/train/comm/communicator.h"

#include <cstdlib>

#include "common/error.h"
#include "worker/train/comm/backends.h"
#include "worker/train/comm/rendezvous.h"

namespace gradpool {

Communicator::Communicator(int rank, int size, StoreFactory stores,
                           std::chrono::milliseconds timeout)
    : rank_(rank),
      size_(size),
      inspector_(std::make_unique<StallInspector>(rank, size, std::move(stores), timeout,
                                                  [this] { abort(); })) {}

Communicator::~Communicator() = default;

template <typename Fn>
void Communicator::collective(const char* name, Fn&& fn) {
  inspector_->enter(name);
  fn();
  inspector_->leave();
}

void Communicator::all_reduce_sum(at::Tensor& flat) {
  collective("all-reduce", [&] { do_all_reduce_sum(flat); });
}

void Communicator::broadcast(at::Tensor& tensor, int root) {
  collective("broadcast", [&] { do_broadcast(tensor, root); });
}

void Communicator::barrier() {
  collective("barrier", [&] { do_barrier(); });
}

CommBackend parse_comm_backend(const std::string& name) {
  if (name == "auto") return CommBackend::kAuto;
  if (name == "gloo") return CommBackend::kGloo;
  if (name == "nccl") return CommBackend::kNccl;
  if (name == "mpi") return CommBackend::kMpi;
  fail("--backend: unknown backend '{}' (expected auto, gloo, nccl or mpi)", name);
}

bool launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(variable)) return true;
  return false;
}

std::unique_ptr<Communicator> connect(const CommOptions& options) {
  CommBackend backend = options.backend;
  if (backend == CommBackend::kAuto) {
    backend = options.device.is_cuda() ? CommBackend::kNccl
              : launched_by_mpi()      ? CommBackend::kMpi
                                       : CommBackend::kGloo;
  }
  // Where this rank stands: under mpirun/srun MPI says (and bootstraps the store); else the flags.
  CommOptions placed = options;
  StoreFactory stores;
  if (backend == CommBackend::kMpi || launched_by_mpi()) {
#ifdef GRADPOOL_WITH_MPI
    MpiWorld world = join_mpi_world(options.timeout);
    placed.rank = world.rank;
    placed.world_size = world.size;
    stores = std::move(world.stores);
#else
    if (backend == CommBackend::kMpi) fail("--backend mpi: this build has no MPI");
#endif
  }
  if (placed.world_size == 1) return nullptr;
  if (!stores) {
    if (options.rendezvous.empty())
      fail("--rendezvous: needed to connect {} ranks (tcp://HOST:PORT or file:///PATH)",
           options.world_size);
    stores = store_factory(parse_rendezvous(options.rendezvous), options.rank, options.world_size,
                           options.timeout);
  }
#ifdef GRADPOOL_WITH_MPI
  if (backend == CommBackend::kMpi) return make_mpi_communicator(placed, stores);
#endif
  if (backend == CommBackend::kNccl) {
#ifdef GRADPOOL_WITH_NCCL
    return make_nccl_communicator(placed, stores);
#else
    fail("--backend nccl: this build has no NCCL (build with the CUDA toolkit and NCCL)");
#endif
  }
  return make_gloo_communicator(placed, stores);
}

}  // namespace gradpool
