#include "worker/daemon/slots.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#ifdef GRADPOOL_WORKER_CUDA
#include <cuda_runtime_api.h>
#endif

namespace gradpool {
namespace {

#ifdef GRADPOOL_WORKER_CUDA
// nvidia-smi's spelling of a device UUID.
std::string format_uuid(const cudaUUID_t& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  return fmt::format(
      "GPU-{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}
#endif

}  // namespace

std::vector<Slot> cpu_slots(int count) {
  std::vector<Slot> slots(std::max(0, count));
  for (int i = 0; i < count; ++i) slots[i].index = i;
  return slots;
}

std::vector<Slot> cuda_slots(std::string* why_none) {
  std::vector<Slot> slots;
#ifdef GRADPOOL_WORKER_CUDA
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    if (why_none) *why_none = fmt::format("CUDA: {}", cudaGetErrorString(error));
    return slots;
  }
  for (int device = 0; device < count; ++device) {
    cudaDeviceProp properties{};
    const cudaError_t failed = cudaGetDeviceProperties(&properties, device);
    if (failed != cudaSuccess) {
      if (why_none)
        *why_none = fmt::format("CUDA device {}: {}", device, cudaGetErrorString(failed));
      return {};
    }
    Slot slot;
    slot.index = device;
    slot.name = properties.name;
    slot.uuid = format_uuid(properties.uuid);
    slot.memory_bytes = static_cast<int64_t>(properties.totalGlobalMem);
    slot.compute_capability = fmt::format("{}.{}", properties.major, properties.minor);
    slot.gpu = true;
    slots.push_back(std::move(slot));
  }
  if (slots.empty() && why_none) *why_none = "CUDA: no devices";
#else
  if (why_none) *why_none = "built without the CUDA runtime";
#endif
  return slots;
}

std::vector<Slot> detect_slots(int cpu_count) {
  std::string why_none;
  std::vector<Slot> slots = cuda_slots(&why_none);
  for (const Slot& slot : slots)
    spdlog::info("slot {}: {} ({}, {:.1f} GiB, compute capability {})", slot.index, slot.name,
                 slot.uuid, slot.memory_bytes / double(1 << 30), slot.compute_capability);
  if (!slots.empty()) return slots;
  spdlog::info("no GPU slots ({}); offering {} CPU slot(s)", why_none, cpu_count);
  return cpu_slots(cpu_count);
}

}  // namespace gradpool
