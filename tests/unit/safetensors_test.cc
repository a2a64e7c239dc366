#include "common/safetensors.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// A small PEFT adapter written by the Python library: F32 tensors, metadata {"format": "pt"}.
const std::string kLoraA = "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight";
fs::path golden_adapter() {
  return testing::golden_dir() / "gpt2-tiny" / "adapter_init" / "adapter_model.safetensors";
}

// Calls `fn`, which must throw Error with every one of `parts` in its message.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no Error thrown; expected one mentioning " << parts[0];
  } catch (const Error& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << e.what() << "' does not mention '" << part << "'";
  }
}

void expect_open_error(const fs::path& path, std::vector<std::string> parts) {
  parts.insert(parts.begin(), path.string());
  expect_error([&] { SafetensorsFile::open(path.string()); }, parts);
}

// A safetensors file from raw pieces: the length prefix, `header` as given, then `data`.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(uint64_t{header.size()} >> (8 * i));
  return bytes + header + data;
}

// Writes to `dir` a copy of the golden adapter whose header `edit` has changed.
fs::path corrupt_copy(const fs::path& dir, const std::function<void(ordered_json&)>& edit) {
  const std::string bytes = read_file(golden_adapter().string());
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);  // test hosts are little-endian
  ordered_json header = ordered_json::parse(bytes.substr(8, header_size));
  edit(header);
  const fs::path path = dir / "corrupt.safetensors";
  write_file_atomic(path.string(), raw_file(header.dump(), bytes.substr(8 + header_size)));
  return path;
}

std::vector<TensorView> views_of(const SafetensorsFile& file) {
  std::vector<TensorView> views;
  for (const auto& [name, info] : file.tensors())
    views.push_back({name, info.dtype, info.shape, file.data(name)});
  return views;
}

TEST(SafetensorsTest, DTypeSizesAndNames) {
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I32), 4u);
  EXPECT_EQ(dtype_size(DType::BOOL), 1u);
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_STREQ(dtype_name(DType::U8), "U8");
}

TEST(SafetensorsTest, RoundTripsEveryDTypeScalarAndEmpty) {
  const fs::path dir = testing::temp_dir("safetensors-roundtrip");
  std::vector<uint8_t> pool(256);
  for (size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<uint8_t>(i * 7 + 1);
  const std::vector<TensorView> views = {
      {"f64", DType::F64, {2, 3}, pool.data()},    {"f32", DType::F32, {4}, pool.data()},
      {"f16", DType::F16, {3}, pool.data()},       {"bf16", DType::BF16, {2, 2}, pool.data()},
      {"scalar", DType::I64, {}, pool.data()},     {"empty", DType::I32, {0, 5}, nullptr},
      {"i16", DType::I16, {1, 1, 1}, pool.data()}, {"i8", DType::I8, {3}, pool.data()},
      {"u8", DType::U8, {5}, pool.data()},         {"mask", DType::BOOL, {4}, pool.data()},
  };
  const std::string path = (dir / "all.safetensors").string();
  write_safetensors(path, views, {{"format", "pt"}, {"step", "7"}});

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "7"}}));
  ASSERT_EQ(file.tensors().size(), views.size());
  for (const TensorView& view : views) {
    SCOPED_TRACE(view.name);
    const TensorInfo& info = file.info(view.name);
    EXPECT_EQ(info.dtype, view.dtype);
    EXPECT_EQ(info.shape, view.shape);
    const size_t bytes = static_cast<size_t>(info.numel()) * dtype_size(info.dtype);
    EXPECT_EQ(info.end - info.begin, bytes);
    EXPECT_EQ(std::memcmp(file.data(view.name), pool.data(), bytes), 0);
    // Widest dtypes first, so that every tensor is aligned to its element size in the mapping.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(file.data(view.name)) % dtype_size(info.dtype), 0u);
  }
  EXPECT_EQ(file.info("scalar").numel(), 1);
  EXPECT_EQ(file.info("empty").numel(), 0);
  EXPECT_EQ(file.info("scalar").begin, 0u);  // I64 sorts first, as in Python's save_file
  EXPECT_LT(file.info("f16").begin, file.info("i8").begin);

  const std::string bytes = read_file(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 16), "{\"__metadata__\":");
}

TEST(SafetensorsTest, EmptyFileMatchesPython) {
  const fs::path dir = testing::temp_dir("safetensors-empty");
  const std::string path = (dir / "empty.safetensors").string();
  write_safetensors(path, {});
  EXPECT_EQ(read_file(path), raw_file("{}      ", ""));
  EXPECT_TRUE(SafetensorsFile::open(path).tensors().empty());
}

// Every golden file was written by Python's safetensors; rewriting what we read must give the same
// bytes, which checks the reader (names, shapes, offsets, metadata) and the writer's layout at
// once.
TEST(SafetensorsTest, RewritesGoldenFilesByteForByte) {
  const fs::path dir = testing::temp_dir("safetensors-golden");
  int files = 0;
  for (const fs::path& golden : testing::golden_cases()) {
    for (const char* rel : {"model/model.safetensors", "adapter_init/adapter_model.safetensors",
                            "adapter_final/adapter_model.safetensors", "tensors.safetensors"}) {
      const fs::path original = golden / rel;
      SCOPED_TRACE(original.string());
      const SafetensorsFile file = SafetensorsFile::open(original.string());
      const std::string copy = (dir / "copy.safetensors").string();
      write_safetensors(copy, views_of(file), file.metadata());
      EXPECT_TRUE(read_file(copy) == read_file(original.string()));
      ++files;
    }
  }
  EXPECT_EQ(files, 12);
}

TEST(SafetensorsTest, ReadsGoldenTensors) {
  const fs::path llama = testing::golden_dir() / "llama-tiny";
  const SafetensorsFile batch = SafetensorsFile::open((llama / "tensors.safetensors").string());
  EXPECT_TRUE(batch.metadata().empty());
  const TensorInfo& ids = batch.info("input_ids");
  EXPECT_EQ(ids.dtype, DType::I64);
  EXPECT_EQ(ids.shape, (std::vector<int64_t>{4, 24}));
  int64_t first[2];
  std::memcpy(first, batch.data("input_ids"), sizeof(first));
  EXPECT_EQ(first[0], 586);
  EXPECT_EQ(first[1], 248);

  const SafetensorsFile model = SafetensorsFile::open((llama / "model/model.safetensors").string());
  EXPECT_EQ(model.tensors().size(), 21u);
  EXPECT_EQ(model.info("model.layers.0.self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{32, 64}));

  const SafetensorsFile adapter = SafetensorsFile::open(golden_adapter().string());
  EXPECT_EQ(adapter.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(adapter.info(kLoraA).shape, (std::vector<int64_t>{4, 64}));
  EXPECT_FALSE(adapter.contains("lm_head.weight"));
  expect_error([&] { adapter.info("lm_head.weight"); },
               {golden_adapter().string(), "lm_head.weight"});
}

TEST(SafetensorsTest, MovedFileKeepsItsMapping) {
  SafetensorsFile file = SafetensorsFile::open(golden_adapter().string());
  const uint8_t* data = file.data(kLoraA);
  const float first = *reinterpret_cast<const float*>(data);
  SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.data(kLoraA), data);
  EXPECT_EQ(*reinterpret_cast<const float*>(moved.data(kLoraA)), first);
  file = SafetensorsFile::open(golden_adapter().string());
  EXPECT_TRUE(file.contains(kLoraA));
}

TEST(SafetensorsTest, RejectsBadHeaderFraming) {
  const fs::path dir = testing::temp_dir("safetensors-framing");
  const fs::path path = dir / "bad.safetensors";
  write_file_atomic(path.string(), std::string(5, '\0'));
  expect_open_error(path, {"5 bytes", "too short"});

  std::string bytes = raw_file("{}", "");
  bytes[0] = 100;  // header length 100, file 10 bytes
  write_file_atomic(path.string(), bytes);
  expect_open_error(path, {"header length 100", "past the end"});

  bytes[0] = 0;
  bytes[3] = 7;  // 112 MiB
  write_file_atomic(path.string(), bytes);
  expect_open_error(path, {"exceeds"});

  write_file_atomic(path.string(), raw_file("{\"a\": ", ""));
  expect_open_error(path, {"not valid JSON"});

  write_file_atomic(path.string(), raw_file("[1, 2]  ", ""));
  expect_open_error(path, {"not a JSON object"});

  write_file_atomic(path.string(), raw_file(R"({"__metadata__": {"format": 1}})", ""));
  expect_open_error(path, {"__metadata__", "format"});

  expect_open_error(dir / "missing.safetensors", {"cannot open"});
}

TEST(SafetensorsTest, RejectsMissingEntryFields) {
  const fs::path dir = testing::temp_dir("safetensors-fields");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    SCOPED_TRACE(key);
    expect_open_error(corrupt_copy(dir, [&](ordered_json& h) { h[kLoraA].erase(key); }),
                      {kLoraA, key});
  }
  expect_open_error(corrupt_copy(dir, [](ordered_json& h) { h[kLoraA] = 3; }),
                    {kLoraA, "not a JSON object"});
}

// One corruption of the golden adapter's first tensor, and what the error must say.
struct Corruption {
  const char* what;
  std::function<void(ordered_json&)> edit;
  std::vector<std::string> message;
};

TEST(SafetensorsTest, RejectsInconsistentEntries) {
  const fs::path dir = testing::temp_dir("safetensors-entries");
  const std::string lora_b = "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight";
  const std::vector<Corruption> corruptions = {
      {"unknown dtype",
       [](ordered_json& h) { h[kLoraA]["dtype"] = "F8_E4M3"; },
       {"unsupported dtype", "F8_E4M3"}},
      {"negative dimension",
       [](ordered_json& h) {
         h[kLoraA]["shape"] = {-4, 64};
       },
       {"negative dimension"}},
      {"fractional dimension",
       [](ordered_json& h) {
         h[kLoraA]["shape"] = {4.5, 64};
       },
       {"not a list of integers"}},
      {"reversed offsets",
       [](ordered_json& h) {
         h[kLoraA]["data_offsets"] = {1024, 0};
       },
       {"reversed"}},
      {"offsets past data",
       [](ordered_json& h) {
         h[kLoraA]["data_offsets"] = {34000, 35024};
       },
       {"past the data section"}},
      {"huge offsets",
       [](ordered_json& h) {
         h[kLoraA]["data_offsets"] = {0, uint64_t(-1)};
       },
       {"past the data section"}},
      {"lying header",
       [](ordered_json& h) {
         h[kLoraA]["shape"] = {5, 64};
       },
       {"hold 1024 bytes", "needs 1280"}},
      {"numel overflow",
       [](ordered_json& h) {
         h[kLoraA]["shape"] = {uint64_t{1} << 62, uint64_t{1} << 62};
       },
       {"overflows"}},
      {"byte size overflow",
       [](ordered_json& h) { h[kLoraA]["shape"] = {uint64_t{1} << 62}; },
       {"overflows"}},
      {"dimension beyond int64",
       [](ordered_json& h) { h[kLoraA]["shape"] = {uint64_t(-1)}; },
       {"overflows"}},
      {"overlap",
       [&](ordered_json& h) {
         h[lora_b]["shape"] = {4, 64};
         h[lora_b]["data_offsets"] = {512, 1536};
       },
       {"overlaps"}},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(c.what);
    std::vector<std::string> message = c.message;
    message.push_back(c.what == std::string("overlap") ? lora_b : kLoraA);
    expect_open_error(corrupt_copy(dir, c.edit), message);
  }
}

TEST(SafetensorsTest, RejectsTruncatedData) {
  const fs::path dir = testing::temp_dir("safetensors-truncated");
  const std::string bytes = read_file(golden_adapter().string());
  const fs::path path = dir / "truncated.safetensors";
  write_file_atomic(path.string(), bytes.substr(0, bytes.size() - 4));
  expect_open_error(path, {"lora_B.weight", "past the data section"});
}

TEST(SafetensorsTest, WriterRejectsBadInput) {
  const fs::path dir = testing::temp_dir("safetensors-writer");
  const std::string path = (dir / "out.safetensors").string();
  float value = 1;
  expect_error(
      [&] {
        write_safetensors(path, {{"x", DType::F32, {}, &value}, {"x", DType::F32, {}, &value}});
      },
      {path, "'x' given twice"});
  expect_error(
      [&] {
        write_safetensors(path, {{"__metadata__", DType::F32, {}, &value}});
      },
      {path, "reserved"});
  expect_error(
      [&] {
        write_safetensors(path, {{"x", DType::F32, {2, -1}, &value}});
      },
      {path, "'x'", "negative"});
  EXPECT_FALSE(fs::exists(path));
}

// Splits the golden Llama checkpoint into two shards with an index, as save_pretrained does for
// large models.
class ShardedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("safetensors-sharded");
    const SafetensorsFile model = SafetensorsFile::open(
        (testing::golden_dir() / "llama-tiny" / "model" / "model.safetensors").string());
    const std::vector<TensorView> views = views_of(model);
    std::vector<TensorView> shards[2];
    for (size_t i = 0; i < views.size(); ++i) {
      const TensorView& view = views[i];
      shards[i < 10 ? 0 : 1].push_back(view);
      index_["weight_map"][view.name] = i < 10 ? kShard1 : kShard2;
      expected_[view.name].assign(static_cast<const char*>(view.data),
                                  model.info(view.name).end - model.info(view.name).begin);
    }
    write_safetensors(shard_path(1), shards[0], {{"format", "pt"}});
    write_safetensors(shard_path(2), shards[1], {{"format", "pt"}});
    index_["metadata"] = {{"total_size", 670976}};
    write_index();
  }

  std::string shard_path(int i) const { return (dir_ / (i == 1 ? kShard1 : kShard2)).string(); }
  std::string index_path() const { return (dir_ / "model.safetensors.index.json").string(); }
  void write_index() const { write_file_atomic(index_path(), index_.dump(2)); }

  static constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "model-00002-of-00002.safetensors";
  fs::path dir_;
  nlohmann::json index_;
  std::map<std::string, std::string> expected_;  // tensor name -> bytes
};

TEST_F(ShardedCheckpointTest, ReadsEveryTensorFromItsShard) {
  const CheckpointDir checkpoint = CheckpointDir::open(dir_.string());
  EXPECT_EQ(checkpoint.names().size(), expected_.size());
  for (const auto& [name, bytes] : expected_) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(checkpoint.contains(name));
    EXPECT_EQ(checkpoint.file_of(name).path(),
              shard_path(index_["weight_map"][name] == kShard1 ? 1 : 2));
    EXPECT_EQ(checkpoint.info(name).end - checkpoint.info(name).begin, bytes.size());
    EXPECT_EQ(std::memcmp(checkpoint.data(name), bytes.data(), bytes.size()), 0);
  }
  expect_error([&] { checkpoint.file_of("nope"); }, {dir_.string(), "nope"});
}

TEST_F(ShardedCheckpointTest, RejectsMissingShard) {
  index_["weight_map"]["model.norm.weight"] = "model-00003-of-00003.safetensors";
  write_index();
  expect_error(
      [&] { CheckpointDir::open(dir_.string()); },
      {index_path(), "model.norm.weight", "model-00003-of-00003.safetensors", "not exist"});
}

TEST_F(ShardedCheckpointTest, RejectsTensorTheShardLacks) {
  index_["weight_map"]["lm_head.weight"] = kShard2;
  write_index();
  expect_error([&] { CheckpointDir::open(dir_.string()); },
               {index_path(), "lm_head.weight", kShard2, "does not contain"});
}

TEST_F(ShardedCheckpointTest, RejectsShardOutsideTheDirectory) {
  index_["weight_map"]["lm_head.weight"] = std::string("../") + kShard1;
  write_index();
  expect_error([&] { CheckpointDir::open(dir_.string()); },
               {index_path(), "lm_head.weight", "not a plain file name"});
}

TEST_F(ShardedCheckpointTest, RejectsIndexWithoutWeightMap) {
  write_file_atomic(index_path(), R"({"metadata": {}})");
  expect_error([&] { CheckpointDir::open(dir_.string()); }, {index_path(), "weight_map"});
}

TEST(CheckpointDirTest, OpensSingleFileCheckpoint) {
  const fs::path dir = testing::golden_dir() / "gpt2-tiny" / "model";
  const CheckpointDir checkpoint = CheckpointDir::open(dir.string());
  EXPECT_EQ(checkpoint.names().size(), 28u);
  EXPECT_EQ(checkpoint.info("transformer.wte.weight").shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(checkpoint.file_of("transformer.wte.weight").path(),
            (dir / "model.safetensors").string());
}

TEST(CheckpointDirTest, RejectsDirectoryWithoutWeights) {
  const fs::path dir = testing::temp_dir("safetensors-noweights");
  expect_error([&] { CheckpointDir::open(dir.string()); }, {dir.string(), "no model.safetensors"});
}

}  // namespace
}  // namespace gradpool
