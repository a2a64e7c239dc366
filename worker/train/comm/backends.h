// Constructors of the Communicator backends, each in its own file; connect() picks one.
#pragma once

#include <memory>

#include "worker/train/comm/communicator.h"
#include "worker/train/comm/stall_inspector.h"

namespace gradpool {

std::unique_ptr<Communicator> make_gloo_communicator(const CommOptions& options,
                                                     StoreFactory stores);
// Defined only in builds with CUDA + NCCL (GRADPOOL_WITH_NCCL).
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     StoreFactory stores);
// Defined only in builds with MPI (GRADPOOL_WITH_MPI).
std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options);
// True when this process was started by mpirun/srun (the launcher's environment is present).
bool launched_by_mpi();

}  // namespace gradpool
