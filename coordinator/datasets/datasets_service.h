// DatasetsService: the Datasets gRPC API over a DatasetStore. Users and admins upload, list, get
// and delete datasets; workers (and admins) fetch shards. A dataset a queued, starting or running
// job uses cannot be deleted or replaced: `jobs_using` (owned by the jobs side) says which jobs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "coordinator/auth/authorizer.h"
#include "coordinator/datasets/dataset_store.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool {

// Bytes per FetchShard message.
constexpr size_t kShardChunkBytes = 1 << 20;

class DatasetsService final : public v1::Datasets::Service {
 public:
  using JobsUsing = std::function<std::vector<uint64_t>(const std::string& dataset)>;

  // `jobs_using(name)`: ids of the queued/starting/running jobs that use the dataset (empty: none).
  DatasetsService(DatasetStore& store, const Authorizer& auth, JobsUsing jobs_using);

  grpc::Status Upload(grpc::ServerContext* context, grpc::ServerReader<v1::UploadChunk>* reader,
                      v1::Dataset* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                    v1::ListDatasetsResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::DatasetRef* request,
                   v1::Dataset* response) override;
  grpc::Status Delete(grpc::ServerContext* context, const v1::DatasetRef* request,
                      v1::Dataset* response) override;
  grpc::Status FetchShard(grpc::ServerContext* context, const v1::FetchShardRequest* request,
                          grpc::ServerWriter<v1::ShardChunk>* writer) override;

 private:
  // FAILED_PRECONDITION naming the jobs when `name` is in use; `action` is "delete"/"replace".
  void check_not_in_use(const std::string& name, const char* action) const;

  DatasetStore& store_;
  const Authorizer& auth_;
  JobsUsing jobs_using_;
};

}  // namespace gradpool
