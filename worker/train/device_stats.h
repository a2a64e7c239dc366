// What a rank reports about its device beside the training figures: which GPU it is (for
// gradpool_job_gpu_info), what it can do at its peak (for MFU) and how much memory its tensors
// hold (the gpu_memory_* fields of its step events). CUDA figures come from LibTorch's caching
// allocator; a CPU rank has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace gradpool {

struct DeviceIdentity {
  int index = 0;             // CUDA device index as this process sees it; 0 for the CPU
  std::string name = "cpu";  // "NVIDIA H100 80GB HBM3", or "cpu"
  std::string uuid;          // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; empty for the CPU
};

DeviceIdentity describe_device(const at::Device& device);

// The GPU's peak FLOP/s for matrix work in `dtype` (gpu_peak_flops.h), for MFU; nullopt for the
// CPU, a GPU the table does not know, or a dtype it has no peak for.
std::optional<double> peak_flops(const DeviceIdentity& device, at::ScalarType dtype);

struct GpuMemory {
  int64_t allocated_bytes = 0;  // held by tensors now
  int64_t reserved_bytes = 0;   // held by the caching allocator now
  int64_t peak_bytes = 0;       // most ever held by tensors at once
};

// The caching allocator's figures for `device`; nullopt for a CPU device or a build without CUDA.
std::optional<GpuMemory> gpu_memory(const at::Device& device);

}  // namespace gradpool
