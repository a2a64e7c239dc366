#include "worker/train/gpu_peak_flops.h"

#include <array>

namespace gradpool {
namespace {

struct GpuPeak {
  std::string_view name_part;  // a substring of the CUDA device name
  double fp32, fp16, bf16;     // dense FLOP/s; 0: none
};

// The first entry whose name_part the device name contains wins: variants before their family.
constexpr double kT = 1e12;
constexpr std::array<GpuPeak, 13> kPeaks = {{
    {"H100 PCIe", 51.2 * kT, 756 * kT, 756 * kT},
    {"H100 NVL", 60 * kT, 835 * kT, 835 * kT},
    {"H100", 67 * kT, 989 * kT, 989 * kT},  // SXM ("NVIDIA H100 80GB HBM3")
    {"H200", 67 * kT, 989 * kT, 989 * kT},
    {"A100", 19.5 * kT, 312 * kT, 312 * kT},
    {"V100S", 16.4 * kT, 130 * kT, 0},
    {"V100-PCIE", 14 * kT, 112 * kT, 0},
    {"V100", 15.7 * kT, 125 * kT, 0},  // SXM2
    {"RTX 4090", 82.6 * kT, 165.2 * kT, 165.2 * kT},
    {"RTX 3090 Ti", 40 * kT, 80 * kT, 80 * kT},
    {"RTX 3090", 35.6 * kT, 71 * kT, 71 * kT},
    {"GTX 1080 Ti", 11.3 * kT, 0, 0},  // Pascal: fp16 at 1/64 rate, no bf16
    {"GTX 1080", 8.9 * kT, 0, 0},
}};

}  // namespace

std::optional<double> peak_dense_flops(std::string_view gpu_name, Precision precision) {
  for (const GpuPeak& gpu : kPeaks) {
    if (gpu_name.find(gpu.name_part) == std::string_view::npos) continue;
    const double peak = precision == Precision::kFp32   ? gpu.fp32
                        : precision == Precision::kFp16 ? gpu.fp16
                        : precision == Precision::kBf16 ? gpu.bf16
                                                        : 0;
    if (peak > 0) return peak;
    return std::nullopt;
  }
  return std::nullopt;
}

double model_flops_utilisation(int64_t parameters, int64_t tokens, double seconds,
                               double peak_flops) {
  if (seconds <= 0 || peak_flops <= 0) return 0;
  return 6.0 * static_cast<double>(parameters) * static_cast<double>(tokens) / seconds / peak_flops;
}

}  // namespace gradpool
