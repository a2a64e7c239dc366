// The sample order that data-parallel ranks share (worker/train/sample_order.h), sliced the way the
// trainer slices it: every rank holds its own SampleOrder, takes each global batch and keeps the
// `share` indices after those of the ranks below it. These tests prove, without processes, that
// every sample of every epoch is trained on exactly once — by exactly one rank — whatever the
// world size, the split, or a change of either at a checkpoint in the middle of an epoch.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "worker/train/sample_order.h"

namespace gradpool {
namespace {

// One rank's copy of the order and its share of each global batch.
struct Rank {
  SampleOrder order;
  int64_t offset;  // Σ shares of the ranks below
  int64_t share;
};

// Every index handed out, tagged with who trained it.
struct Use {
  int64_t sample;
  int rank;
  int64_t step;
};

// Ranks with these shares of each global batch, all starting at `cursor`.
std::vector<Rank> make_ranks(int64_t num_samples, uint64_t seed, const std::vector<int64_t>& shares,
                             DataCursor cursor = {}) {
  std::vector<Rank> ranks;
  int64_t offset = 0;
  for (const int64_t share : shares) {
    ranks.push_back({SampleOrder(num_samples, seed, cursor), offset, share});
    offset += share;
  }
  return ranks;
}

// Runs `steps` steps: each rank draws the global batch from its own order and keeps its slice.
// Checks at every step that all ranks drew the same batch and that their slices tile it.
void run_steps(std::vector<Rank>& ranks, int64_t steps, int64_t& step, std::vector<Use>& uses) {
  int64_t global = 0;
  for (const Rank& rank : ranks) global += rank.share;
  for (int64_t i = 0; i < steps; ++i, ++step) {
    std::vector<int64_t> tiled;
    std::vector<int64_t> first_batch;
    for (size_t r = 0; r < ranks.size(); ++r) {
      const std::vector<int64_t> batch = ranks[r].order.next_global_batch(global);
      ASSERT_EQ(static_cast<int64_t>(batch.size()), global);
      if (r == 0) first_batch = batch;
      ASSERT_EQ(batch, first_batch) << "rank " << r << " drew another batch at step " << step;
      for (int64_t k = ranks[r].offset; k < ranks[r].offset + ranks[r].share; ++k) {
        tiled.push_back(batch[k]);
        uses.push_back({batch[k], static_cast<int>(r), step});
      }
    }
    ASSERT_EQ(tiled, first_batch) << "the slices do not tile the global batch at step " << step;
    for (size_t r = 1; r < ranks.size(); ++r)
      ASSERT_EQ(ranks[r].order.cursor(), ranks[0].order.cursor());
  }
}

// Cuts the stream of uses into epochs of num_samples and checks that each complete epoch uses
// every sample exactly once; the stream must also be exactly the epoch permutations, in order.
void expect_each_epoch_covered(const std::vector<Use>& uses, int64_t num_samples, uint64_t seed) {
  const int64_t epochs = static_cast<int64_t>(uses.size()) / num_samples;
  ASSERT_GE(epochs, 1) << "not even one complete epoch";
  for (int64_t e = 0; e <= epochs; ++e) {
    const std::vector<int64_t> permutation = epoch_permutation(num_samples, seed, e);
    std::vector<int> count(num_samples, 0);
    for (int64_t k = 0; k < num_samples; ++k) {
      const size_t at = static_cast<size_t>(e * num_samples + k);
      if (at >= uses.size()) break;  // the incomplete last epoch: its prefix is still checked
      ASSERT_EQ(uses[at].sample, permutation[k])
          << "epoch " << e << ", position " << k << " (rank " << uses[at].rank << ", step "
          << uses[at].step << ")";
      ++count[uses[at].sample];
    }
    if (e == epochs) break;
    for (int64_t s = 0; s < num_samples; ++s)
      EXPECT_EQ(count[s], 1) << "sample " << s << " in epoch " << e;
  }
}

TEST(DataParallelOrder, EpochPermutationIsAPermutationAndDependsOnSeedAndEpoch) {
  for (const int64_t n : {1, 2, 7, 64, 1000}) {
    std::vector<int64_t> sorted = epoch_permutation(n, 3, 0);
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> identity(n);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(sorted, identity) << n;
  }
  EXPECT_NE(epoch_permutation(64, 3, 0), epoch_permutation(64, 3, 1));
  EXPECT_NE(epoch_permutation(64, 3, 0), epoch_permutation(64, 4, 0));
  EXPECT_EQ(epoch_permutation(64, 3, 5), epoch_permutation(64, 3, 5));
}

// Even and uneven splits, a rank with a share of 0, a dataset that is not a multiple of the
// global batch (batches straddle epochs) and one smaller than the global batch (a batch spans
// three epochs).
TEST(DataParallelOrder, EverySampleOfEachEpochGoesToExactlyOneRank) {
  struct Case {
    int64_t samples;
    std::vector<int64_t> shares;
  };
  const std::vector<Case> cases = {
      {24, {4}},       {24, {2, 2}},    {24, {3, 1}},   {37, {3, 2, 2, 1}},
      {37, {0, 5, 3}}, {101, {16, 16}}, {3, {4, 3, 1}}, {1, {1, 1}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << c.samples << " samples, shares " << ::testing::PrintToString(c.shares));
    const uint64_t seed = 11;
    std::vector<Rank> ranks = make_ranks(c.samples, seed, c.shares);
    const int64_t global = std::accumulate(c.shares.begin(), c.shares.end(), int64_t{0});
    const int64_t steps = (3 * c.samples + global - 1) / global;  // three epochs and a bit
    std::vector<Use> uses;
    int64_t step = 0;
    run_steps(ranks, steps, step, uses);
    // `uses` holds every rank's slices, so "once per epoch" also means "by one rank only". (A
    // batch that spans an epoch boundary may hold a sample twice: once from each epoch.)
    expect_each_epoch_covered(uses, c.samples, seed);
  }
}

// A job checkpointed in the middle of an epoch resumes with another world size and split: the
// samples it trains on are exactly those the uninterrupted run would have — none repeated, none
// skipped — because the cursor counts global samples.
TEST(DataParallelOrder, WorldSizeChangeMidEpochNeitherRepeatsNorSkips) {
  const int64_t samples = 37, global = 8;
  const uint64_t seed = 5;
  struct Leg {
    std::vector<int64_t> shares;
    int64_t steps;
  };
  const std::vector<std::vector<Leg>> plans = {
      {{{8}, 3}, {{4, 4}, 5}, {{8}, 7}},               // 1 → 2 → 1 rank
      {{{4, 4}, 2}, {{3, 3, 2}, 4}, {{5, 3}, 3}},      // 2 → 3 → 2 ranks, uneven
      {{{1, 7}, 1}, {{2, 2, 2, 2}, 9}, {{0, 8}, 5}},   // cut right after one step
      {{{6, 2}, 4}, {{8}, 1}, {{1, 1, 1, 1, 4}, 10}},  // 5 ranks
  };
  for (size_t p = 0; p < plans.size(); ++p) {
    SCOPED_TRACE(::testing::Message() << "plan " << p);
    std::vector<Use> uses;
    int64_t step = 0, total_steps = 0;
    DataCursor cursor;
    for (const Leg& leg : plans[p]) {
      // What a checkpoint stores and a resumed rank reads back.
      const nlohmann::json saved = cursor_to_json(cursor);
      std::vector<Rank> ranks =
          make_ranks(samples, seed, leg.shares, cursor_from_json(saved, "checkpoint"));
      run_steps(ranks, leg.steps, step, uses);
      cursor = ranks[0].order.cursor();
      total_steps += leg.steps;
    }
    // The uninterrupted single-rank run over the same steps.
    SampleOrder alone(samples, seed);
    std::vector<int64_t> expected;
    for (int64_t s = 0; s < total_steps; ++s) {
      const std::vector<int64_t> batch = alone.next_global_batch(global);
      expected.insert(expected.end(), batch.begin(), batch.end());
    }
    std::vector<int64_t> got;
    for (const Use& use : uses) got.push_back(use.sample);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(cursor, alone.cursor());
    expect_each_epoch_covered(uses, samples, seed);
  }
}

// The cursor of a resumed order is where the interrupted one stopped, including at the exact end
// of an epoch (normalized to the next epoch's start).
TEST(DataParallelOrder, CursorCountsGlobalSamples) {
  SampleOrder order(12, 1);
  order.next_global_batch(5);
  EXPECT_EQ(order.cursor(), (DataCursor{0, 5}));
  order.next_global_batch(7);
  EXPECT_EQ(order.cursor(), (DataCursor{1, 0}));
  order.next_global_batch(30);
  EXPECT_EQ(order.cursor(), (DataCursor{3, 6}));
}

}  // namespace
}  // namespace gradpool
