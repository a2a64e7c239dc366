#include "worker/train/device_stats.h"

#include <fmt/format.h>
#ifdef GRADPOOL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "worker/train/gpu_peak_flops.h"

namespace gradpool {

DeviceIdentity describe_device(const at::Device& device) {
  DeviceIdentity identity;
#ifdef GRADPOOL_WITH_CUDA
  if (!device.is_cuda()) return identity;
  identity.index = device.index();
  const cudaDeviceProp* properties = at::cuda::getDeviceProperties(device.index());
  identity.name = properties->name;
  // As nvidia-smi and DCGM spell it: GPU-8-4-4-4-12 lower-case hex digits.
  const auto* bytes = reinterpret_cast<const unsigned char*>(properties->uuid.bytes);
  identity.uuid = "GPU-";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) identity.uuid += '-';
    identity.uuid += fmt::format("{:02x}", bytes[i]);
  }
#endif
  return identity;
}

std::optional<double> peak_flops(const DeviceIdentity& device, at::ScalarType dtype) {
  const Precision precision = dtype == at::kBFloat16 ? Precision::kBf16
                              : dtype == at::kHalf   ? Precision::kFp16
                                                     : Precision::kFp32;
  return peak_dense_flops(device.name, precision);
}

std::optional<GpuMemory> gpu_memory(const at::Device& device) {
#ifdef GRADPOOL_WITH_CUDA
  if (!device.is_cuda()) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  // Index 0 is StatType::AGGREGATE (all pools), whose namespace moved between LibTorch versions.
  constexpr size_t kAggregate = 0;
  GpuMemory memory;
  memory.allocated_bytes = stats.allocated_bytes[kAggregate].current;
  memory.reserved_bytes = stats.reserved_bytes[kAggregate].current;
  memory.peak_bytes = stats.allocated_bytes[kAggregate].peak;
  return memory;
#else
  return std::nullopt;
#endif
}

}  // namespace gradpool
