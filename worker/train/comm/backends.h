// Constructors of the Communicator backends, each in its own file; connect() picks one.
#pragma once

#include <chrono>
#include <memory>

#include "worker/train/comm/communicator.h"
#include "worker/train/comm/stall_inspector.h"

namespace gradpool {

std::unique_ptr<Communicator> make_gloo_communicator(const CommOptions& options,
                                                     StoreFactory stores);
// Defined only in builds with CUDA + NCCL (GRADPOOL_WITH_NCCL).
std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     StoreFactory stores);
// Defined only in builds with MPI (GRADPOOL_WITH_MPI), as is join_mpi_world.
std::unique_ptr<Communicator> make_mpi_communicator(const CommOptions& options,
                                                    StoreFactory stores);

// This rank's place in the job that mpirun/srun launched, and its rendezvous store: rank 0 serves a
// c10d TCPStore and MPI broadcasts its address, so no --rendezvous is needed, whatever the backend.
struct MpiWorld {
  int rank = 0, size = 1;
  // Empty for a world of one. It also keeps the MPI session open: while any copy lives, or after
  // the last one died in stack unwinding (this rank failed), the process's exit aborts the job
  // rather than waiting in MPI_Finalize for ranks that may wait for this one.
  StoreFactory stores;
};
MpiWorld join_mpi_world(std::chrono::milliseconds timeout);  // collective over MPI_COMM_WORLD

// True when this process was started by mpirun/srun (the launcher's environment is present).
bool launched_by_mpi();

}  // namespace gradpool
