// plan_micro_batch's back-off. No GPU here: a GPU's memory limit is faked by a step that throws
// the CUDA allocator's out-of-memory message above a size — the one part that cannot run on CPU.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "common/error.h"
#include "worker/train/batch_planner.h"

namespace gradpool {
namespace {

// A step that "fits" up to `capacity` sequences, recording every size tried.
struct FakeGpu {
  int64_t capacity;
  std::vector<int64_t> tried;
  int recoveries = 0;

  void step(int64_t micro) {
    tried.push_back(micro);
    if (micro > capacity)
      throw std::runtime_error("CUDA out of memory. Tried to allocate 2.00 GiB");
  }
};

int64_t plan(FakeGpu& gpu, int64_t max_micro) {
  return plan_micro_batch(
      max_micro, [&](int64_t micro) { gpu.step(micro); }, [&] { ++gpu.recoveries; });
}

TEST(BatchPlanner, TakesTheWholeShareWhenItFits) {
  FakeGpu gpu{64, {}};
  EXPECT_EQ(plan(gpu, 16), 16);
  EXPECT_EQ(gpu.tried, (std::vector<int64_t>{16}));
  EXPECT_EQ(gpu.recoveries, 0);
}

TEST(BatchPlanner, HalvesOnOutOfMemoryAndRecoversEachTime) {
  FakeGpu gpu{5, {}};
  EXPECT_EQ(plan(gpu, 32), 4);
  EXPECT_EQ(gpu.tried, (std::vector<int64_t>{32, 16, 8, 4}));
  EXPECT_EQ(gpu.recoveries, 3);
}

TEST(BatchPlanner, FailsClearlyWhenNotEvenOneSequenceFits) {
  FakeGpu gpu{0, {}};
  try {
    plan(gpu, 8);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch.micro"), std::string::npos) << e.what();
  }
  EXPECT_EQ(gpu.tried, (std::vector<int64_t>{8, 4, 2, 1}));
}

TEST(BatchPlanner, OtherErrorsAreNotMistakenForMemory) {
  EXPECT_THROW(plan_micro_batch(
                   8, [](int64_t) { throw std::runtime_error("shape mismatch"); }, [] {}),
               std::runtime_error);
  EXPECT_TRUE(is_out_of_memory(std::runtime_error("CUDA out of memory.")));
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("index out of range")));
}

}  // namespace
}  // namespace gradpool
