#include "cli/live_screen.h"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "cli/interrupt.h"
#include "cli/terminal.h"

namespace gradpool::cli {
namespace {

constexpr const char* kEnter = "\033[?1049h\033[?25l";  // alternate screen, cursor hidden
constexpr const char* kLeave = "\033[?25h\033[?1049l";  // cursor shown, main screen back
constexpr const char* kHome = "\033[H";
constexpr const char* kClearLine = "\033[K";
constexpr const char* kClearBelow = "\033[J";
constexpr FrameSize kFallbackSize{80, 24};

std::atomic<bool> resized{false};

void note_resize(int) {
  resized.store(true);
}

void write_all(const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal is gone; nothing left to show anything on
    written += static_cast<size_t>(n);
  }
}

}  // namespace

LiveScreen::LiveScreen() {
  std::fflush(stdout);
  if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_termios_) == 0) {
    termios keys = saved_termios_;
    keys.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    keys.c_cc[VMIN] = 0;  // read() returns what is there and never waits: poll() waits
    keys.c_cc[VTIME] = 0;
    termios_changed_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &keys) == 0;
    reading_keys_ = termios_changed_;
  }
  struct sigaction action {};
  action.sa_handler = note_resize;
  sigemptyset(&action.sa_mask);
  sigaction(SIGWINCH, &action, &saved_winch_);
  write_all(kEnter);
}

LiveScreen::~LiveScreen() {
  write_all(kLeave);
  sigaction(SIGWINCH, &saved_winch_, nullptr);
  if (termios_changed_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios_);
}

FrameSize LiveScreen::size() const {
  const std::optional<TerminalSize> size = stdout_terminal_size();
  if (!size || size->columns == 0 || size->rows == 0) return kFallbackSize;
  return {size->columns, size->rows};
}

void LiveScreen::draw(const std::string& frame) const {
  std::string out = kHome;
  size_t begin = 0;
  while (begin < frame.size()) {
    const size_t end = std::min(frame.find('\n', begin), frame.size());
    if (begin > 0) out += "\r\n";
    out += frame.substr(begin, end - begin) + kClearLine;
    begin = end + 1;
  }
  // No newline after the last line: on the screen's last row it would scroll the header away.
  write_all(out + kClearBelow);
}

LiveScreen::Event LiveScreen::wait(std::chrono::steady_clock::time_point deadline) {
  using std::chrono::milliseconds;
  for (;;) {
    if (InterruptGuard::received() != 0) return Event::kInterrupted;
    if (resized.exchange(false)) return Event::kResized;
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Event::kTimeout;
    pollfd keys{STDIN_FILENO, POLLIN, 0};
    // A signal ends poll() early with EINTR (it is never restarted), and the loop looks again.
    const int ready = ::poll(&keys, reading_keys_ ? 1 : 0, static_cast<int>(left.count()) + 1);
    if (ready <= 0) continue;
    if (keys.revents & (POLLHUP | POLLERR | POLLNVAL)) {
      reading_keys_ = false;  // the terminal hung up; SIGHUP follows
      continue;
    }
    char buffer[64];
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    for (ssize_t i = 0; i < n; ++i)
      if (buffer[i] == 'q' || buffer[i] == 'Q') return Event::kQuit;
  }
}

}  // namespace gradpool::cli
