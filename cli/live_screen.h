// LiveScreen: the terminal while `gradpool top` redraws it in place. Creating one switches to the
// alternate screen and hides the cursor and, when stdin is a terminal, turns off line buffering and
// echo so that a single `q` quits; destroying it puts all of that back, whichever way `top` ends
// (q, a signal, an error). Signals that end `top` are InterruptGuard's (interrupt.h): Ctrl-C still
// raises SIGINT, since the terminal keeps generating signals.
#pragma once

#include <termios.h>

#include <chrono>
#include <csignal>
#include <string>

#include "cli/top_frame.h"

namespace gradpool::cli {

class LiveScreen {
 public:
  enum class Event {
    kTimeout,      // the deadline passed
    kQuit,         // q was pressed
    kResized,      // the terminal changed size (SIGWINCH): draw again
    kInterrupted,  // a signal InterruptGuard caught
  };

  LiveScreen();
  ~LiveScreen();
  LiveScreen(const LiveScreen&) = delete;
  LiveScreen& operator=(const LiveScreen&) = delete;

  // The terminal's size now (80x24 when it does not tell).
  FrameSize size() const;

  // Replaces the screen's contents with `frame` ('\n'-separated lines, at most size().height):
  // cursor home, each line then clear-to-end-of-line, then clear-to-end-of-screen, in one write so
  // that nothing flickers.
  void draw(const std::string& frame) const;

  // Waits until `deadline` for q (other keys are ignored), a resize or a signal.
  Event wait(std::chrono::steady_clock::time_point deadline);

 private:
  bool termios_changed_ = false;  // saved_termios_ is to be put back
  bool reading_keys_ = false;     // stdin is a terminal we read keys from
  termios saved_termios_{};
  struct sigaction saved_winch_ {};
};

}  // namespace gradpool::cli
