// DatasetStore on a real SQLite file and a real directory: uploads are checked, sharded and
// committed whole, and every failure leaves no row and no file behind.
#include "coordinator/datasets/dataset_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/sha256.h"
#include "coordinator/rpc_error.h"
#include "proto/channel.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// `count` text records, one per line, each ending in '\n'.
std::string text_records(int count) {
  std::string content;
  for (int i = 0; i < count; ++i)
    content += "{\"text\": \"record " + std::to_string(i) + " \\u00e9\\n tail\"}\n";
  return content;
}

// What a call does, as the gRPC status it becomes in a handler.
grpc::Status status_of(const std::function<void()>& body) {
  return guarded([&] {
    body();
    return grpc::Status::OK;
  });
}

#define EXPECT_STATUS(body, code, text)                                                 \
  do {                                                                                  \
    const grpc::Status status_ = status_of([&] { body; });                              \
    EXPECT_EQ(status_.error_code(), grpc::StatusCode::code) << describe(status_);       \
    EXPECT_NE(status_.error_message().find(text), std::string::npos)                    \
        << "message: " << status_.error_message() << "\nexpected to contain: " << text; \
  } while (false)

struct UploadOptions {
  int64_t announced = -1;  // -1: the content's size
  std::string sha256;
  bool replace = false;
};

class DatasetStoreTest : public ::testing::Test {
 protected:
  static constexpr int64_t kMaxBytes = 1 << 20;
  static constexpr int64_t kShardRecords = 3;

  // Uploads `content` in 7-byte pieces, as a stream would deliver it.
  v1::Dataset upload(const std::string& name, const std::string& content, const Caller& owner,
                     const UploadOptions& options = {}) {
    v1::UploadHeader header;
    header.set_name(name);
    header.set_size_bytes(options.announced < 0 ? static_cast<int64_t>(content.size())
                                                : options.announced);
    header.set_sha256(options.sha256);
    header.set_replace(options.replace);
    std::unique_ptr<DatasetStore::Upload> upload = store_.begin_upload(header, owner);
    for (size_t at = 0; at < content.size(); at += 7)
      upload->append(std::string_view(content).substr(at, 7));
    return upload->finish();
  }

  // Every path under the dataset root, relative to it.
  std::set<std::string> files_in_root() const {
    std::set<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(root_))
      files.insert(fs::relative(entry.path(), root_).string());
    return files;
  }

  // Runs a failing upload and checks that it changed neither the table nor the files.
  void expect_upload_fails(const std::function<void()>& body, grpc::StatusCode code,
                           const std::string& text) {
    const std::set<std::string> files_before = files_in_root();
    const size_t rows_before = store_.list().size();
    const grpc::Status status = status_of(body);
    EXPECT_EQ(status.error_code(), code) << describe(status);
    EXPECT_NE(status.error_message().find(text), std::string::npos)
        << "message: " << status.error_message() << "\nexpected to contain: " << text;
    EXPECT_EQ(files_in_root(), files_before);
    EXPECT_EQ(store_.list().size(), rows_before);
  }

  fs::path dir_ = testing::temp_dir("dataset-store");
  fs::path root_ = dir_ / "datasets";
  Database db_{(dir_ / "coordinator.db").string()};
  DatasetStore store_{db_, root_.string(), {kMaxBytes, kShardRecords}};
  const Caller alice_{"alice", Role::kUser};
  const Caller bob_{"bob", Role::kUser};
  const Caller admin_{"root", Role::kAdmin};
};

TEST_F(DatasetStoreTest, GoodUploadIsShardedAndCommitted) {
  const std::string content = text_records(8);
  const v1::Dataset dataset = upload("fortunes", content, alice_);
  EXPECT_EQ(dataset.name(), "fortunes");
  EXPECT_EQ(dataset.owner(), "alice");
  EXPECT_EQ(dataset.size_bytes(), static_cast<int64_t>(content.size()));
  EXPECT_EQ(dataset.records(), 8);
  EXPECT_EQ(dataset.sha256(), sha256_hex(content));
  EXPECT_GT(dataset.created_ms(), 0);
  ASSERT_EQ(dataset.shards_size(), 3);

  std::string concatenated;
  for (const v1::ShardInfo& shard : dataset.shards()) {
    const std::string bytes =
        read_bytes(store_.shard_path("fortunes", dataset.sha256(), shard.index()));
    EXPECT_EQ(shard.sha256(), sha256_hex(bytes));
    EXPECT_EQ(shard.size_bytes(), static_cast<int64_t>(bytes.size()));
    EXPECT_EQ(shard.records(), shard.index() < 2 ? 3 : 2);
    concatenated += bytes;
  }
  EXPECT_EQ(concatenated, content);

  const std::optional<v1::Dataset> found = store_.find("fortunes");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->SerializeAsString(), dataset.SerializeAsString());
  ASSERT_EQ(store_.list().size(), 1u);
  // Only the shards stay: the temporary upload is gone.
  EXPECT_EQ(files_in_root(),
            (std::set<std::string>{dataset.sha256(), dataset.sha256() + "/shard-00000.jsonl",
                                   dataset.sha256() + "/shard-00001.jsonl",
                                   dataset.sha256() + "/shard-00002.jsonl"}));
}

TEST_F(DatasetStoreTest, PromptCompletionWithBlankLinesAndCrlf) {
  const std::string content =
      "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\r\n"
      "\n"
      "   \t\n"
      "{\"prompt\": \"3+3=\", \"completion\": \"6\", \"extra\": 1}\r\n"
      "{\"completion\": \"8\", \"prompt\": \"4+4=\"}";  // no final newline
  const v1::Dataset dataset = upload("sums", content, alice_);
  EXPECT_EQ(dataset.records(), 3);
  ASSERT_EQ(dataset.shards_size(), 1);
  // Records keep their bytes (the '\r' included); blank lines are dropped; each ends in '\n'.
  EXPECT_EQ(read_bytes(store_.shard_path("sums", dataset.sha256(), 0)),
            "{\"prompt\": \"2+2=\", \"completion\": \"4\"}\r\n"
            "{\"prompt\": \"3+3=\", \"completion\": \"6\", \"extra\": 1}\r\n"
            "{\"completion\": \"8\", \"prompt\": \"4+4=\"}\n");
}

TEST_F(DatasetStoreTest, AnnouncedSizeOverTheLimit) {
  expect_upload_fails(
      [&] {
        upload("big", "x", alice_, {2 * kMaxBytes, "", false});
      },
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      "dataset 'big': 2097152 bytes exceeds the limit of 1048576 "
      "(--max-dataset-bytes)");
  expect_upload_fails([&] { upload("empty", "", alice_); }, grpc::StatusCode::INVALID_ARGUMENT,
                      "dataset 'empty': size_bytes must be > 0, got 0");
}

TEST_F(DatasetStoreTest, MoreBytesThanAnnouncedStopsAtOnce) {
  const std::string content = text_records(2);
  v1::UploadHeader header;
  header.set_name("long");
  header.set_size_bytes(10);
  std::unique_ptr<DatasetStore::Upload> pending = store_.begin_upload(header, alice_);
  pending->append(content.substr(0, 10));
  EXPECT_STATUS(pending->append("x"), RESOURCE_EXHAUSTED,
                "dataset 'long': more than the announced 10 bytes arrived");
  EXPECT_FALSE(files_in_root().empty()) << "the upload streams into a temporary directory";
  pending.reset();
  EXPECT_TRUE(files_in_root().empty());
  EXPECT_TRUE(store_.list().empty());
}

TEST_F(DatasetStoreTest, FewerBytesThanAnnounced) {
  const std::string content = text_records(1);
  expect_upload_fails(
      [&] {
        upload("short", content, alice_, {static_cast<int64_t>(content.size()) + 5, "", false});
      },
      grpc::StatusCode::INVALID_ARGUMENT,
      fmt::format("dataset 'short': only {} of the announced {} bytes arrived", content.size(),
                  content.size() + 5));
}

TEST_F(DatasetStoreTest, BadContentNamesTheLine) {
  const std::string good = "{\"text\": \"a\"}\n";
  expect_upload_fails([&] { upload("bad", good + good + "{\"text\": oops}\n" + good, alice_); },
                      grpc::StatusCode::INVALID_ARGUMENT, "dataset 'bad' line 3: not JSON: ");
  expect_upload_fails([&] { upload("bad", good + "[1, 2]\n", alice_); },
                      grpc::StatusCode::INVALID_ARGUMENT,
                      "dataset 'bad' line 2: expected a JSON object, got array");
  expect_upload_fails([&] { upload("bad", good + "\n{\"text\": 5}\n", alice_); },
                      grpc::StatusCode::INVALID_ARGUMENT,
                      "dataset 'bad' line 3: expected a string field \"text\" or "
                      "\"prompt\"+\"completion\"");
  expect_upload_fails([&] { upload("bad", "{\"prompt\": \"only a prompt\"}\n", alice_); },
                      grpc::StatusCode::INVALID_ARGUMENT,
                      "dataset 'bad' line 1: expected a string field");
  expect_upload_fails([&] { upload("bad", "\n \n\n", alice_); }, grpc::StatusCode::INVALID_ARGUMENT,
                      "dataset 'bad': no records");
}

TEST_F(DatasetStoreTest, MixedFormatsAreRefused) {
  // Five records: the first shard (three records) is written before the mixed line is found.
  const std::string text = "{\"text\": \"a\"}\n";
  expect_upload_fails(
      [&] {
        upload("mixed", text + text + text + text + "{\"prompt\": \"p\", \"completion\": \"c\"}\n",
               alice_);
      },
      grpc::StatusCode::INVALID_ARGUMENT,
      "dataset 'mixed' line 5: a \"prompt\"+\"completion\" record, but line 1 is a \"text\" "
      "record");
}

TEST_F(DatasetStoreTest, BadNamesAreRefused) {
  for (const std::string& name :
       std::vector<std::string>{"", "../etc", "a/b", "..", "a b", std::string(65, 'n')})
    expect_upload_fails([&] { upload(name, text_records(1), alice_); },
                        grpc::StatusCode::INVALID_ARGUMENT, "dataset name '" + name + "'");
}

TEST_F(DatasetStoreTest, ChecksTheAnnouncedSha256) {
  const std::string content = text_records(2);
  expect_upload_fails(
      [&] {
        upload("sum", content, alice_, {-1, sha256_hex("other"), false});
      },
      grpc::StatusCode::INVALID_ARGUMENT,
      "dataset 'sum': sha256 mismatch: the header says " + sha256_hex("other"));
  expect_upload_fails(
      [&] {
        upload("sum", content, alice_, {-1, "abc", false});
      },
      grpc::StatusCode::INVALID_ARGUMENT, "dataset 'sum': sha256 must be 64 hex digits, got 'abc'");
  std::string upper = sha256_hex(content);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(upload("sum", content, alice_, {-1, upper, false}).sha256(), sha256_hex(content));
}

TEST_F(DatasetStoreTest, ExistingNameNeedsReplaceByOwnerOrAdmin) {
  const v1::Dataset first = upload("d", text_records(2), alice_);
  expect_upload_fails([&] { upload("d", text_records(4), alice_); },
                      grpc::StatusCode::ALREADY_EXISTS, "dataset 'd' already exists (owner alice)");
  expect_upload_fails(
      [&] {
        upload("d", text_records(4), bob_, {-1, "", true});
      },
      grpc::StatusCode::PERMISSION_DENIED,
      "dataset 'd' belongs to alice; only its owner or an admin may replace it");

  const v1::Dataset second = upload("d", text_records(4), alice_, {-1, "", true});
  EXPECT_EQ(second.records(), 4);
  EXPECT_EQ(store_.find("d")->sha256(), second.sha256());
  EXPECT_FALSE(fs::exists(root_ / first.sha256())) << "the replaced version's shards are removed";
  EXPECT_STATUS(store_.shard_path("d", first.sha256(), 0), NOT_FOUND, "no version");

  const v1::Dataset third = upload("d", text_records(5), admin_, {-1, "", true});
  EXPECT_EQ(third.owner(), "root");
  EXPECT_EQ(store_.list().size(), 1u);
}

TEST_F(DatasetStoreTest, ConcurrentUploadsOfOneNameCommitOnce) {
  v1::UploadHeader header;
  header.set_name("race");
  const std::string a = text_records(1), b = text_records(2);
  header.set_size_bytes(a.size());
  auto first = store_.begin_upload(header, alice_);
  header.set_size_bytes(b.size());
  auto second = store_.begin_upload(header, bob_);
  first->append(a);
  second->append(b);
  EXPECT_EQ(first->finish().owner(), "alice");
  EXPECT_STATUS(second->finish(), ALREADY_EXISTS, "dataset 'race' already exists");
  second.reset();
  EXPECT_EQ(store_.find("race")->records(), 1);
  EXPECT_EQ(files_in_root().size(), 2u);  // the sha directory and its one shard
}

TEST_F(DatasetStoreTest, SameContentSharesOneDirectory) {
  const std::string content = text_records(4);
  const v1::Dataset one = upload("one", content, alice_);
  const v1::Dataset two = upload("two", content, bob_);
  EXPECT_EQ(one.sha256(), two.sha256());
  EXPECT_EQ(two.shards_size(), one.shards_size());
  EXPECT_EQ(store_.shard_path("one", one.sha256(), 1), store_.shard_path("two", two.sha256(), 1));

  store_.remove("one", alice_);
  EXPECT_TRUE(fs::exists(store_.shard_path("two", two.sha256(), 1)));
  store_.remove("two", bob_);
  EXPECT_TRUE(files_in_root().empty());
}

TEST_F(DatasetStoreTest, RemoveByOwnerOrAdmin) {
  const v1::Dataset dataset = upload("d", text_records(2), alice_);
  EXPECT_STATUS(store_.remove("d", bob_), PERMISSION_DENIED,
                "dataset 'd' belongs to alice; only its owner or an admin may delete it");
  EXPECT_TRUE(store_.find("d"));
  EXPECT_EQ(store_.remove("d", alice_).sha256(), dataset.sha256());
  EXPECT_FALSE(store_.find("d"));
  EXPECT_TRUE(files_in_root().empty());
  EXPECT_STATUS(store_.remove("d", alice_), NOT_FOUND, "dataset 'd': no such dataset");

  upload("e", text_records(1), bob_);
  store_.remove("e", admin_);
  EXPECT_TRUE(store_.list().empty());
}

TEST_F(DatasetStoreTest, ShardPathNotFound) {
  const v1::Dataset dataset = upload("d", text_records(4), alice_);  // two shards
  EXPECT_NO_THROW(store_.shard_path("d", dataset.sha256(), 1));
  EXPECT_STATUS(store_.shard_path("nope", dataset.sha256(), 0), NOT_FOUND,
                "dataset 'nope': no such dataset");
  EXPECT_STATUS(store_.shard_path("d", sha256_hex("x"), 0), NOT_FOUND,
                "dataset 'd': no version " + sha256_hex("x"));
  EXPECT_STATUS(store_.shard_path("d", dataset.sha256(), 2), NOT_FOUND,
                "dataset 'd': no shard 2 (it has 2)");
  EXPECT_STATUS(store_.shard_path("d", dataset.sha256(), -1), NOT_FOUND, "no shard -1");
}

TEST_F(DatasetStoreTest, ReopeningKeepsDatasetsAndRemovesLeftovers) {
  const v1::Dataset kept = upload("kept", text_records(2), alice_);
  // What a crash can leave: an upload in progress, and shards renamed in before their commit.
  fs::create_directories(root_ / ".upload-9" / "shards");
  std::ofstream(root_ / ".upload-9" / "upload.jsonl") << "{}";
  const fs::path orphan = root_ / sha256_hex("orphan");
  fs::create_directories(orphan);
  std::ofstream(orphan / "shard-00000.jsonl") << "{}";

  DatasetStore reopened(db_, root_.string(), {kMaxBytes, kShardRecords});
  EXPECT_FALSE(fs::exists(root_ / ".upload-9"));
  EXPECT_FALSE(fs::exists(orphan));
  ASSERT_TRUE(reopened.find("kept"));
  EXPECT_EQ(read_bytes(reopened.shard_path("kept", kept.sha256(), 0)), text_records(2));
}

}  // namespace
}  // namespace gradpool
