// The coordinator's one wall clock: Unix milliseconds, as every time in the API and the store is.
#pragma once

#include <chrono>
#include <cstdint>

namespace gradpool {

inline int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gradpool
