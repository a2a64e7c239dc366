#include "coordinator/api/jobs_service.h"

#include <thread>

#include "coordinator/jobs/clock.h"
#include "coordinator/rpc_error.h"

namespace gradpool {
namespace {

constexpr size_t kLogChunkBytes = 64 << 10;
constexpr std::chrono::milliseconds kLogPollInterval{200};

}  // namespace

JobsService::JobsService(const Authorizer& auth, const JobSubmission& submission,
                         Lifecycle& lifecycle, const JobLogs& logs,
                         const std::atomic<bool>& stopping)
    : auth_(auth),
      submission_(submission),
      lifecycle_(lifecycle),
      logs_(logs),
      stopping_(stopping) {}

grpc::Status JobsService::Submit(grpc::ServerContext* context, const v1::SubmitRequest* request,
                                 v1::SubmitResponse* response) {
  return guarded([&] {
    const Caller caller = auth_.require(*context, {Role::kUser, Role::kAdmin}, "Jobs.Submit");
    const auto prepared = submission_.prepare(*request, caller, unix_now_ms());
    for (v1::Job& job : lifecycle_.submit(prepared, submission_.output_root()))
      *response->add_jobs() = std::move(job);
    return grpc::Status::OK;
  });
}

grpc::Status JobsService::List(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                               v1::ListJobsResponse* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin}, "Jobs.List");
    if (request->limit() < 0)
      rpc_fail(grpc::StatusCode::INVALID_ARGUMENT, "limit: must be >= 0, got {}", request->limit());
    JobFilter filter;
    filter.user = request->user();
    filter.limit = request->limit();
    for (const int state : request->states()) {
      if (!v1::JobState_IsValid(state) || state == v1::JOB_STATE_UNSPECIFIED)
        rpc_fail(grpc::StatusCode::INVALID_ARGUMENT, "states: {} is not a job state", state);
      filter.states.push_back(static_cast<v1::JobState>(state));
    }
    for (v1::Job& job : lifecycle_.list(filter)) *response->add_jobs() = std::move(job);
    return grpc::Status::OK;
  });
}

grpc::Status JobsService::Get(grpc::ServerContext* context, const v1::JobRef* request,
                              v1::Job* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin}, "Jobs.Get");
    *response = lifecycle_.get(request->id());
    return grpc::Status::OK;
  });
}

grpc::Status JobsService::Cancel(grpc::ServerContext* context, const v1::JobRef* request,
                                 v1::Job* response) {
  return guarded([&] {
    const Caller caller = auth_.require(*context, {Role::kUser, Role::kAdmin}, "Jobs.Cancel");
    *response = lifecycle_.cancel(request->id(), caller, unix_now_ms());
    return grpc::Status::OK;
  });
}

grpc::Status JobsService::Logs(grpc::ServerContext* context, const v1::LogsRequest* request,
                               grpc::ServerWriter<v1::LogChunk>* writer) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin}, "Jobs.Logs");
    if (request->offset() < 0)
      rpc_fail(grpc::StatusCode::INVALID_ARGUMENT, "offset: must be >= 0, got {}",
               request->offset());
    int64_t offset = request->offset();
    while (!context->IsCancelled() && !stopping_) {
      // The state is read before the file: a final state seen here means every line of the job
      // is already in the file, so an empty read afterwards really is the end.
      const v1::JobState state = lifecycle_.get(request->job_id()).state();
      const std::string data = logs_.read(request->job_id(), offset, kLogChunkBytes);
      if (!data.empty()) {
        v1::LogChunk chunk;
        chunk.set_data(data);
        chunk.set_offset(offset);
        chunk.set_state(state);
        if (!writer->Write(chunk)) break;  // the client went away
        offset += static_cast<int64_t>(data.size());
        continue;
      }
      if (!request->follow() || is_final(state)) break;
      std::this_thread::sleep_for(kLogPollInterval);
    }
    return grpc::Status::OK;
  });
}

}  // namespace gradpool
