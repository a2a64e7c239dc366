#include "worker/train/sample_order.h"

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace gradpool {
namespace {

// The splitmix64 output function: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64: small, fast, and fully specified, so the stream is the same on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}

  uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }

  // Uniform in [0, bound), bound >= 1. Rejects the low 2^64 mod bound values so that every
  // residue is equally likely (a plain `next() % bound` favours small values).
  uint64_t uniform(uint64_t bound) {
    const uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

 private:
  uint64_t state_;
};

int64_t non_negative_field(const nlohmann::json& json, const char* name, const std::string& where) {
  const auto it = json.find(name);
  if (it == json.end()) fail("{}: missing field '{}'", where, name);
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    fail("{}: field '{}' must be a non-negative integer, got {}", where, name, it->dump());
  return it->get<int64_t>();
}

}  // namespace

nlohmann::json cursor_to_json(const DataCursor& cursor) {
  return {{"epoch", cursor.epoch}, {"position", cursor.position}};
}

DataCursor cursor_from_json(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object()) fail("{}: expected an object {{\"epoch\", \"position\"}}", where);
  return {non_negative_field(json, "epoch", where), non_negative_field(json, "position", where)};
}

std::vector<int64_t> epoch_permutation(int64_t num_samples, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> permutation(num_samples);
  std::iota(permutation.begin(), permutation.end(), 0);
  // Each epoch gets its own stream. Mixing the epoch before combining keeps the streams of
  // neighbouring epochs (and seeds) unrelated, rather than shifted copies of one sequence.
  SplitMix64 rng(mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 0x632be59bd9b4e019ULL)));
  for (int64_t i = num_samples - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(i) + 1));
    std::swap(permutation[i], permutation[j]);
  }
  return permutation;
}

SampleOrder::SampleOrder(int64_t num_samples, uint64_t seed, DataCursor start)
    : num_samples_(num_samples), seed_(seed), cursor_(start) {
  if (num_samples < 1) fail("sample order: the dataset has no samples");
  if (start.epoch < 0 || start.position < 0 || start.position >= num_samples)
    fail(
        "data cursor {{epoch {}, position {}}} does not fit a dataset of {} samples "
        "(was the dataset or seq_len changed since the checkpoint?)",
        start.epoch, start.position, num_samples);
}

std::vector<int64_t> SampleOrder::next_global_batch(int64_t n) {
  if (n < 1) fail("sample order: a global batch needs at least 1 sample, got {}", n);
  std::vector<int64_t> batch;
  batch.reserve(n);
  while (static_cast<int64_t>(batch.size()) < n) {
    if (permutation_epoch_ != cursor_.epoch) {
      permutation_ = epoch_permutation(num_samples_, seed_, cursor_.epoch);
      permutation_epoch_ = cursor_.epoch;
    }
    const int64_t take =
        std::min(n - static_cast<int64_t>(batch.size()), num_samples_ - cursor_.position);
    const auto first = permutation_.begin() + cursor_.position;
    batch.insert(batch.end(), first, first + take);
    cursor_.position += take;
    if (cursor_.position == num_samples_) cursor_ = {cursor_.epoch + 1, 0};
  }
  return batch;
}

}  // namespace gradpool
