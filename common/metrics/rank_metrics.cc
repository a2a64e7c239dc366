#include "common/metrics/rank_metrics.h"

#include <optional>

#include "common/error.h"

namespace gradpool::metrics {
namespace {

// Reads the fields of one event, checked before anything changes: absent and null are "not
// reported"; anything else must have the right type and range.
class EventReader {
 public:
  explicit EventReader(const nlohmann::json& event) : event_(event) {
    if (!event.is_object()) fail("rank report event {}: not a JSON object", event.dump());
    const auto kind = event.find("event");
    if (kind == event.end() || !kind->is_string())
      fail("rank report event {}: field 'event' must be a string", event.dump());
    kind_ = kind->get<std::string>();
  }

  const std::string& kind() const { return kind_; }

  std::optional<double> number(const char* key) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number())
      fail("rank report event '{}': field '{}' must be a number", kind_, key);
    return value->get<double>();
  }
  std::optional<double> seconds(const char* key) const {
    const auto value = number(key);
    if (value && *value < 0)
      fail("rank report event '{}': field '{}' must be >= 0, not {}", kind_, key, *value);
    return value;
  }
  std::optional<int64_t> count(const char* key) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer() || value->get<int64_t>() < 0)
      fail("rank report event '{}': field '{}' must be a whole number >= 0, not {}", kind_, key,
           value->dump());
    return value->get<int64_t>();
  }
  std::optional<bool> flag(const char* key) const {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean())
      fail("rank report event '{}': field '{}' must be true or false", kind_, key);
    return value->get<bool>();
  }

 private:
  const nlohmann::json* find(const char* key) const {
    const auto found = event_.find(key);
    return found == event_.end() || found->is_null() ? nullptr : &*found;
  }

  const nlohmann::json& event_;
  std::string kind_;
};

// One "step" event's figures, all read before any series changes.
struct StepFigures {
  explicit StepFigures(const EventReader& e)
      : step(e.count("step")),
        total_steps(e.count("total_steps")),
        local_tokens(e.count("local_tokens")),
        local_samples(e.count("local_samples")),
        loss(e.number("loss")),
        learning_rate(e.number("lr")),
        grad_norm(e.number("grad_norm")),
        step_seconds(e.seconds("step_s")),
        allreduce_seconds(e.seconds("allreduce_s")),
        mfu(e.number("mfu")),
        memory_allocated(e.count("gpu_memory_allocated_bytes")),
        memory_reserved(e.count("gpu_memory_reserved_bytes")),
        memory_peak(e.count("gpu_memory_peak_bytes")),
        skipped(e.flag("skipped")) {}

  std::optional<int64_t> step, total_steps, local_tokens, local_samples;
  std::optional<double> loss, learning_rate, grad_norm, step_seconds, allreduce_seconds, mfu;
  std::optional<int64_t> memory_allocated, memory_reserved, memory_peak;
  std::optional<bool> skipped;
};

template <typename Value>
void set_if(GaugeFamily& family, const prometheus::Labels& labels,
            const std::optional<Value>& value) {
  if (value) family.with(labels).Set(static_cast<double>(*value));
}

prometheus::Labels rank_labels(const std::string& job_id, int rank) {
  return {{"job_id", job_id}, {"rank", std::to_string(rank)}};
}

}  // namespace

RankMetrics::RankMetrics(prometheus::Registry& registry, Component component)
    : tokens_(registry, component, "gradpool_train_tokens_total"),
      samples_(registry, component, "gradpool_train_samples_total"),
      loss_scale_skips_(registry, component, "gradpool_train_loss_scale_skips_total"),
      step_seconds_(registry, component, "gradpool_train_step_seconds"),
      allreduce_seconds_(registry, component, "gradpool_train_allreduce_seconds"),
      checkpoint_seconds_(registry, component, "gradpool_train_checkpoint_seconds"),
      loss_(registry, component, "gradpool_train_loss"),
      learning_rate_(registry, component, "gradpool_train_learning_rate"),
      grad_norm_(registry, component, "gradpool_train_grad_norm"),
      tokens_per_second_(registry, component, "gradpool_train_tokens_per_second"),
      mfu_(registry, component, "gradpool_train_mfu_ratio"),
      memory_allocated_(registry, component, "gradpool_train_gpu_memory_allocated_bytes"),
      memory_reserved_(registry, component, "gradpool_train_gpu_memory_reserved_bytes"),
      memory_peak_(registry, component, "gradpool_train_gpu_memory_peak_bytes"),
      step_(registry, component, "gradpool_train_step"),
      total_steps_(registry, component, "gradpool_train_total_steps"),
      gpu_info_(registry, component, "gradpool_job_gpu_info") {}

void RankMetrics::apply(const std::string& job_id, int rank, const nlohmann::json& event) {
  if (rank < 0) fail("rank report event of job {}: rank {} is negative", job_id, rank);
  const EventReader reader(event);
  const prometheus::Labels labels = rank_labels(job_id, rank);
  std::lock_guard<std::mutex> lock(mutex_);
  if (reader.kind() == "start") {
    const auto step = reader.count("step");
    const auto total_steps = reader.count("total_steps");
    // Counters and histograms at zero from the start, so rate() sees the first steps too.
    create_series(labels);
    ranks_[{job_id, rank}].recent.clear();  // a new attempt's throughput starts afresh
    set_if(step_, labels, step);
    set_if(total_steps_, labels, total_steps);
  } else if (reader.kind() == "step") {
    const StepFigures figures(reader);
    RankState& state = ranks_[{job_id, rank}];
    if (figures.local_tokens) tokens_.with(labels).Increment(*figures.local_tokens);
    if (figures.local_samples) samples_.with(labels).Increment(*figures.local_samples);
    if (figures.skipped.value_or(false)) loss_scale_skips_.with(labels).Increment();
    if (figures.step_seconds) step_seconds_.with(labels).Observe(*figures.step_seconds);
    if (figures.allreduce_seconds)
      allreduce_seconds_.with(labels).Observe(*figures.allreduce_seconds);
    set_if(step_, labels, figures.step);
    set_if(total_steps_, labels, figures.total_steps);
    set_if(loss_, labels, figures.loss);
    set_if(learning_rate_, labels, figures.learning_rate);
    set_if(grad_norm_, labels, figures.grad_norm);
    set_if(mfu_, labels, figures.mfu);
    set_if(memory_allocated_, labels, figures.memory_allocated);
    set_if(memory_reserved_, labels, figures.memory_reserved);
    set_if(memory_peak_, labels, figures.memory_peak);
    if (figures.local_tokens && figures.step_seconds.value_or(0) > 0) {
      state.recent.push_back({*figures.local_tokens, *figures.step_seconds});
      if (state.recent.size() > kRateWindow) state.recent.pop_front();
      int64_t tokens = 0;
      double seconds = 0;
      for (const auto& step : state.recent) tokens += step.tokens, seconds += step.seconds;
      tokens_per_second_.with(labels).Set(static_cast<double>(tokens) / seconds);
    }
  } else if (reader.kind() == "checkpoint") {
    if (const auto seconds = reader.seconds("seconds"))
      checkpoint_seconds_.with(labels).Observe(*seconds);
  } else if (reader.kind() == "done") {
    set_if(step_, labels, reader.count("step"));
  } else {
    fail("rank report event '{}': unknown event (expected start, step, checkpoint or done)",
         reader.kind());
  }
}

void RankMetrics::set_placement(const std::string& job_id, int rank,
                                const RankPlacement& placement) {
  prometheus::Labels labels = rank_labels(job_id, rank);
  labels.insert({{"worker", placement.worker},
                 {"hostname", placement.hostname},
                 {"gpu_index", std::to_string(placement.gpu_index)},
                 {"gpu_name", placement.gpu_name},
                 {"UUID", placement.uuid}});
  std::lock_guard<std::mutex> lock(mutex_);
  RankState& state = ranks_[{job_id, rank}];
  if (!state.placement.empty()) gpu_info_.remove(state.placement);
  gpu_info_.with(labels).Set(1);
  state.placement = labels;
}

void RankMetrics::clear_placement(const std::string& job_id, int rank) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = ranks_.find({job_id, rank});
  if (found == ranks_.end() || found->second.placement.empty()) return;
  gpu_info_.remove(found->second.placement);
  found->second.placement.clear();
}

void RankMetrics::remove(const std::string& job_id, int rank) {
  const prometheus::Labels labels = rank_labels(job_id, rank);
  std::lock_guard<std::mutex> lock(mutex_);
  for (CounterFamily* family : {&tokens_, &samples_, &loss_scale_skips_}) family->remove(labels);
  for (HistogramFamily* family : {&step_seconds_, &allreduce_seconds_, &checkpoint_seconds_})
    family->remove(labels);
  for (GaugeFamily* family :
       {&loss_, &learning_rate_, &grad_norm_, &tokens_per_second_, &mfu_, &memory_allocated_,
        &memory_reserved_, &memory_peak_, &step_, &total_steps_})
    family->remove(labels);
  const auto found = ranks_.find({job_id, rank});
  if (found == ranks_.end()) return;
  if (!found->second.placement.empty()) gpu_info_.remove(found->second.placement);
  ranks_.erase(found);
}

void RankMetrics::create_series(const prometheus::Labels& labels) {
  for (CounterFamily* family : {&tokens_, &samples_, &loss_scale_skips_}) family->with(labels);
  for (HistogramFamily* family : {&step_seconds_, &allreduce_seconds_, &checkpoint_seconds_})
    family->with(labels);
}

}  // namespace gradpool::metrics
