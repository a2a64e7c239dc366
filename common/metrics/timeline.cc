#include "common/metrics/timeline.h"

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/error.h"

namespace gradpool::metrics {
namespace {

constexpr std::array<std::string_view, 7> kPhaseLanes = {
    phase::kStep,      phase::kDataWait,  phase::kForward,   phase::kBackward,
    phase::kAllReduce, phase::kOptimizer, phase::kCheckpoint};

nlohmann::json metadata(std::string_view name, int pid, int tid, nlohmann::json args) {
  return {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

}  // namespace

Timeline::Timeline(const std::filesystem::path& path, int rank)
    : path_(path),
      out_(path, std::ios::trunc),
      pid_(rank),
      steady_origin_(Clock::now()),
      epoch_origin_us_(std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count()) {
  if (!out_) fail("--timeline {}: cannot create the file", path.string());
  out_ << "[\n";
  write(metadata("process_name", pid_, 0, {{"name", "rank " + std::to_string(rank)}}));
  write(metadata("process_sort_index", pid_, 0, {{"sort_index", rank}}));
}

Timeline::~Timeline() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::warn("{}", e.what());
  }
}

void Timeline::record(std::string_view name, Clock::time_point start, Clock::time_point end,
                      const nlohmann::json& args) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!out_.is_open()) return;
  const int64_t ts = epoch_us(start);
  nlohmann::json event = {{"name", name},
                          {"cat", "train"},
                          {"ph", "X"},
                          {"pid", pid_},
                          {"tid", lane_of(name)},
                          {"ts", ts},
                          {"dur", std::max<int64_t>(0, epoch_us(end) - ts)}};
  if (!args.is_null()) event["args"] = args;
  write(event);
}

Timeline::Span Timeline::span(std::string_view name, nlohmann::json args) {
  return Span(this, name, std::move(args));
}

void Timeline::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!out_.is_open()) return;
  out_ << "\n]\n";
  out_.close();
  if (out_.fail()) fail("--timeline {}: writing the trace failed (disk full?)", path_.string());
}

int Timeline::lane_of(std::string_view name) {
  const auto found = lanes_.find(name);
  if (found != lanes_.end()) return found->second;
  // The phases keep their order in the viewer whichever runs first; other names follow them.
  const auto known = std::find(kPhaseLanes.begin(), kPhaseLanes.end(), name);
  const int tid = known != kPhaseLanes.end()
                      ? static_cast<int>(known - kPhaseLanes.begin()) + 1
                      : static_cast<int>(kPhaseLanes.size()) + 1 + other_lanes_++;
  lanes_.emplace(std::string(name), tid);
  write(metadata("thread_name", pid_, tid, {{"name", name}}));
  write(metadata("thread_sort_index", pid_, tid, {{"sort_index", tid}}));
  return tid;
}

void Timeline::write(const nlohmann::json& event) {
  if (!empty_) out_ << ",\n";
  out_ << event.dump();
  out_.flush();  // whole events on disk: a killed rank's trace still loads
  empty_ = false;
}

int64_t Timeline::epoch_us(Clock::time_point time) const {
  return epoch_origin_us_ +
         std::chrono::floor<std::chrono::microseconds>(time - steady_origin_).count();
}

Timeline::Span::Span(Timeline* timeline, std::string_view name, nlohmann::json args)
    : timeline_(timeline), name_(name), args_(std::move(args)), start_(Clock::now()) {}

Timeline::Span::Span(Span&& other) noexcept
    : timeline_(std::exchange(other.timeline_, nullptr)),
      name_(std::move(other.name_)),
      args_(std::move(other.args_)),
      start_(other.start_) {}

void Timeline::Span::end() {
  if (timeline_ == nullptr) return;
  Timeline* timeline = std::exchange(timeline_, nullptr);
  timeline->record(name_, start_, Clock::now(), args_);
}

}  // namespace gradpool::metrics
