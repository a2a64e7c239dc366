// The Datasets service end to end: a real gRPC server on loopback, real tokens, uploads streamed
// in chunks, shards fetched by a worker.
#include "coordinator/datasets/datasets_service.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "common/sha256.h"
#include "proto/channel.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

constexpr int64_t kShardRecords = 20000;

// `count` text records of about 100 bytes each.
std::string text_records(int count) {
  std::string content;
  for (int i = 0; i < count; ++i)
    content += fmt::format("{{\"text\": \"record {:06d} {}\"}}\n", i, std::string(70, 'x'));
  return content;
}

struct Fetched {
  grpc::Status status;
  std::string bytes;
  int chunks = 0;
  size_t largest_chunk = 0;
};

class DatasetsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(kMaxRpcMessageBytes);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
  }
  void TearDown() override { server_->Shutdown(); }

  std::unique_ptr<v1::Datasets::Stub> stub(const Endpoint& endpoint) {
    return v1::Datasets::NewStub(open_channel(endpoint));
  }
  Endpoint as(const std::string& token) {
    return {"127.0.0.1:" + std::to_string(port_), token, ""};
  }

  // Streams the header, then `content` in 64 KiB chunks.
  grpc::Status upload(const std::string& token, const v1::UploadHeader& header,
                      const std::string& content, v1::Dataset* dataset) {
    const Endpoint endpoint = as(token);
    auto context = make_context(endpoint, 30000);
    auto datasets = stub(endpoint);
    auto writer = datasets->Upload(context.get(), dataset);
    v1::UploadChunk chunk;
    *chunk.mutable_header() = header;
    bool open = writer->Write(chunk);
    for (size_t at = 0; open && at < content.size(); at += 64 << 10) {
      chunk.set_data(content.substr(at, 64 << 10));
      open = writer->Write(chunk);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status upload(const std::string& token, const std::string& name, const std::string& content,
                      v1::Dataset* dataset, bool replace = false) {
    v1::UploadHeader header;
    header.set_name(name);
    header.set_size_bytes(content.size());
    header.set_replace(replace);
    return upload(token, header, content, dataset);
  }

  Fetched fetch(const std::string& token, const std::string& dataset, const std::string& sha256,
                int index) {
    const Endpoint endpoint = as(token);
    auto context = make_context(endpoint, 30000);
    v1::FetchShardRequest request;
    request.set_dataset(dataset);
    request.set_sha256(sha256);
    request.set_index(index);
    auto datasets = stub(endpoint);
    auto reader = datasets->FetchShard(context.get(), request);
    Fetched fetched;
    v1::ShardChunk chunk;
    while (reader->Read(&chunk)) {
      fetched.bytes += chunk.data();
      fetched.largest_chunk = std::max(fetched.largest_chunk, chunk.data().size());
      ++fetched.chunks;
    }
    fetched.status = reader->Finish();
    return fetched;
  }

  grpc::Status get(const std::string& token, const std::string& name, v1::Dataset* dataset) {
    const Endpoint endpoint = as(token);
    v1::DatasetRef ref;
    ref.set_name(name);
    return stub(endpoint)->Get(make_context(endpoint, 10000).get(), ref, dataset);
  }

  grpc::Status remove(const std::string& token, const std::string& name, v1::Dataset* dataset) {
    const Endpoint endpoint = as(token);
    v1::DatasetRef ref;
    ref.set_name(name);
    return stub(endpoint)->Delete(make_context(endpoint, 10000).get(), ref, dataset);
  }

  grpc::Status list(const std::string& token, v1::ListDatasetsResponse* response) {
    const Endpoint endpoint = as(token);
    return stub(endpoint)->List(make_context(endpoint, 10000).get(), v1::ListDatasetsRequest(),
                                response);
  }

  void set_jobs_using(const std::string& dataset, std::vector<uint64_t> jobs) {
    std::lock_guard held(mutex_);
    jobs_using_[dataset] = std::move(jobs);
  }

  std::filesystem::path dir_ = testing::temp_dir("datasets-service");
  Database db_{(dir_ / "coordinator.db").string()};
  TokenStore tokens_{db_};
  Authorizer auth_{tokens_};
  DatasetStore store_{db_, (dir_ / "datasets").string(), {int64_t{8} << 20, kShardRecords}};
  std::mutex mutex_;
  std::map<std::string, std::vector<uint64_t>> jobs_using_;  // guarded by mutex_
  DatasetsService service_{store_, auth_, [this](const std::string& dataset) {
                             std::lock_guard held(mutex_);
                             return jobs_using_[dataset];
                           }};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;

  const std::string alice_ = tokens_.add("alice", Role::kUser);
  const std::string bob_ = tokens_.add("bob", Role::kUser);
  const std::string admin_ = tokens_.add("root", Role::kAdmin);
  const std::string worker_ = tokens_.add("node-1", Role::kWorker);
};

TEST_F(DatasetsServiceTest, UploadListGetAndFetchShards) {
  const std::string content = text_records(30000);  // ~3 MB: two shards, the first > 1 MiB
  v1::Dataset uploaded;
  grpc::Status status = upload(alice_, "big", content, &uploaded);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(uploaded.owner(), "alice");
  EXPECT_EQ(uploaded.records(), 30000);
  EXPECT_EQ(uploaded.sha256(), sha256_hex(content));
  ASSERT_EQ(uploaded.shards_size(), 2);

  v1::ListDatasetsResponse listed;
  ASSERT_TRUE(list(bob_, &listed).ok());
  ASSERT_EQ(listed.datasets_size(), 1);
  EXPECT_EQ(listed.datasets(0).name(), "big");
  v1::Dataset got;
  ASSERT_TRUE(get(bob_, "big", &got).ok());
  EXPECT_EQ(got.SerializeAsString(), uploaded.SerializeAsString());

  std::string concatenated;
  for (const v1::ShardInfo& shard : uploaded.shards()) {
    const Fetched fetched = fetch(worker_, "big", uploaded.sha256(), shard.index());
    ASSERT_TRUE(fetched.status.ok()) << describe(fetched.status);
    EXPECT_EQ(sha256_hex(fetched.bytes), shard.sha256());
    EXPECT_LE(fetched.largest_chunk, kShardChunkBytes);
    if (shard.size_bytes() > static_cast<int64_t>(kShardChunkBytes)) {
      EXPECT_GT(fetched.chunks, 1);
    }
    concatenated += fetched.bytes;
  }
  EXPECT_EQ(concatenated, content);

  const Fetched missing = fetch(worker_, "big", uploaded.sha256(), 2);
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND) << describe(missing.status);
  EXPECT_EQ(missing.status.error_message(), "dataset 'big': no shard 2 (it has 2)");
}

TEST_F(DatasetsServiceTest, RolesAndTokensAreChecked) {
  v1::Dataset dataset;
  grpc::Status status = upload(worker_, "d", text_records(2), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "Datasets.Upload: role 'worker' may not call this");
  status = upload("", "d", text_records(2), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "Datasets.Upload: missing bearer token");
  status = upload(std::string(64, '0'), "d", text_records(2), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  ASSERT_TRUE(upload(alice_, "d", text_records(2), &dataset).ok());
  v1::ListDatasetsResponse listed;
  EXPECT_EQ(list(worker_, &listed).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::Dataset got;
  EXPECT_EQ(get(worker_, "d", &got).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(remove(worker_, "d", &got).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  const Fetched by_user = fetch(alice_, "d", dataset.sha256(), 0);
  EXPECT_EQ(by_user.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(by_user.status.error_message(), "Datasets.FetchShard: role 'user' may not call this");
  EXPECT_TRUE(by_user.bytes.empty());
  const Fetched by_admin = fetch(admin_, "d", dataset.sha256(), 0);
  ASSERT_TRUE(by_admin.status.ok()) << describe(by_admin.status);
  EXPECT_EQ(by_admin.bytes, text_records(2));
}

TEST_F(DatasetsServiceTest, BadUploadsChangeNothing) {
  v1::Dataset dataset;
  // A data message first.
  {
    const Endpoint endpoint = as(alice_);
    auto context = make_context(endpoint, 10000);
    auto datasets = stub(endpoint);
    auto writer = datasets->Upload(context.get(), &dataset);
    v1::UploadChunk chunk;
    chunk.set_data(text_records(1));
    writer->Write(chunk);
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "Datasets.Upload: the first message must be an UploadHeader");
  }
  // More bytes than announced: refused as soon as they arrive.
  v1::UploadHeader header;
  header.set_name("long");
  header.set_size_bytes(100);
  grpc::Status status = upload(alice_, header, text_records(5000), &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(status);
  EXPECT_EQ(status.error_message(), "dataset 'long': more than the announced 100 bytes arrived");
  // Over the store's limit.
  header.set_size_bytes(int64_t{1} << 30);
  status = upload(alice_, header, "", &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(status);
  // Bad content.
  status = upload(alice_, "bad", text_records(3) + "{\"text\": \"a\"\n", &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("dataset 'bad' line 4: not JSON"), std::string::npos)
      << status.error_message();

  v1::ListDatasetsResponse listed;
  ASSERT_TRUE(list(alice_, &listed).ok());
  EXPECT_EQ(listed.datasets_size(), 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "datasets"));
}

TEST_F(DatasetsServiceTest, DeleteAndReplaceRefusedWhileJobsUseIt) {
  v1::Dataset dataset;
  ASSERT_TRUE(upload(alice_, "d", text_records(3), &dataset).ok());
  set_jobs_using("d", {4, 7});

  v1::Dataset removed;
  grpc::Status status = remove(alice_, "d", &removed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("dataset 'd' is used by jobs 4, 7"), std::string::npos)
      << status.error_message();
  status = upload(alice_, "d", text_records(4), &removed, /*replace=*/true);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("cannot replace it"), std::string::npos)
      << status.error_message();
  v1::Dataset got;
  ASSERT_TRUE(get(alice_, "d", &got).ok());
  EXPECT_EQ(got.records(), 3);

  set_jobs_using("d", {});
  status = remove(bob_, "d", &removed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  status = remove(alice_, "d", &removed);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(removed.sha256(), dataset.sha256());
  EXPECT_EQ(get(alice_, "d", &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(fetch(worker_, "d", dataset.sha256(), 0).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(remove(alice_, "d", &removed).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace gradpool
