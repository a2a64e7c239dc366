// Micro-batch planning for `batch: {micro: auto}`: the largest micro-batch this GPU holds,
// measured rather than guessed — try a forward + backward at a size, and halve on out-of-memory.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>

namespace gradpool {

// True for the allocator's out-of-memory errors (CUDA's "out of memory", LibTorch's
// OutOfMemoryError), whatever the LibTorch version names their type.
bool is_out_of_memory(const std::exception& error);

// Tries `try_step(micro)` for micro = max_micro, max_micro/2, … 1 and returns the first size that
// ran. `recover()` runs after each out-of-memory failure (free cached blocks, zero gradients).
// Other errors propagate; if even 1 does not fit, Error says so.
int64_t plan_micro_batch(int64_t max_micro, const std::function<void(int64_t)>& try_step,
                         const std::function<void()>& recover);

}  // namespace gradpool
