#include "cli/table.h"

#include <algorithm>

#include "common/error.h"

namespace gradpool::cli {
namespace {

constexpr std::string_view kSeparator = "  ";
constexpr std::string_view kEllipsis = "…";

bool is_continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Byte length of the first `columns` code points of `text`.
size_t prefix_bytes(std::string_view text, size_t columns) {
  size_t bytes = 0;
  for (size_t seen = 0; bytes < text.size(); ++bytes) {
    if (!is_continuation_byte(text[bytes]) && seen++ == columns) break;
  }
  return bytes;
}

void append_padded(std::string& line, const std::string& cell, size_t width, Align align,
                   bool last) {
  const std::string shown = truncate_to_width(cell, width);
  const size_t padding = width - display_width(shown);
  if (align == Align::kRight) line.append(padding, ' ');
  line += shown;
  if (align == Align::kLeft && !last) line.append(padding, ' ');
}

std::string without_trailing_spaces(std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

}  // namespace

size_t display_width(std::string_view text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation_byte(c); }));
}

std::string truncate_to_width(std::string_view text, size_t width) {
  if (display_width(text) <= width) return std::string(text);
  if (width == 0) return "";
  return std::string(text.substr(0, prefix_bytes(text, width - 1))) + std::string(kEllipsis);
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != columns_.size())
    fail("table row has {} cells for {} columns", cells.size(), columns_.size());
  rows_.push_back(std::move(cells));
}

std::vector<std::string> Table::headers() const {
  std::vector<std::string> headers;
  for (const auto& column : columns_) headers.push_back(column.header);
  return headers;
}

std::vector<size_t> Table::column_widths(size_t max_width) const {
  std::vector<size_t> widths;
  for (size_t c = 0; c < columns_.size(); ++c) {
    size_t width = display_width(columns_[c].header);
    for (const auto& row : rows_) width = std::max(width, display_width(row[c]));
    widths.push_back(width);
  }
  if (max_width == 0) return widths;
  size_t total = kSeparator.size() * (widths.empty() ? 0 : widths.size() - 1);
  for (size_t width : widths) total += width;
  // Take one column at a time from the widest truncatable column that is wider than its header
  // (and than "x…"), until the table fits or none is left.
  while (total > max_width) {
    size_t widest = columns_.size();
    for (size_t c = 0; c < columns_.size(); ++c) {
      const size_t floor = std::max<size_t>(2, display_width(columns_[c].header));
      if (columns_[c].truncatable && widths[c] > floor &&
          (widest == columns_.size() || widths[c] > widths[widest]))
        widest = c;
    }
    if (widest == columns_.size()) break;
    --widths[widest];
    --total;
  }
  return widths;
}

std::string Table::render(size_t max_width) const {
  const std::vector<size_t> widths = column_widths(max_width);
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) line += kSeparator;
      append_padded(line, cells[c], widths[c], columns_[c].align, c + 1 == cells.size());
    }
    line = without_trailing_spaces(std::move(line));
    out += max_width > 0 ? truncate_to_width(line, max_width) : line;
    out += '\n';
  };
  emit(headers());
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string Table::render_tab_separated() const {
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) out += '\t';
      std::string cell = cells[c];
      std::replace_if(
          cell.begin(), cell.end(), [](char ch) { return ch == '\t' || ch == '\n'; }, ' ');
      out += cell;
    }
    out += '\n';
  };
  emit(headers());
  for (const auto& row : rows_) emit(row);
  return out;
}

}  // namespace gradpool::cli
