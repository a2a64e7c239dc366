// Copying a job's log (Jobs.Logs) to a file as it arrives: `gradpool logs [-f]` and `gradpool run`.
#pragma once

#include <cstdint>
#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "cli/client.h"

namespace gradpool::cli {

// Writes each chunk to `out` as it comes (flushed, so `logs -f | grep` sees lines at once); with
// `follow`, until the coordinator ends the stream because the job is final. `context` is the
// caller's so that another thread can end the stream early with TryCancel(). Returns the call's
// status.
grpc::Status copy_job_log(Client& client, grpc::ClientContext& context, uint64_t job_id,
                          bool follow, std::FILE* out);

}  // namespace gradpool::cli
