// The slots a worker offers the scheduler: one per CUDA device when it has any (and the daemon
// was built with the CUDA runtime), else N CPU slots. Found once at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gradpool {

struct Slot {
  int index = 0;                   // CUDA device index, or CPU slot number
  std::string name = "cpu";        // "NVIDIA A100-SXM4-80GB", or "cpu"
  std::string uuid;                // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; empty for CPU
  int64_t memory_bytes = 0;        // 0 for CPU slots
  std::string compute_capability;  // "8.0"; empty for CPU
  bool gpu = false;
};

// `count` CPU slots numbered 0..count-1.
std::vector<Slot> cpu_slots(int count);

// The CUDA devices of this machine; none when the daemon has no CUDA runtime, or the driver or
// the devices are missing (`why_none`, if given, says which).
std::vector<Slot> cuda_slots(std::string* why_none = nullptr);

// cuda_slots(), or cpu_slots(cpu_count) where there are none; logs what it found.
std::vector<Slot> detect_slots(int cpu_count);

}  // namespace gradpool
