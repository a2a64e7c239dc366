// Table: the aligned text tables of `gradpool list`, `workers`, `datasets list` and `top`.
//
// Columns are separated by two spaces, right-aligned columns (numbers) line up on their last digit,
// and no line ends in spaces. When the table is wider than the width it is given, the truncatable
// columns (free text such as job names) are cut, widest first, with "…" marking the cut; cells are
// never wrapped. If that is still not enough, each line is cut at the width. Scripts get
// tab-separated lines instead (render_tab_separated).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gradpool::cli {

enum class Align { kLeft, kRight };

struct Column {
  std::string header;
  Align align = Align::kLeft;
  bool truncatable = false;  // may be cut with "…" to fit the width
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);

  // One cell per column; a row with another count is a programming error (Error).
  void add_row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // The header line and the rows, each ending in '\n'; `max_width` 0 means unlimited.
  std::string render(size_t max_width) const;

  // For scripts (stdout is not a terminal): the same lines with cells separated by one tab, never
  // cut or padded; tabs and newlines inside a cell become spaces.
  std::string render_tab_separated() const;

 private:
  std::vector<std::string> headers() const;
  std::vector<size_t> column_widths(size_t max_width) const;

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Columns `text` takes on a terminal: one per UTF-8 code point (no wide characters in our tables).
size_t display_width(std::string_view text);

// `text` cut to at most `width` columns, ending in "…" when something was cut.
std::string truncate_to_width(std::string_view text, size_t width);

}  // namespace gradpool::cli
