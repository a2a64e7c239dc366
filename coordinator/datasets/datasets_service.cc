#include "coordinator/datasets/datasets_service.h"

#include <fstream>

#include <fmt/ranges.h>

#include "coordinator/rpc_error.h"

namespace gradpool {

DatasetsService::DatasetsService(DatasetStore& store, const Authorizer& auth, JobsUsing jobs_using)
    : store_(store), auth_(auth), jobs_using_(std::move(jobs_using)) {}

void DatasetsService::check_not_in_use(const std::string& name, const char* action) const {
  const std::vector<uint64_t> jobs = jobs_using_(name);
  if (!jobs.empty())
    rpc_fail(grpc::StatusCode::FAILED_PRECONDITION,
             "dataset '{}' is used by job{} {} (queued, starting or running); cannot {} it until "
             "they finish or are cancelled",
             name, jobs.size() == 1 ? "" : "s", fmt::join(jobs, ", "), action);
}

grpc::Status DatasetsService::Upload(grpc::ServerContext* context,
                                     grpc::ServerReader<v1::UploadChunk>* reader,
                                     v1::Dataset* response) {
  return guarded([&] {
    const Caller caller = auth_.require(*context, {Role::kUser, Role::kAdmin}, "Datasets.Upload");
    v1::UploadChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_header())
      rpc_fail(grpc::StatusCode::INVALID_ARGUMENT,
               "Datasets.Upload: the first message must be an UploadHeader");
    const v1::UploadHeader header = chunk.header();
    if (header.replace() && store_.find(header.name())) check_not_in_use(header.name(), "replace");
    std::unique_ptr<DatasetStore::Upload> upload = store_.begin_upload(header, caller);
    while (reader->Read(&chunk)) {
      if (chunk.has_header())
        rpc_fail(grpc::StatusCode::INVALID_ARGUMENT,
                 "dataset '{}': a second UploadHeader arrived; send it only first", header.name());
      upload->append(chunk.data());
    }
    *response = upload->finish();
    return grpc::Status::OK;
  });
}

grpc::Status DatasetsService::List(grpc::ServerContext* context,
                                   const v1::ListDatasetsRequest* request,
                                   v1::ListDatasetsResponse* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin}, "Datasets.List");
    for (v1::Dataset& dataset : store_.list()) *response->add_datasets() = std::move(dataset);
    return grpc::Status::OK;
  });
}

grpc::Status DatasetsService::Get(grpc::ServerContext* context, const v1::DatasetRef* request,
                                  v1::Dataset* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin}, "Datasets.Get");
    const std::optional<v1::Dataset> dataset = store_.find(request->name());
    if (!dataset)
      rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no such dataset", request->name());
    *response = *dataset;
    return grpc::Status::OK;
  });
}

grpc::Status DatasetsService::Delete(grpc::ServerContext* context, const v1::DatasetRef* request,
                                     v1::Dataset* response) {
  return guarded([&] {
    const Caller caller = auth_.require(*context, {Role::kUser, Role::kAdmin}, "Datasets.Delete");
    if (!store_.find(request->name()))
      rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': no such dataset", request->name());
    check_not_in_use(request->name(), "delete");
    *response = store_.remove(request->name(), caller);
    return grpc::Status::OK;
  });
}

grpc::Status DatasetsService::FetchShard(grpc::ServerContext* context,
                                         const v1::FetchShardRequest* request,
                                         grpc::ServerWriter<v1::ShardChunk>* writer) {
  return guarded([&] {
    auth_.require(*context, {Role::kWorker, Role::kAdmin}, "Datasets.FetchShard");
    const std::string path =
        store_.shard_path(request->dataset(), request->sha256(), request->index());
    // Opened at once: a dataset deleted from here on stays readable through this stream.
    std::ifstream in(path, std::ios::binary);
    if (!in)
      rpc_fail(grpc::StatusCode::NOT_FOUND, "dataset '{}': shard {} is gone", request->dataset(),
               request->index());
    std::string buffer(kShardChunkBytes, '\0');
    v1::ShardChunk chunk;
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      if (in.gcount() == 0) break;
      chunk.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
      if (!writer->Write(chunk))
        return grpc::Status(grpc::StatusCode::CANCELLED, "Datasets.FetchShard: the client left");
    }
    if (in.bad())
      rpc_fail(grpc::StatusCode::INTERNAL, "dataset '{}': reading shard {} failed",
               request->dataset(), request->index());
    return grpc::Status::OK;
  });
}

}  // namespace gradpool
