// The GPU peak table behind gradpool_train_mfu_ratio: CUDA's device names find their GPU (a
// variant before its family), precisions a GPU has no peak for give none, and MFU is 6·N·tokens
// over what the peak allows in the step's time.
#include "worker/train/gpu_peak_flops.h"

#include <gtest/gtest.h>

namespace gradpool {
namespace {

TEST(GpuPeakFlops, CudaDeviceNamesFindTheirPeaks) {
  EXPECT_EQ(peak_dense_flops("NVIDIA H100 80GB HBM3", Precision::kBf16), 989e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA H100 PCIe", Precision::kBf16), 756e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA H200", Precision::kFp16), 989e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA A100-SXM4-80GB", Precision::kBf16), 312e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA A100-PCIE-40GB", Precision::kFp32), 19.5e12);
  EXPECT_EQ(peak_dense_flops("Tesla V100-SXM2-16GB", Precision::kFp16), 125e12);
  EXPECT_EQ(peak_dense_flops("Tesla V100-PCIE-32GB", Precision::kFp16), 112e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce RTX 4090", Precision::kBf16), 165.2e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce RTX 3090", Precision::kFp32), 35.6e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce GTX 1080", Precision::kFp32), 8.9e12);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce GTX 1080 Ti", Precision::kFp32), 11.3e12);
}

TEST(GpuPeakFlops, UnknownGpusAndMissingPrecisionsHaveNoPeak) {
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce GTX 1080", Precision::kBf16), std::nullopt);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce GTX 1080", Precision::kFp16), std::nullopt);
  EXPECT_EQ(peak_dense_flops("Tesla V100-SXM2-16GB", Precision::kBf16), std::nullopt);
  EXPECT_EQ(peak_dense_flops("NVIDIA GeForce GTX 970", Precision::kFp32), std::nullopt);
  EXPECT_EQ(peak_dense_flops("cpu", Precision::kFp32), std::nullopt);
  EXPECT_EQ(peak_dense_flops("NVIDIA H100 80GB HBM3", Precision::kAuto), std::nullopt);
}

TEST(GpuPeakFlops, MfuIsSixTimesParametersTimesTokensOverThePeak) {
  // 1e9 parameters, 10 000 tokens in 0.5 s: 6e13 FLOPs, 1.2e14 FLOP/s of a 312e12 peak.
  EXPECT_NEAR(model_flops_utilisation(1'000'000'000, 10'000, 0.5, 312e12), 1.2e14 / 312e12, 1e-12);
  EXPECT_EQ(model_flops_utilisation(1'000'000'000, 10'000, 0, 312e12), 0);
}

}  // namespace
}  // namespace gradpool
