// Samples: fixed-length training sequences, and SampleBuilder, which makes them from token ids.
//
// Storage is compact: one flat int32 buffer of input ids [size × seq_len] plus, per sample, the
// half-open range of positions that carry a loss label. Every label is either the input id at its
// position or -100 (no loss), so the range describes the labels completely. Labels are NOT shifted:
// the model shifts them (position t predicts t + 1), as Hugging Face does.
//
// This layer knows nothing of text or tokenizers, so packing and masking are tested on plain ids.
#pragma once

#include <cstdint>
#include <vector>

namespace gradpool {

constexpr int32_t kIgnoreLabel = -100;  // PyTorch cross_entropy's ignore_index

// Throws Error naming the job-spec field unless 2 <= seq_len <= 2^31 - 1: a sample needs one input
// and one target after the model's shift, and positions are stored as int32.
void validate_seq_len(int64_t seq_len);

// Counts reported by dataset loading, for logs and the job's progress.
struct DatasetStats {
  int64_t documents = 0;       // records read: text documents or prompt/completion examples
  int64_t tokens = 0;          // tokens of those records, BOS/EOS included, before cutting
  int64_t samples = 0;         // fixed-length samples built
  int64_t label_tokens = 0;    // positions whose label is not -100 (before the model's shift)
  int64_t truncated = 0;       // examples cut to seq_len but kept
  int64_t skipped = 0;         // examples dropped: the prompt fills seq_len, no completion fits
  int64_t dropped_tokens = 0;  // tokens in no sample: truncated, skipped, or the packed tail
};

// Positions [begin, end) of a sample have labels; the others are -100.
struct LabelRange {
  int32_t begin;
  int32_t end;
};

// Immutable once built; safe to read from several threads.
class Samples {
 public:
  int64_t seq_len() const { return seq_len_; }
  int64_t size() const { return static_cast<int64_t>(label_ranges_.size()); }

  // The seq_len input ids of sample i.
  const int32_t* input_ids(int64_t i) const { return ids_.data() + i * seq_len_; }
  LabelRange label_range(int64_t i) const { return label_ranges_[i]; }

  // Writes the samples `indices` as row-major [indices.size(), seq_len] input ids and labels,
  // e.g. straight into a micro-batch's tensors. Throws Error on an index out of range.
  void gather(const std::vector<int64_t>& indices, int32_t* input_ids, int32_t* labels) const;

 private:
  friend class SampleBuilder;
  explicit Samples(int64_t seq_len) : seq_len_(seq_len) {}

  int64_t seq_len_;
  std::vector<int32_t> ids_;
  std::vector<LabelRange> label_ranges_;
};

// Builds Samples of seq_len tokens. Feed it one kind of record (add_text for the text format,
// add_example for prompt_completion), then call finish() once. Padding uses eos_id with label -100;
// right padding needs no attention mask under causal attention, as real tokens never see it.
class SampleBuilder {
 public:
  // Throws Error on a bad seq_len (see validate_seq_len).
  SampleBuilder(int64_t seq_len, int32_t eos_id);

  // Text (causal LM): appends a document's ids, then EOS unless they already end with it, to one
  // stream that is cut into samples of exactly seq_len, every position labelled. Documents are
  // packed back to back (attention crosses their boundary, as in HF's run_clm group_texts).
  void add_text(const std::vector<int32_t>& ids);

  // Prompt/completion: one sample of prompt + completion + EOS (unless the completion already
  // ends with it), labels only on completion and EOS, cut to seq_len keeping the prompt's start,
  // right-padded. Returns false, and counts the example as skipped, if the prompt alone fills
  // seq_len so that no completion token would be learned.
  bool add_example(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion);

  // The samples. The unfinished tail of the text stream is dropped, unless no sample exists at
  // all: then it becomes one padded sample, so that a tiny dataset still trains.
  Samples finish();

  const DatasetStats& stats() const { return stats_; }

 private:
  // Appends `ids` (at most seq_len) right-padded with EOS.
  void append_sample(const std::vector<int32_t>& ids, LabelRange labels);

  int32_t eos_id_;
  Samples samples_;
  std::vector<int32_t> tail_;  // text stream not yet cut into a sample (< seq_len ids)
  DatasetStats stats_;
};

}  // namespace gradpool
