// Dataset uploads against a real gRPC server that implements Datasets.Upload and records what
// arrives: the header first (name, size, SHA-256, replace), then the file in order, in chunks.
#include "cli/upload.h"

#include <gtest/gtest.h>

#include <mutex>
#include <random>

#include "common/error.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "proto/channel.h"
#include "tests/test_util.h"

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;

// Records every message of each upload; answers with a Dataset made of what it saw, or with
// `refusal` right after the header.
class RecordingDatasets final : public v1::Datasets::Service {
 public:
  grpc::Status refusal = grpc::Status::OK;

  grpc::Status Upload(grpc::ServerContext* context, grpc::ServerReader<v1::UploadChunk>* reader,
                      v1::Dataset* response) override {
    std::lock_guard<std::mutex> lock(mutex_);
    token = bearer_token(*context);
    v1::UploadChunk message;
    while (reader->Read(&message)) {
      messages.push_back(message);
      if (messages.size() == 1 && !refusal.ok()) return refusal;
    }
    int64_t bytes = 0;
    for (const auto& chunk : messages) bytes += static_cast<int64_t>(chunk.data().size());
    response->set_name(messages.empty() ? "" : messages[0].header().name());
    response->set_size_bytes(bytes);
    response->set_records(static_cast<int64_t>(messages.size()));
    return grpc::Status::OK;
  }

  std::vector<v1::UploadChunk> messages;
  std::string token;

 private:
  std::mutex mutex_;
};

class CliUpload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = gradpool::testing::temp_dir("cli-upload");
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_GT(port_, 0);
    client_ = std::make_unique<Client>(
        Endpoint{"127.0.0.1:" + std::to_string(port_), "secret-token", ""}, 10);
  }
  void TearDown() override { server_->Shutdown(); }

  std::string write_random_file(const std::string& name, size_t size) {
    std::string bytes(size, '\0');
    std::mt19937 random(7);
    for (char& c : bytes) c = static_cast<char>(random());
    const std::string path = (dir_ / name).string();
    write_file_atomic(path, bytes);
    return path;
  }

  fs::path dir_;
  int port_ = 0;
  RecordingDatasets service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(CliUpload, SendsTheHeaderFirstThenTheFileInChunks) {
  const size_t size = 2 * kUploadChunkBytes + kUploadChunkBytes / 2;
  const std::string path = write_random_file("data.jsonl", size);
  UploadOptions options;
  options.name = "fortunes";
  options.path = path;
  options.replace = true;
  std::vector<std::pair<int64_t, int64_t>> progress;
  const v1::Dataset stored = upload_dataset(
      *client_, options, [&](int64_t sent, int64_t total) { progress.emplace_back(sent, total); });

  const std::string content = read_file(path);
  ASSERT_EQ(service_.messages.size(), 4u);
  const v1::UploadChunk& first = service_.messages[0];
  ASSERT_TRUE(first.has_header());
  EXPECT_EQ(first.header().name(), "fortunes");
  EXPECT_EQ(first.header().size_bytes(), static_cast<int64_t>(size));
  EXPECT_EQ(first.header().sha256(), sha256_hex(content));
  EXPECT_TRUE(first.header().replace());
  std::string received;
  std::vector<size_t> chunk_sizes;
  for (size_t i = 1; i < service_.messages.size(); ++i) {
    ASSERT_EQ(service_.messages[i].part_case(), v1::UploadChunk::kData);
    chunk_sizes.push_back(service_.messages[i].data().size());
    received += service_.messages[i].data();
  }
  EXPECT_EQ(chunk_sizes,
            (std::vector<size_t>{kUploadChunkBytes, kUploadChunkBytes, kUploadChunkBytes / 2}));
  EXPECT_TRUE(received == content);
  EXPECT_EQ(service_.token, "secret-token");
  EXPECT_EQ(stored.name(), "fortunes");  // the server's answer comes back
  EXPECT_EQ(stored.records(), 4);
  ASSERT_EQ(progress.size(), 4u);
  EXPECT_EQ(progress.front().first, 0);
  EXPECT_EQ(progress.front().second, static_cast<int64_t>(size));
  EXPECT_EQ(progress.back().first, static_cast<int64_t>(size));
}

TEST_F(CliUpload, ChunkSizeIsAnOption) {
  UploadOptions options;
  options.name = "small";
  options.path = write_random_file("small.jsonl", 10);
  options.chunk_bytes = 4;
  upload_dataset(*client_, options);
  ASSERT_EQ(service_.messages.size(), 4u);  // header, 4 + 4 + 2
  EXPECT_FALSE(service_.messages[0].header().replace());
  EXPECT_EQ(service_.messages[3].data().size(), 2u);
}

TEST_F(CliUpload, AnEmptyFileIsJustTheHeader) {
  UploadOptions options;
  options.name = "empty";
  options.path = write_random_file("empty.jsonl", 0);
  upload_dataset(*client_, options);
  ASSERT_EQ(service_.messages.size(), 1u);
  EXPECT_EQ(service_.messages[0].header().size_bytes(), 0);
  EXPECT_EQ(service_.messages[0].header().sha256(), sha256_hex(""));
}

TEST_F(CliUpload, ARefusalComesBackAsAnErrorWithItsStatus) {
  service_.refusal = grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "dataset fortunes exists");
  UploadOptions options;
  options.name = "fortunes";
  options.path = write_random_file("big.jsonl", 3 * kUploadChunkBytes);
  try {
    upload_dataset(*client_, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "ALREADY_EXISTS: dataset fortunes exists");
  }
  EXPECT_TRUE(service_.messages[0].has_header());
}

TEST_F(CliUpload, AMissingFileIsAnErrorNamingItAndSendsNothing) {
  UploadOptions options;
  options.name = "x";
  options.path = (dir_ / "nope.jsonl").string();
  try {
    upload_dataset(*client_, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(options.path), std::string::npos) << e.what();
  }
  EXPECT_TRUE(service_.messages.empty());
}

}  // namespace
}  // namespace gradpool::cli
