#include "worker/train/samples.h"

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace gradpool {

void validate_seq_len(int64_t seq_len) {
  if (seq_len < 2 || seq_len > std::numeric_limits<int32_t>::max())
    fail("seq_len must be between 2 and {} (one input and one target token at least), got {}",
         std::numeric_limits<int32_t>::max(), seq_len);
}

void Samples::gather(const std::vector<int64_t>& indices, int32_t* input_ids,
                     int32_t* labels) const {
  for (const int64_t i : indices) {
    if (i < 0 || i >= size()) fail("sample index {} out of range [0, {})", i, size());
    const int32_t* ids = this->input_ids(i);
    std::copy(ids, ids + seq_len_, input_ids);
    std::fill(labels, labels + seq_len_, kIgnoreLabel);
    const LabelRange range = label_ranges_[i];
    std::copy(ids + range.begin, ids + range.end, labels + range.begin);
    input_ids += seq_len_;
    labels += seq_len_;
  }
}

SampleBuilder::SampleBuilder(int64_t seq_len, int32_t eos_id) : eos_id_(eos_id), samples_(seq_len) {
  validate_seq_len(seq_len);
  tail_.reserve(seq_len);
}

void SampleBuilder::add_text(const std::vector<int32_t>& ids) {
  const bool ends_with_eos = !ids.empty() && ids.back() == eos_id_;
  ++stats_.documents;
  stats_.tokens += static_cast<int64_t>(ids.size()) + (ends_with_eos ? 0 : 1);
  const auto push = [&](int32_t id) {
    tail_.push_back(id);
    if (static_cast<int64_t>(tail_.size()) == samples_.seq_len_) {
      append_sample(tail_, {0, static_cast<int32_t>(tail_.size())});
      tail_.clear();
    }
  };
  for (const int32_t id : ids) push(id);
  if (!ends_with_eos) push(eos_id_);
}

bool SampleBuilder::add_example(const std::vector<int32_t>& prompt,
                                const std::vector<int32_t>& completion) {
  const bool ends_with_eos = !completion.empty() && completion.back() == eos_id_;
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  const int64_t length =
      prompt_length + static_cast<int64_t>(completion.size()) + (ends_with_eos ? 0 : 1);
  const int64_t seq_len = samples_.seq_len_;
  ++stats_.documents;
  stats_.tokens += length;
  if (prompt_length >= seq_len) {
    ++stats_.skipped;
    stats_.dropped_tokens += length;
    return false;
  }
  if (length > seq_len) {
    ++stats_.truncated;
    stats_.dropped_tokens += length - seq_len;
  }
  std::vector<int32_t> sample(prompt);
  sample.reserve(seq_len);
  sample.insert(sample.end(), completion.begin(),
                completion.begin() + std::min<int64_t>(completion.size(), seq_len - prompt_length));
  if (!ends_with_eos && static_cast<int64_t>(sample.size()) < seq_len) sample.push_back(eos_id_);
  append_sample(sample, {static_cast<int32_t>(prompt_length), static_cast<int32_t>(sample.size())});
  return true;
}

Samples SampleBuilder::finish() {
  if (!tail_.empty()) {
    if (samples_.size() == 0) {
      append_sample(tail_, {0, static_cast<int32_t>(tail_.size())});
    } else {
      stats_.dropped_tokens += static_cast<int64_t>(tail_.size());
    }
    tail_.clear();
  }
  stats_.samples = samples_.size();
  // The buffer grew by doubling; the samples live for the whole job, so give back the slack.
  samples_.ids_.shrink_to_fit();
  return std::move(samples_);
}

void SampleBuilder::append_sample(const std::vector<int32_t>& ids, LabelRange labels) {
  samples_.ids_.insert(samples_.ids_.end(), ids.begin(), ids.end());
  samples_.ids_.resize(samples_.ids_.size() + (samples_.seq_len_ - ids.size()), eos_id_);
  samples_.label_ranges_.push_back(labels);
  stats_.label_tokens += labels.end - labels.begin;
}

}  // namespace gradpool
