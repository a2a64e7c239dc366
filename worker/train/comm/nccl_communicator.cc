// NCCL: collectives between CUDA ranks, one GPU each, on a stream of our own.
//
// Bootstrap: rank 0 makes the unique id and publishes it in the rendezvous store under
// "gradpool/nccl_id"; the others read it there. The store is --rendezvous's, or under mpirun/srun
// the one whose address MPI broadcast (join_mpi_world), so the id travels the same way under both.
//
// Ordering: the tensors are produced on LibTorch's current stream, which this file cannot name: the
// CPU LibTorch it also builds against has c10/cuda's headers but not libc10_cuda, where
// getCurrentCUDAStream lives. Each collective therefore waits for the whole device
// (cudaDeviceSynchronize) before it enqueues on our stream, and waits for our stream before it
// returns, so that the result is ready for any stream. With one all-reduce per step, the host
// waits cost little.
//
// Nothing here touches CUDA before a communicator is made, so a build that links libcudart and
// libnccl still runs on machines without a GPU or driver.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "common/error.h"
#include "worker/train/comm/backends.h"

namespace gradpool {
namespace {

constexpr const char* kIdKey = "gradpool/nccl_id";

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) fail("NCCL backend: {} failed: {}", call, cudaGetErrorString(status));
}

void check(ncclResult_t status, const char* call) {
  if (status != ncclSuccess) fail("NCCL backend: {} failed: {}", call, ncclGetErrorString(status));
}

ncclDataType_t nccl_type(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kInt:
      return ncclInt32;
    case at::kLong:
      return ncclInt64;
    case at::kChar:
      return ncclInt8;
    case at::kByte:
      return ncclUint8;
    default:
      fail("NCCL backend: no NCCL type for {} tensors", c10::toString(type));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommOptions& options, StoreFactory stores)
      : Communicator(options.rank, options.world_size, stores, options.timeout),
        device_(options.device.has_index() ? options.device.index() : 0) {
    if (!options.device.is_cuda())
      fail("--backend nccl: needs a CUDA device (--device cuda:N), not {}", options.device.str());
    check(cudaSetDevice(device_), "cudaSetDevice");
    ncclUniqueId id;
    const auto store = stores();
    if (rank() == 0) {
      check(ncclGetUniqueId(&id), "ncclGetUniqueId");
      const auto* bytes = reinterpret_cast<const uint8_t*>(&id);
      store->set(kIdKey, std::vector<uint8_t>(bytes, bytes + sizeof id));
    } else {
      const std::vector<uint8_t> bytes = store->get(kIdKey);  // waits for rank 0
      if (bytes.size() != sizeof id)
        fail("NCCL backend: '{}' in the rendezvous store has {} bytes, expected {}", kIdKey,
             bytes.size(), sizeof id);
      std::memcpy(&id, bytes.data(), sizeof id);
    }
    cudaStream_t stream = nullptr;
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    stream_.reset(stream);
    void* one = nullptr;
    check(cudaMalloc(&one, sizeof(float)), "cudaMalloc");
    barrier_word_.reset(one);
    ncclComm_t comm = nullptr;
    check(ncclCommInitRank(&comm, size(), id, rank()), "ncclCommInitRank");
    comm_.reset(comm);
  }

  const char* backend() const override { return "nccl"; }

 protected:
  void do_all_reduce_sum(at::Tensor& flat) override {
    void* data = device_data(flat);
    run("ncclAllReduce", [&] {
      return ncclAllReduce(data, data, flat.numel(), nccl_type(flat.scalar_type()), ncclSum,
                           comm_.get(), stream_.get());
    });
  }
  void do_broadcast(at::Tensor& tensor, int root) override {
    void* data = device_data(tensor);
    run("ncclBroadcast", [&] {
      return ncclBroadcast(data, data, tensor.nbytes(), ncclUint8, root, comm_.get(),
                           stream_.get());
    });
  }
  void do_barrier() override {
    run("ncclAllReduce", [&] {
      return ncclAllReduce(barrier_word_.get(), barrier_word_.get(), 1, ncclFloat32, ncclSum,
                           comm_.get(), stream_.get());
    });
  }
  void abort() noexcept override { ncclCommAbort(comm_.get()); }

 private:
  // The tensor's memory, which must be contiguous on this communicator's GPU.
  void* device_data(const at::Tensor& t) const {
    if (!t.is_cuda() || t.get_device() != device_ || !t.is_contiguous())
      fail("NCCL backend: expected a contiguous tensor on cuda:{}, got a {} one on {}", device_,
           t.is_contiguous() ? "contiguous" : "strided", t.device().str());
    return t.data_ptr();
  }

  // Enqueues one NCCL call on our stream after the device's pending work, and waits for it.
  template <typename Call>
  void run(const char* name, Call&& call) {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    check(call(), name);
    check(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  }

  const int device_;
  // Declared in creation order, so that they are released in reverse.
  std::unique_ptr<std::remove_pointer_t<cudaStream_t>, decltype(&cudaStreamDestroy)> stream_{
      nullptr, cudaStreamDestroy};
  std::unique_ptr<void, decltype(&cudaFree)> barrier_word_{nullptr, cudaFree};
  std::unique_ptr<std::remove_pointer_t<ncclComm_t>, decltype(&ncclCommDestroy)> comm_{
      nullptr, ncclCommDestroy};
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommOptions& options,
                                                     StoreFactory stores) {
  return std::make_unique<NcclCommunicator>(options, std::move(stores));
}

}  // namespace gradpool
