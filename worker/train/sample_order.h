// SampleOrder: the order in which training samples are visited, and the cursor that says how far
// a job got.
//
// Epoch e visits every sample exactly once, in a permutation of [0, num_samples) that is a pure
// function of (seed, e): Fisher–Yates driven by our own splitmix64, never std::shuffle or the std
// distributions, whose output differs between standard libraries. So every rank, on any machine,
// computes the same order without talking to the others.
//
// The cursor counts *global* samples consumed, not per-rank positions. Data-parallel ranks all hold
// the same SampleOrder, each call next_global_batch(global_batch) and take their own slice of it
// (rank r: the micro_batch_r × accum_r indices after those of ranks < r). A job resumed from a
// checkpoint's cursor with another world size or GPU mix therefore continues with exactly the
// samples the interrupted run had not reached: none repeated, none skipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace gradpool {

// Where the next sample comes from: sample `position` of epoch `epoch`'s permutation.
// Normalized so that 0 <= position < num_samples: finishing an epoch moves to {epoch + 1, 0}.
struct DataCursor {
  int64_t epoch = 0;
  int64_t position = 0;

  bool operator==(const DataCursor& other) const {
    return epoch == other.epoch && position == other.position;
  }
};

// {"epoch": e, "position": p}, the form stored in checkpoints.
nlohmann::json cursor_to_json(const DataCursor& cursor);
// Throws Error prefixed with `where` (e.g. "checkpoint/state.json: data_cursor") if a field is
// missing, not an integer or negative.
DataCursor cursor_from_json(const nlohmann::json& json, const std::string& where);

// The permutation of [0, num_samples) visited in `epoch`.
std::vector<int64_t> epoch_permutation(int64_t num_samples, uint64_t seed, int64_t epoch);

// Hands out sample indices in epoch order from a cursor. Holds the current epoch's permutation
// (8 bytes per sample); not thread-safe.
class SampleOrder {
 public:
  // Throws Error if num_samples < 1, or if `start` does not fit a dataset of num_samples samples
  // (which means the dataset changed since the checkpoint that stored it).
  SampleOrder(int64_t num_samples, uint64_t seed, DataCursor start = {});

  // The next n sample indices (n >= 1), continuing into the next epoch(s) where this one ends.
  std::vector<int64_t> next_global_batch(int64_t n);

  // The position of the next sample to hand out; store it to resume exactly here.
  const DataCursor& cursor() const { return cursor_; }
  int64_t num_samples() const { return num_samples_; }

 private:
  int64_t num_samples_;
  uint64_t seed_;
  DataCursor cursor_;
  int64_t permutation_epoch_ = -1;  // the epoch `permutation_` belongs to; -1: none yet
  std::vector<int64_t> permutation_;
};

}  // namespace gradpool
