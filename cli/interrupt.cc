#include "cli/interrupt.h"

#include <atomic>
#include <csignal>
#include <iterator>

namespace gradpool::cli {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> last_signal{0};
struct sigaction previous[std::size(kSignals)];

void remember(int signal) {
  last_signal.store(signal);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  struct sigaction action {};
  action.sa_handler = remember;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a signal must not make an unrelated blocking call fail with EINTR.
  action.sa_flags = SA_RESTART;
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &action, &previous[i]);
}

InterruptGuard::~InterruptGuard() {
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &previous[i], nullptr);
}

int InterruptGuard::received() {
  return last_signal.load();
}

}  // namespace gradpool::cli
