#include "worker/daemon/log_buffer.h"

#include <algorithm>

#include <fmt/format.h>

namespace gradpool {

void LineSplitter::feed(std::string_view bytes, const LineFn& on_line) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const size_t take = std::min(newline == std::string_view::npos ? bytes.size() : newline,
                                 max_line_ - partial_.size());
    partial_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (take > 0) just_cut_ = false;
    if (!bytes.empty() && bytes.front() == '\n') {
      bytes.remove_prefix(1);
      // The newline that ends a line just cut at max_line_ makes no empty line of its own.
      if (!just_cut_) on_line(partial_);
      partial_.clear();
      just_cut_ = false;
    } else if (partial_.size() == max_line_) {
      on_line(partial_);
      partial_.clear();
      just_cut_ = true;
    }
  }
}

void LineSplitter::finish(const LineFn& on_line) {
  if (!partial_.empty()) on_line(partial_);
  partial_.clear();
}

void LogBuffer::add_line(std::string_view line) {
  const size_t size = line.size() + 1;
  if (size > capacity_) {  // never stored, so it takes no sequence number
    dropped_ += size;
    return;
  }
  while (bytes_ + size > capacity_) {
    dropped_ += lines_.front().size();
    bytes_ -= lines_.front().size();
    lines_.pop_front();
    ++first_;
  }
  lines_.emplace_back(line).push_back('\n');
  bytes_ += size;
}

std::string LogBuffer::pending(Mark* mark) const {
  std::string text;
  if (dropped_ > 0) text = fmt::format("[... {} bytes dropped]\n", dropped_);
  text.reserve(text.size() + bytes_);
  for (const std::string& line : lines_) text += line;
  *mark = {first_ + lines_.size(), dropped_};
  return text;
}

void LogBuffer::consume(const Mark& sent) {
  while (!lines_.empty() && first_ < sent.end) {
    bytes_ -= lines_.front().size();
    lines_.pop_front();
    ++first_;
  }
  first_ = std::max(first_, sent.end);
  dropped_ -= std::min(dropped_, sent.dropped);
}

}  // namespace gradpool
