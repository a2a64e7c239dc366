#include "worker/daemon/progress_tracker.h"

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace gradpool {
namespace {

std::optional<double> number(const nlohmann::json& event, const char* key) {
  const auto found = event.find(key);
  if (found == event.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

std::optional<int64_t> integer(const nlohmann::json& event, const char* key) {
  const auto found = event.find(key);
  if (found == event.end() || !found->is_number_integer()) return std::nullopt;
  return found->get<int64_t>();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool ProgressTracker::apply(std::string_view line) {
  const auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object() || !event.contains("event") || !event["event"].is_string()) return false;
  const std::string kind = event["event"];
  const auto step = integer(event, "step");
  if (kind == "start" || kind == "done") {
    if (step) progress_.set_step(*step);
    if (const auto total = integer(event, "total_steps")) progress_.set_total_steps(*total);
  } else if (kind == "step") {
    if (step) progress_.set_step(*step);
    if (const auto total = integer(event, "total_steps")) progress_.set_total_steps(*total);
    if (const auto loss = number(event, "loss")) progress_.set_loss(*loss);
    if (const auto lr = number(event, "lr")) progress_.set_learning_rate(*lr);
    if (const auto norm = number(event, "grad_norm")) progress_.set_grad_norm(*norm);
    const int64_t tokens = integer(event, "tokens").value_or(0);
    progress_.set_tokens(progress_.tokens() + tokens);
    const double seconds = number(event, "step_s").value_or(0);
    if (seconds > 0) {
      recent_.push_back({tokens, seconds});
      if (recent_.size() > kRateWindow) recent_.pop_front();
      int64_t window_tokens = 0;
      double window_seconds = 0;
      for (const TimedTokens& s : recent_) window_tokens += s.tokens, window_seconds += s.seconds;
      progress_.set_tokens_per_second(window_tokens / window_seconds);
    }
  } else if (kind == "checkpoint") {
    if (step) progress_.set_checkpoint_step(*step);
  } else {
    return false;
  }
  progress_.set_updated_ms(now_ms());
  return true;
}

}  // namespace gradpool
