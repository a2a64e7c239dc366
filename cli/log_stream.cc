#include "cli/log_stream.h"

namespace gradpool::cli {

grpc::Status copy_job_log(Client& client, grpc::ClientContext& context, uint64_t job_id,
                          bool follow, std::FILE* out) {
  v1::LogsRequest request;
  request.set_job_id(job_id);
  request.set_follow(follow);
  auto reader = client.jobs().Logs(&context, request);
  v1::LogChunk chunk;
  while (reader->Read(&chunk)) {
    std::fwrite(chunk.data().data(), 1, chunk.data().size(), out);
    std::fflush(out);
  }
  return reader->Finish();
}

}  // namespace gradpool::cli
