// Small networking helpers shared by the rendezvous bootstrap, the tests and the benchmarks.
#pragma once

#include <cstdint>

namespace gradpool {

// A TCP port that is free now: the kernel's pick for port 0 on every interface. Whoever needs it
// binds it right after (a small race, acceptable for rendezvous and tests). Error if none.
uint16_t pick_free_tcp_port();

}  // namespace gradpool
