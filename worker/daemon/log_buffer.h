// What a worker does with a rank's output on its way to the coordinator: LineSplitter cuts each
// stream (stdout, stderr, the report fd) into lines; LogBuffer keeps the lines not yet delivered
// in a heartbeat, bounded, so that a chatty rank or an unreachable coordinator cannot exhaust
// the worker's memory. Neither is thread-safe; the rank's supervisor owns them under its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

namespace gradpool {

class LineSplitter {
 public:
  using LineFn = std::function<void(std::string_view line)>;  // without the '\n'

  LineSplitter() = default;
  // Longer lines are cut into pieces of `max_line` bytes.
  explicit LineSplitter(size_t max_line) : max_line_(max_line > 0 ? max_line : 1) {}

  // Calls `on_line` for every line completed by `bytes`; keeps the unfinished rest.
  void feed(std::string_view bytes, const LineFn& on_line);
  // The stream ended: an unfinished last line is a line too.
  void finish(const LineFn& on_line);

 private:
  std::string partial_;
  size_t max_line_ = 64 << 10;
  bool just_cut_ = false;  // the last line was cut at max_line_, not ended by a newline
};

class LogBuffer {
 public:
  // Beyond `capacity` bytes the oldest lines are dropped; what is read next starts with
  // "[... N bytes dropped]".
  explicit LogBuffer(size_t capacity = 1 << 20) : capacity_(capacity) {}

  void add_line(std::string_view line);  // stored with a '\n'

  // How far a pending() text reaches.
  struct Mark {
    uint64_t end = 0;      // sequence number after its last line
    uint64_t dropped = 0;  // bytes its marker announced
  };
  // Lines waiting for delivery as one text (with the drop marker first, if any).
  std::string pending(Mark* mark) const;

  // The text of `sent` was delivered: forget its lines and its marker, but keep the lines (and
  // drops) that came after it.
  void consume(const Mark& sent);

  size_t bytes() const { return bytes_; }

 private:
  std::deque<std::string> lines_;
  uint64_t first_ = 0;  // sequence number of lines_.front()
  size_t bytes_ = 0;    // in lines_
  uint64_t dropped_ = 0;
  size_t capacity_;
};

}  // namespace gradpool
