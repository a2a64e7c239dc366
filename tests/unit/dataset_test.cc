// The training data pipeline: packing and masking on plain ids, the deterministic sample order and
// its cursor, JSONL reading and its error messages, text import, and end to end with the golden
// tokenizers.
#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"
#include "worker/train/dataset.h"
#include "worker/train/sample_order.h"
#include "worker/train/samples.h"
#include "worker/train/text_import.h"
#include "worker/train/tokenizer.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;
constexpr int32_t kEos = 99;
constexpr int32_t kNo = kIgnoreLabel;

struct Row {
  Ids ids;
  Ids labels;
};

Row row(const Samples& samples, int64_t i) {
  Row r{Ids(samples.seq_len()), Ids(samples.seq_len())};
  samples.gather({i}, r.ids.data(), r.labels.data());
  return r;
}

// The message of the Error `f` throws; fails the test if it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected gradpool::Error";
  return "";
}

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

std::string write(const fs::path& path, const std::string& contents) {
  write_file_atomic(path.string(), contents);
  return path.string();
}

// --- SampleBuilder: packing, masking, truncation ----------------------------------------------

TEST(SampleBuilder, TextPacksDocumentsWithEosAndDropsTheTail) {
  SampleBuilder builder(4, kEos);
  builder.add_text({1, 2, 3});
  builder.add_text({4, 5});
  builder.add_text({6, 7, 8, 9});
  builder.add_text({10});  // stream ends "10 EOS": a tail of 2, dropped
  const Samples samples = builder.finish();
  ASSERT_EQ(samples.size(), 3);
  const std::vector<Ids> expected = {{1, 2, 3, kEos}, {4, 5, kEos, 6}, {7, 8, 9, kEos}};
  for (int64_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(row(samples, i).ids, expected[i]) << i;
    EXPECT_EQ(row(samples, i).labels, expected[i]) << i;  // loss on every token, unshifted
  }
  const DatasetStats& stats = builder.stats();
  EXPECT_EQ(stats.documents, 4);
  EXPECT_EQ(stats.tokens, 14);
  EXPECT_EQ(stats.samples, 3);
  EXPECT_EQ(stats.label_tokens, 12);
  EXPECT_EQ(stats.dropped_tokens, 2);
}

TEST(SampleBuilder, TextDocumentEndingInEosGetsNoSecondOne) {
  SampleBuilder builder(3, kEos);
  builder.add_text({1, kEos});
  builder.add_text({2, 3, kEos});
  builder.add_text({});  // an empty document is just its EOS
  const Samples samples = builder.finish();
  ASSERT_EQ(samples.size(), 2);
  EXPECT_EQ(row(samples, 0).ids, (Ids{1, kEos, 2}));
  EXPECT_EQ(row(samples, 1).ids, (Ids{3, kEos, kEos}));
  EXPECT_EQ(builder.stats().tokens, 6);
}

TEST(SampleBuilder, TextShorterThanOneSampleIsPadded) {
  SampleBuilder builder(8, kEos);
  builder.add_text({1, 2, 3});
  const Samples samples = builder.finish();
  ASSERT_EQ(samples.size(), 1);
  EXPECT_EQ(row(samples, 0).ids, (Ids{1, 2, 3, kEos, kEos, kEos, kEos, kEos}));
  EXPECT_EQ(row(samples, 0).labels, (Ids{1, 2, 3, kEos, kNo, kNo, kNo, kNo}));
  EXPECT_EQ(builder.stats().dropped_tokens, 0);
  EXPECT_EQ(builder.stats().label_tokens, 4);
}

TEST(SampleBuilder, PromptCompletionLearnsOnlyCompletionAndEos) {
  SampleBuilder builder(8, kEos);
  EXPECT_TRUE(builder.add_example({1, 2}, {3, 4}));
  EXPECT_TRUE(builder.add_example({5}, {6, kEos}));  // already ends with EOS: not doubled
  const Samples samples = builder.finish();
  ASSERT_EQ(samples.size(), 2);
  EXPECT_EQ(row(samples, 0).ids, (Ids{1, 2, 3, 4, kEos, kEos, kEos, kEos}));
  EXPECT_EQ(row(samples, 0).labels, (Ids{kNo, kNo, 3, 4, kEos, kNo, kNo, kNo}));
  EXPECT_EQ(row(samples, 1).labels, (Ids{kNo, 6, kEos, kNo, kNo, kNo, kNo, kNo}));
  EXPECT_EQ(samples.label_range(0).begin, 2);
  EXPECT_EQ(samples.label_range(0).end, 5);
  EXPECT_EQ(builder.stats().label_tokens, 5);
  EXPECT_EQ(builder.stats().truncated, 0);
}

TEST(SampleBuilder, PromptCompletionIsTruncatedKeepingThePromptStart) {
  SampleBuilder builder(4, kEos);
  EXPECT_TRUE(builder.add_example({1, 2}, {3, 4, 5}));  // 6 tokens with EOS
  EXPECT_TRUE(builder.add_example({1, 2, 3}, {4}));     // only the EOS is cut
  const Samples samples = builder.finish();
  ASSERT_EQ(samples.size(), 2);
  EXPECT_EQ(row(samples, 0).ids, (Ids{1, 2, 3, 4}));
  EXPECT_EQ(row(samples, 0).labels, (Ids{kNo, kNo, 3, 4}));
  EXPECT_EQ(row(samples, 1).labels, (Ids{kNo, kNo, kNo, 4}));
  EXPECT_EQ(builder.stats().truncated, 2);
  EXPECT_EQ(builder.stats().dropped_tokens, 3);
}

TEST(SampleBuilder, ExampleWhosePromptFillsSeqLenIsSkippedAndCounted) {
  SampleBuilder builder(4, kEos);
  EXPECT_FALSE(builder.add_example({1, 2, 3, 4}, {5}));
  EXPECT_FALSE(builder.add_example({1, 2, 3, 4, 5, 6}, {7}));
  EXPECT_TRUE(builder.add_example({1}, {2}));
  const Samples samples = builder.finish();
  EXPECT_EQ(samples.size(), 1);
  EXPECT_EQ(builder.stats().skipped, 2);
  EXPECT_EQ(builder.stats().documents, 3);
  EXPECT_EQ(builder.stats().dropped_tokens, 6 + 8);  // prompt + completion + EOS
}

TEST(SampleBuilder, RejectsSeqLenBelowTwo) {
  expect_mentions(error_of([] { SampleBuilder(1, kEos); }), {"seq_len", "got 1"});
  expect_mentions(error_of([] { validate_seq_len(0); }), {"seq_len"});
  EXPECT_NO_THROW(validate_seq_len(2));
}

TEST(Samples, GatherWritesRowsInIndexOrderAndChecksIndices) {
  SampleBuilder builder(2, kEos);
  builder.add_text({1, 2, 3});  // 1 2 | 3 EOS
  const Samples samples = builder.finish();
  Ids ids(4), labels(4);
  samples.gather({1, 0}, ids.data(), labels.data());
  EXPECT_EQ(ids, (Ids{3, kEos, 1, 2}));
  EXPECT_EQ(labels, ids);
  expect_mentions(error_of([&] { samples.gather({2}, ids.data(), labels.data()); }),
                  {"sample index 2"});
}

// --- SampleOrder and DataCursor -----------------------------------------------------------------

bool is_permutation_of_range(std::vector<int64_t> indices, int64_t n) {
  std::vector<int64_t> range(n);
  std::iota(range.begin(), range.end(), 0);
  std::sort(indices.begin(), indices.end());
  return indices == range;
}

TEST(SampleOrder, EachEpochIsAPermutation) {
  for (const int64_t n : {1, 2, 7, 1000})
    for (int64_t epoch = 0; epoch < 3; ++epoch)
      EXPECT_TRUE(is_permutation_of_range(epoch_permutation(n, 17, epoch), n)) << n << " " << epoch;
}

TEST(SampleOrder, IsAPureFunctionOfSeedAndEpoch) {
  EXPECT_EQ(epoch_permutation(100, 1, 0), epoch_permutation(100, 1, 0));
  EXPECT_NE(epoch_permutation(100, 1, 0), epoch_permutation(100, 2, 0));
  EXPECT_NE(epoch_permutation(100, 1, 0), epoch_permutation(100, 1, 1));
  EXPECT_NE(epoch_permutation(100, 1, 1), epoch_permutation(100, 1, 2));
}

// Pinned (and checked against an independent Python transcription of splitmix64 + Fisher–Yates):
// checkpoints resume into this order, so it must not change between builds or platforms.
TEST(SampleOrder, MatchesThePinnedOrder) {
  EXPECT_EQ(epoch_permutation(10, 42, 0), (std::vector<int64_t>{9, 2, 3, 8, 0, 7, 1, 4, 6, 5}));
  EXPECT_EQ(epoch_permutation(10, 42, 1), (std::vector<int64_t>{3, 6, 4, 1, 2, 7, 5, 0, 8, 9}));
}

// Fisher–Yates with an unbiased draw gives all 3! orders equally often; an off-by-one (Sattolo's
// algorithm, or a modulo bias) would not.
TEST(SampleOrder, AllPermutationsAreEquallyLikely) {
  std::map<std::vector<int64_t>, int> counts;
  for (int64_t epoch = 0; epoch < 6000; ++epoch) ++counts[epoch_permutation(3, 5, epoch)];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) EXPECT_NEAR(count, 1000, 150);
}

TEST(SampleOrder, GlobalBatchesWrapIntoTheNextEpoch) {
  SampleOrder order(5, 9);
  const auto e0 = epoch_permutation(5, 9, 0), e1 = epoch_permutation(5, 9, 1);
  const auto e2 = epoch_permutation(5, 9, 2);
  const auto first = order.next_global_batch(3);
  EXPECT_EQ(first, std::vector<int64_t>(e0.begin(), e0.begin() + 3));
  EXPECT_EQ(order.cursor(), (DataCursor{0, 3}));
  const auto second = order.next_global_batch(3);  // two of epoch 0, one of epoch 1
  EXPECT_EQ(second, (std::vector<int64_t>{e0[3], e0[4], e1[0]}));
  EXPECT_EQ(order.cursor(), (DataCursor{1, 1}));
  order.next_global_batch(4);  // ends epoch 1 exactly
  EXPECT_EQ(order.cursor(), (DataCursor{2, 0}));
  const auto big = order.next_global_batch(12);  // larger than the dataset: spans 3 epochs
  std::vector<int64_t> expected(e2);
  for (const int64_t epoch : {3, 4}) {
    const auto more = epoch_permutation(5, 9, epoch);
    expected.insert(expected.end(), more.begin(), more.end());
  }
  expected.resize(12);
  EXPECT_EQ(big, expected);
  EXPECT_EQ(order.cursor(), (DataCursor{4, 2}));
}

// The sample stream depends only on how many samples were consumed: resuming from a serialized
// cursor, even with another global batch (world size, GPU mix), neither repeats nor skips one.
TEST(SampleOrder, ResumingFromACursorContinuesTheSameStream) {
  constexpr int64_t kSamples = 10;
  SampleOrder uninterrupted(kSamples, 3);
  std::vector<int64_t> expected;
  for (int i = 0; i < 9; ++i) {
    const auto batch = uninterrupted.next_global_batch(4);
    expected.insert(expected.end(), batch.begin(), batch.end());
  }

  std::vector<int64_t> resumed;
  SampleOrder before(kSamples, 3);
  for (int i = 0; i < 3; ++i) {  // 12 samples: stops mid epoch 1
    const auto batch = before.next_global_batch(4);
    resumed.insert(resumed.end(), batch.begin(), batch.end());
  }
  const std::string saved = cursor_to_json(before.cursor()).dump();
  const DataCursor cursor = cursor_from_json(nlohmann::json::parse(saved), "state.json");
  EXPECT_EQ(cursor, (DataCursor{1, 2}));
  SampleOrder after(kSamples, 3, cursor);
  for (int i = 0; i < 4; ++i) {  // another global batch: 4 × 6 = 24 samples
    const auto batch = after.next_global_batch(6);
    resumed.insert(resumed.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(resumed, expected);
}

TEST(DataCursor, RejectsMalformedJsonNamingTheField) {
  using nlohmann::json;
  expect_mentions(error_of([] { cursor_from_json(json::array(), "ckpt: data_cursor"); }),
                  {"ckpt: data_cursor", "object"});
  expect_mentions(error_of([] { cursor_from_json({{"epoch", 1}}, "c"); }), {"c:", "'position'"});
  expect_mentions(error_of([] {
                    cursor_from_json({{"epoch", -1}, {"position", 0}}, "c");
                  }),
                  {"'epoch'", "non-negative integer"});
  expect_mentions(error_of([] {
                    cursor_from_json({{"epoch", 0}, {"position", 1.5}}, "c");
                  }),
                  {"'position'"});
}

TEST(SampleOrder, RejectsACursorThatDoesNotFitTheDataset) {
  expect_mentions(error_of([] { SampleOrder(5, 0, {0, 5}); }), {"position 5", "5 samples"});
  expect_mentions(error_of([] { SampleOrder(0, 0); }), {"no samples"});
  SampleOrder order(5, 0);
  expect_mentions(error_of([&] { order.next_global_batch(0); }), {"at least 1"});
}

// --- JSONL reading
// --------------------------------------------------------------------------------

TEST(ReadJsonl, ReadsRecordsSkippingBlankLines) {
  const fs::path dir = testing::temp_dir("jsonl-read");
  const std::string text = write(dir / "t.jsonl",
                                 "{\"text\": \"a\"}\n\n   \n{\"text\": \"b\\nc\", \"id\": 7}\r\n"
                                 "{\"text\": \"\xc3\xa9\"}");  // no final newline
  std::vector<JsonlRecord> records;
  EXPECT_EQ(
      read_jsonl(text, DataFormat::kText, [&](const JsonlRecord& r) { records.push_back(r); }), 3);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].target, "a");
  EXPECT_EQ(records[1].line, 4);
  EXPECT_EQ(records[1].target, "b\nc");
  EXPECT_EQ(records[2].target, "\xc3\xa9");

  const std::string pc =
      write(dir / "pc.jsonl", "{\"prompt\": \"Q: 1+1?\", \"completion\": \" 2\"}\n");
  records.clear();
  read_jsonl(pc, DataFormat::kPromptCompletion,
             [&](const JsonlRecord& r) { records.push_back(r); });
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].prompt, "Q: 1+1?");
  EXPECT_EQ(records[0].target, " 2");
}

TEST(ReadJsonl, ErrorsNameTheFileAndLine) {
  const fs::path dir = testing::temp_dir("jsonl-errors");
  const auto error_in = [&](const std::string& name, const std::string& contents,
                            DataFormat format) {
    const std::string path = write(dir / name, contents);
    return error_of([&] { read_jsonl(path, format, [](const JsonlRecord&) {}); });
  };
  const std::string ok = "{\"text\": \"fine\"}\n";
  const std::string pc_ok = "{\"prompt\": \"p\", \"completion\": \"c\"}\n";
  expect_mentions(error_in("bad.jsonl", ok + "{\"text\": \"unterminated}\n", DataFormat::kText),
                  {"bad.jsonl:2:", "invalid JSON"});
  expect_mentions(error_in("array.jsonl", ok + "\n[1, 2]\n", DataFormat::kText),
                  {"array.jsonl:3:", "JSON object", "array"});
  expect_mentions(error_in("missing.jsonl", ok + "{\"txt\": \"x\"}\n", DataFormat::kText),
                  {"missing.jsonl:2:", "missing field \"text\""});
  expect_mentions(error_in("number.jsonl", "{\"text\": 5}\n", DataFormat::kText),
                  {"number.jsonl:1:", "\"text\" must be a string", "number"});
  expect_mentions(error_in("noprompt.jsonl", pc_ok + "{\"completion\": \"c\"}\n",
                           DataFormat::kPromptCompletion),
                  {"noprompt.jsonl:2:", "missing field \"prompt\""});
  expect_mentions(
      error_in("nullcompl.jsonl", pc_ok + pc_ok + "{\"prompt\": \"p\", \"completion\": null}",
               DataFormat::kPromptCompletion),
      {"nullcompl.jsonl:3:", "\"completion\" must be a string"});
  expect_mentions(error_in("empty.jsonl", "\n  \n", DataFormat::kText),
                  {"empty.jsonl:", "empty dataset"});
  const std::string absent = (dir / "absent.jsonl").string();
  expect_mentions(
      error_of([&] { read_jsonl(absent, DataFormat::kText, [](const JsonlRecord&) {}); }),
      {absent, "cannot open"});
}

// --- Text import
// ----------------------------------------------------------------------------------

std::vector<std::string> texts_of(const std::string& jsonl) {
  std::vector<std::string> texts;
  read_jsonl(jsonl, DataFormat::kText, [&](const JsonlRecord& r) { texts.push_back(r.target); });
  return texts;
}

TEST(TextImport, SplitsRecordsAtSeparatorLinesAndDropsEmptyOnes) {
  const fs::path dir = testing::temp_dir("text-import");
  const std::string a =
      write(dir / "a", "%\nFirst line\n  second \"quoted\"\n%\n%\n \n%\r\nCRLF\r\n");
  const std::string b = write(dir / "b", "tab\there\n%\nbad \xff byte\n%");
  const std::string out = (dir / "out.jsonl").string();
  const TextImportStats stats = convert_text_records_to_jsonl({a, b}, "%", out);
  EXPECT_EQ(stats.records, 4);
  EXPECT_EQ(stats.empty_dropped, 1);  // " ": "%\n%" has no line, so no record at all
  const std::vector<std::string> expected = {"First line\n  second \"quoted\"", "CRLF", "tab\there",
                                             "bad \xef\xbf\xbd byte"};
  EXPECT_EQ(texts_of(out), expected);
}

TEST(TextImport, FailsWithoutRecordsAndLeavesTheOldOutput) {
  const fs::path dir = testing::temp_dir("text-import-errors");
  const std::string out = write(dir / "out.jsonl", "{\"text\": \"old\"}\n");
  const std::string blank = write(dir / "blank", "%\n\n%\n");
  expect_mentions(error_of([&] { convert_text_records_to_jsonl({blank}, "%", out); }),
                  {out, "no non-empty records"});
  EXPECT_EQ(read_file(out), "{\"text\": \"old\"}\n");
  const std::string absent = (dir / "absent").string();
  expect_mentions(error_of([&] { convert_text_records_to_jsonl({absent}, "%", out); }),
                  {absent, "cannot open"});
}

TEST(TextImport, ConvertsTheInstalledFortunes) {
  const fs::path fortunes = "/usr/share/games/fortunes";
  std::vector<std::string> inputs;
  if (fs::is_directory(fortunes))
    for (const auto& entry : fs::directory_iterator(fortunes)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && !entry.is_symlink() && ext != ".dat" && ext != ".u8")
        inputs.push_back(entry.path().string());
    }
  if (inputs.empty()) GTEST_SKIP() << "the fortunes package is not installed";
  std::sort(inputs.begin(), inputs.end());
  const std::string out = (testing::temp_dir("fortunes") / "fortunes.jsonl").string();
  const TextImportStats stats = convert_text_records_to_jsonl(inputs, "%", out);
  const std::vector<std::string> texts = texts_of(out);
  EXPECT_EQ(static_cast<int64_t>(texts.size()), stats.records);
  EXPECT_GT(stats.records, 1000);
  for (const auto& text : texts) {
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.find("\n%\n"), std::string::npos);
  }
}

// --- End to end with the golden tokenizers ------------------------------------------------------

Tokenizer golden_tokenizer(const std::string& name) {
  return Tokenizer::from_file((testing::golden_dir() / name / "model" / "tokenizer.json").string());
}

TEST(LoadJsonlDataset, TextPacksTokenizedDocumentsWithEos) {
  const Tokenizer tokenizer = golden_tokenizer("gpt2-tiny");
  const int32_t eos = *tokenizer.eos_id();
  const std::vector<std::string> docs = {"Hello, world!",
                                         "The quick brown fox jumps over the lazy dog.",
                                         "  leading spaces and\ttabs\n\nnew lines"};
  std::string jsonl;
  Ids stream;
  for (const auto& doc : docs) {
    jsonl += nlohmann::json{{"text", doc}}.dump() + "\n";
    const Ids ids = tokenizer.encode(doc, true);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(eos);
  }
  const std::string path = write(testing::temp_dir("load-text") / "d.jsonl", jsonl);
  constexpr int64_t kSeqLen = 8;
  const Dataset dataset = load_jsonl_dataset(path, DataFormat::kText, tokenizer, kSeqLen);
  const int64_t expected_samples = static_cast<int64_t>(stream.size()) / kSeqLen;
  ASSERT_GE(expected_samples, 2);
  ASSERT_EQ(dataset.samples.size(), expected_samples);
  for (int64_t i = 0; i < expected_samples; ++i) {
    const Ids chunk(stream.begin() + i * kSeqLen, stream.begin() + (i + 1) * kSeqLen);
    EXPECT_EQ(row(dataset.samples, i).ids, chunk) << i;
    EXPECT_EQ(row(dataset.samples, i).labels, chunk) << i;
  }
  EXPECT_EQ(dataset.stats.documents, 3);
  EXPECT_EQ(dataset.stats.tokens, static_cast<int64_t>(stream.size()));
  EXPECT_EQ(dataset.stats.dropped_tokens, static_cast<int64_t>(stream.size()) % kSeqLen);
}

TEST(LoadJsonlDataset, PromptCompletionMasksThePromptAndEndsWithEos) {
  for (const std::string name : {"llama-tiny", "llama-metaspace-tiny"}) {
    const Tokenizer tokenizer = golden_tokenizer(name);
    const int32_t eos = *tokenizer.eos_id();
    const std::string path =
        write(testing::temp_dir("load-pc") / "d.jsonl",
              "{\"prompt\": \"Q: what is two plus two?\", \"completion\": \" four\"}\n"
              "{\"prompt\": \"" +
                  std::string(400, 'x') + "\", \"completion\": \"y\"}\n");
    const Dataset dataset = load_jsonl_dataset(path, DataFormat::kPromptCompletion, tokenizer, 24);
    const Ids prompt = tokenizer.encode("Q: what is two plus two?", true);
    const Ids completion = tokenizer.encode(" four", false);
    ASSERT_LT(prompt.size() + completion.size() + 1, 24u) << name;
    ASSERT_EQ(dataset.samples.size(), 1) << name;  // the long prompt is skipped
    EXPECT_EQ(dataset.stats.skipped, 1) << name;
    const Row r = row(dataset.samples, 0);
    Ids expected_labels(prompt.size(), kNo);
    expected_labels.insert(expected_labels.end(), completion.begin(), completion.end());
    expected_labels.push_back(eos);
    expected_labels.resize(24, kNo);
    EXPECT_EQ(r.labels, expected_labels) << name;
    EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), r.ids.begin())) << name;
    EXPECT_EQ(r.ids[prompt.size() + completion.size()], eos) << name;
  }
}

TEST(LoadJsonlDataset, FailsWhenEveryExampleIsSkipped) {
  const Tokenizer tokenizer = golden_tokenizer("gpt2-tiny");
  const std::string path =
      write(testing::temp_dir("load-skip") / "long.jsonl",
            "\n{\"prompt\": \"" + std::string(200, 'z') + "\", \"completion\": \"c\"}\n");
  expect_mentions(
      error_of([&] { load_jsonl_dataset(path, DataFormat::kPromptCompletion, tokenizer, 4); }),
      {path, "no samples", "line 2"});
  expect_mentions(error_of([&] { load_jsonl_dataset(path, DataFormat::kText, tokenizer, 1); }),
                  {"seq_len"});
}

}  // namespace
}  // namespace gradpool
