// Comparing two trained adapters (adapter_model.safetensors) the way the data-parallel and
// service tests need: same tensor names and shapes, values within a relative tolerance.
#pragma once

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/safetensors.h"

namespace gradpool::testing {

// Both files hold the same fp32 tensors, each within `rel_tol`: ‖a − b‖₂ ≤ rel_tol · ‖b‖₂. (Per
// element, AdamW's normalized update amplifies the rounding of small gradients, so a norm is the
// fair measure when summation order differs.)
inline void expect_close_adapters(const std::filesystem::path& a, const std::filesystem::path& b,
                                  double rel_tol) {
  const SafetensorsFile fa = SafetensorsFile::open(a.string()),
                        fb = SafetensorsFile::open(b.string());
  ASSERT_EQ(fa.tensors().size(), fb.tensors().size());
  for (const auto& [name, info] : fa.tensors()) {
    ASSERT_TRUE(fb.contains(name)) << b << " lacks " << name;
    ASSERT_EQ(info.dtype, DType::F32) << name;
    ASSERT_EQ(info.shape, fb.info(name).shape) << name;
    const auto* x = reinterpret_cast<const float*>(fa.data(name));
    const auto* y = reinterpret_cast<const float*>(fb.data(name));
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < info.numel(); ++i) {
      diff += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
      norm += double{y[i]} * y[i];
    }
    EXPECT_LE(std::sqrt(diff), rel_tol * std::sqrt(norm)) << name << ": " << a << " vs " << b;
  }
}

}  // namespace gradpool::testing
