// ShardCache against a real gRPC server that implements Datasets.FetchShard.
#include "worker/daemon/shard_cache.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"
#include "tests/worker/test_servers.h"

namespace gradpool {
namespace {
namespace fs = std::filesystem;
using testing::ShardServer;
using testing::TestServer;

const std::vector<std::string> kShards = {
    "{\"text\": \"first shard, line one\"}\n{\"text\": \"first shard, line two\"}\n",
    std::string(1000, ' ') + "{\"text\": \"a second shard of several chunks\"}\n",
    "{\"text\": \"third\"}\n"};

std::string joined() {
  std::string all;
  for (const std::string& shard : kShards) all += shard;
  return all;
}

// Every file under `dir`, relative.
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(fs::relative(entry.path(), dir).string());
  std::sort(files.begin(), files.end());
  return files;
}

class ShardCacheTest : public ::testing::Test {
 protected:
  ShardCacheTest()
      : root_(gradpool::testing::temp_dir("shard-cache") / "datasets"),
        server_({&shards_}),
        cache_(root_.string(), open_channel(endpoint()), endpoint()) {}

  Endpoint endpoint() const { return testing::endpoint_of(server_, ShardServer::kToken); }

  fs::path root_;
  ShardServer shards_{kShards};
  TestServer server_;
  ShardCache cache_;
};

TEST_F(ShardCacheTest, FetchesVerifiesAndJoinsTheShardsInOrder) {
  ASSERT_TRUE(server_.ok());
  v1::Dataset dataset = shards_.dataset("notes");
  std::reverse(dataset.mutable_shards()->begin(), dataset.mutable_shards()->end());
  const std::string path = cache_.dataset_file(dataset);
  EXPECT_EQ(path, (root_ / dataset.sha256() / "dataset.jsonl").string());
  EXPECT_EQ(read_file(path), joined());
  EXPECT_EQ(shards_.fetches, 3);
  EXPECT_EQ(files_under(root_ / dataset.sha256()),
            (std::vector<std::string>{"dataset.jsonl", "shard-00000.jsonl", "shard-00001.jsonl",
                                      "shard-00002.jsonl"}));
}

TEST_F(ShardCacheTest, ReusesWhatIsCached) {
  const v1::Dataset dataset = shards_.dataset("notes");
  const std::string path = cache_.dataset_file(dataset);
  EXPECT_EQ(cache_.dataset_file(dataset), path);
  EXPECT_EQ(shards_.fetches, 3);

  // A cache that lost its joined file keeps its verified shards; one damaged shard is fetched
  // again.
  fs::remove(path);
  write_file_atomic((root_ / dataset.sha256() / "shard-00001.jsonl").string(), "damaged\n");
  EXPECT_EQ(read_file(cache_.dataset_file(dataset)), joined());
  EXPECT_EQ(shards_.fetches, 4);
}

TEST_F(ShardCacheTest, ACorruptShardIsAnErrorAndIsNotCached) {
  shards_.corrupt = true;
  const v1::Dataset dataset = shards_.dataset("notes");
  try {
    cache_.dataset_file(dataset);
    FAIL() << "a corrupt shard was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("dataset 'notes' shard 0: sha256 mismatch"), std::string::npos)
        << message;
    EXPECT_NE(message.find(dataset.shards(0).sha256()), std::string::npos) << message;
  }
  EXPECT_EQ(files_under(root_), std::vector<std::string>{}) << "nothing cached, no leftovers";

  shards_.corrupt = false;  // the coordinator serves good bytes again: the next try works
  EXPECT_EQ(read_file(cache_.dataset_file(dataset)), joined());
}

TEST_F(ShardCacheTest, MoreBytesThanAnnouncedAreRefused) {
  v1::Dataset dataset = shards_.dataset("notes");
  dataset.mutable_shards(1)->set_size_bytes(500);
  EXPECT_THROW(
      {
        try {
          cache_.dataset_file(dataset);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("shard 1: the coordinator sent more than the 500 "
                                               "bytes announced"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
  EXPECT_FALSE(fs::exists(root_ / dataset.sha256() / "dataset.jsonl"));
  EXPECT_FALSE(fs::exists(root_ / dataset.sha256() / "shard-00001.jsonl"));
}

TEST_F(ShardCacheTest, RejectsMalformedDescriptionsBeforeFetching) {
  const auto expect_error = [&](const v1::Dataset& dataset, const std::string& part) {
    try {
      cache_.dataset_file(dataset);
      ADD_FAILURE() << "accepted: " << dataset.ShortDebugString();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  v1::Dataset escape = shards_.dataset("notes");
  escape.set_sha256("../../etc");
  expect_error(escape, "dataset 'notes': sha256 '../../etc' is not 64 lowercase hex digits");
  v1::Dataset gap = shards_.dataset("notes");
  gap.mutable_shards(2)->set_index(5);
  expect_error(gap, "shard indexes must be 0..2, found 5");
  v1::Dataset none = shards_.dataset("notes");
  none.clear_shards();
  expect_error(none, "no shards");
  EXPECT_EQ(shards_.fetches, 0);
  EXPECT_EQ(files_under(root_), std::vector<std::string>{});
}

TEST_F(ShardCacheTest, AWrongTokenIsReportedWithTheStatus) {
  Endpoint wrong = endpoint();
  wrong.token = "not-the-token";
  ShardCache cache(root_.string(), open_channel(wrong), wrong);
  try {
    cache.dataset_file(shards_.dataset("notes"));
    FAIL() << "fetched with a wrong token";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard 0: fetch failed: UNAUTHENTICATED"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gradpool
