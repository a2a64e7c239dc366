#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>

namespace gradpool::cli {
namespace {

constexpr size_t kDefaultTerminalWidth = 80;

std::optional<size_t> parse_columns(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value <= 0) return std::nullopt;
  return static_cast<size_t>(value);
}

}  // namespace

bool stdout_is_tty() {
  return ::isatty(STDOUT_FILENO) == 1;
}

std::optional<TerminalSize> stdout_terminal_size() {
  winsize size{};
  if (!stdout_is_tty() || ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) return std::nullopt;
  return TerminalSize{size.ws_col, size.ws_row};
}

size_t output_width(std::optional<size_t> tty_columns, const char* columns_env) {
  const std::optional<size_t> from_env = parse_columns(columns_env);
  if (tty_columns) {
    if (*tty_columns > 0) return *tty_columns;
    return from_env.value_or(kDefaultTerminalWidth);
  }
  return from_env.value_or(0);
}

size_t output_width() {
  std::optional<size_t> tty_columns;
  if (stdout_is_tty()) {
    const std::optional<TerminalSize> size = stdout_terminal_size();
    tty_columns = size ? size->columns : 0;
  }
  return output_width(tty_columns, std::getenv("COLUMNS"));
}

}  // namespace gradpool::cli
