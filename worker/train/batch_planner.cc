#include "worker/train/batch_planner.h"

#include <cstring>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool {

bool is_out_of_memory(const std::exception& error) {
  return std::strstr(error.what(), "out of memory") != nullptr ||
         std::strstr(error.what(), "OutOfMemory") != nullptr;
}

int64_t plan_micro_batch(int64_t max_micro, const std::function<void(int64_t)>& try_step,
                         const std::function<void()>& recover) {
  for (int64_t micro = std::max<int64_t>(1, max_micro); micro >= 1; micro /= 2) {
    try {
      try_step(micro);
      return micro;
    } catch (const std::exception& error) {
      if (!is_out_of_memory(error)) throw;
      spdlog::info("batch.micro auto: {} sequences do not fit; trying {}", micro, micro / 2);
      recover();
    }
  }
  fail(
      "batch.micro: auto: not even one sequence of this seq_len fits in GPU memory; lower "
      "seq_len, or use a larger GPU");
}

}  // namespace gradpool
