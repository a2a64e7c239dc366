// Timeline: a Chrome trace of one rank's training phases (gradpool-train --timeline FILE), for
// chrome://tracing or https://ui.perfetto.dev. The file is the JSON array format: complete ("X")
// events with ts/dur in microseconds, pid = the rank, tid = a lane per phase, and metadata events
// naming the process ("rank R") and each lane. Timestamps are wall-clock microseconds since the
// Unix epoch (measured with a steady clock from one wall-clock origin), so the traces of the
// ranks of a job line up when their arrays are concatenated into one.
//
// Events stream to the file as they are recorded, each flushed whole; the array is closed by
// close() or the destructor, so a killed process leaves an unterminated array, which the trace
// format allows and both viewers load. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gradpool::metrics {

// The phases of a training step, in the lane order the viewer shows them.
namespace phase {
inline constexpr std::string_view kStep = "step";
inline constexpr std::string_view kDataWait = "data_wait";
inline constexpr std::string_view kForward = "forward";
inline constexpr std::string_view kBackward = "backward";
inline constexpr std::string_view kAllReduce = "allreduce";
inline constexpr std::string_view kOptimizer = "optimizer";
inline constexpr std::string_view kCheckpoint = "checkpoint";
}  // namespace phase

class Timeline {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates `path` and names the process "rank R". Error naming the path when it cannot.
  Timeline(const std::filesystem::path& path, int rank);
  ~Timeline();  // close(); a failure is logged, not thrown
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // `name` ran from `start` to `end`, on the lane of its name (the phases above first, others
  // after them as they appear). `args` (a JSON object, e.g. {"step": 12}) shows with the event.
  void record(std::string_view name, Clock::time_point start, Clock::time_point end,
              const nlohmann::json& args = nullptr);

  // Records `name` from its making until end() or its destruction.
  class Span {
   public:
    Span(Span&& other) noexcept;
    Span& operator=(Span&&) = delete;
    ~Span() { end(); }
    void end();

   private:
    friend class Timeline;
    Span(Timeline* timeline, std::string_view name, nlohmann::json args);

    Timeline* timeline_;
    std::string name_;
    nlohmann::json args_;
    Clock::time_point start_;
  };
  [[nodiscard]] Span span(std::string_view name, nlohmann::json args = nullptr);

  // Ends the array and closes the file; Error naming it when a write failed. Events recorded
  // after close() are dropped.
  void close();

 private:
  int lane_of(std::string_view name);  // its tid; a new lane gets its metadata written first
  void write(const nlohmann::json& event);
  int64_t epoch_us(Clock::time_point time) const;

  std::mutex mutex_;
  std::filesystem::path path_;
  std::ofstream out_;
  int pid_;
  bool empty_ = true;  // no event written yet: the next one needs no separator
  std::map<std::string, int, std::less<>> lanes_;
  int other_lanes_ = 0;  // lanes of names that are not phases
  Clock::time_point steady_origin_;
  int64_t epoch_origin_us_;
};

}  // namespace gradpool::metrics
