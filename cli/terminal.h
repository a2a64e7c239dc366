// What the CLI needs to know about its terminal: whether stdout is one (tables and progress bars
// are for people; scripts get plain lines) and how large it is.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace gradpool::cli {

// Whether stdout is a terminal.
bool stdout_is_tty();

struct TerminalSize {
  size_t columns = 0;
  size_t rows = 0;
};

// The size of the terminal on stdout (TIOCGWINSZ); nullopt when stdout is not a terminal or it
// does not tell.
std::optional<TerminalSize> stdout_terminal_size();

// The width tables are cut to, in columns; 0 means unlimited. On a terminal: its width
// (TIOCGWINSZ), else $COLUMNS, else 80. Not on a terminal: $COLUMNS when set (an explicit request),
// else unlimited, so that `gradpool list | grep` sees whole names.
size_t output_width();

// The same rule with the inputs given, for tests: `tty_columns` is what the terminal reports
// (nullopt when stdout is not a terminal), `columns_env` is $COLUMNS (nullptr when unset).
size_t output_width(std::optional<size_t> tty_columns, const char* columns_env);

}  // namespace gradpool::cli
