// InterruptGuard: while one exists, SIGINT, SIGTERM and SIGHUP do not kill the CLI; they are
// remembered instead, so that `gradpool run` can wind down in order (cancel its job, then stop the
// coordinator and worker it started).
#pragma once

namespace gradpool::cli {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // The last signal received while a guard was installed, 0 if none.
  static int received();
};

}  // namespace gradpool::cli
