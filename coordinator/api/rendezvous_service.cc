#include "coordinator/api/rendezvous_service.h"

#include "coordinator/rendezvous/attempt_token.h"
#include "coordinator/rpc_error.h"
#include "proto/channel.h"

namespace gradpool {
namespace {

constexpr size_t kMaxKeyBytes = 256;
constexpr size_t kMaxValueBytes = 64 << 10;
constexpr std::chrono::milliseconds kMaxWait = std::chrono::minutes(10);

void check_key(const std::string& key) {
  if (key.empty() || key.size() > kMaxKeyBytes)
    rpc_fail(grpc::StatusCode::INVALID_ARGUMENT, "key: 1 to {} bytes, got {}", kMaxKeyBytes,
             key.size());
}

}  // namespace

RendezvousService::RendezvousService(RendezvousStore& store, const JobStore& jobs)
    : store_(store), jobs_(jobs) {}

void RendezvousService::authorize(const grpc::ServerContext& context, uint64_t job_id, int attempt,
                                  const char* method) const {
  const std::string token = bearer_token(context);
  if (token.empty())
    rpc_fail(grpc::StatusCode::UNAUTHENTICATED, "{}: missing bearer token", method);
  const auto job = jobs_.find(job_id);
  if (!job) rpc_fail(grpc::StatusCode::NOT_FOUND, "{}: job {}: no such job", method, job_id);
  if (!is_placed(job->job.state()) || job->job.attempt() != attempt)
    rpc_fail(grpc::StatusCode::FAILED_PRECONDITION,
             "{}: job {} attempt {} is not running (the job is at attempt {}, {})", method, job_id,
             attempt, job->job.attempt(), v1::JobState_Name(job->job.state()));
  if (!attempt_token_matches(job->rendezvous_token, token))
    rpc_fail(grpc::StatusCode::UNAUTHENTICATED, "{}: wrong token for job {} attempt {}", method,
             job_id, attempt);
}

bool RendezvousService::is_current(const RendezvousStore::Attempt& attempt) const {
  const auto job = jobs_.find(attempt.first);
  return job && is_placed(job->job.state()) && job->job.attempt() == attempt.second;
}

void RendezvousService::drop_finished_attempts() {
  for (const auto& attempt : store_.attempts())
    if (!is_current(attempt)) store_.erase(attempt);
}

grpc::Status RendezvousService::Set(grpc::ServerContext* context,
                                    const v1::RendezvousSetRequest* request,
                                    v1::RendezvousSetResponse*) {
  return guarded([&] {
    authorize(*context, request->job_id(), request->attempt(), "Rendezvous.Set");
    check_key(request->key());
    if (request->value().size() > kMaxValueBytes)
      rpc_fail(grpc::StatusCode::INVALID_ARGUMENT, "value: at most {} bytes, got {}",
               kMaxValueBytes, request->value().size());
    drop_finished_attempts();
    store_.set({request->job_id(), request->attempt()}, request->key(), request->value());
    return grpc::Status::OK;
  });
}

grpc::Status RendezvousService::Get(grpc::ServerContext* context,
                                    const v1::RendezvousGetRequest* request,
                                    v1::RendezvousGetResponse* response) {
  return guarded([&] {
    authorize(*context, request->job_id(), request->attempt(), "Rendezvous.Get");
    check_key(request->key());
    const auto timeout = std::clamp(std::chrono::milliseconds(request->timeout_ms()),
                                    std::chrono::milliseconds(0), kMaxWait);
    auto value = store_.get({request->job_id(), request->attempt()}, request->key(), timeout,
                            [context] { return context->IsCancelled(); });
    if (!value)
      rpc_fail(grpc::StatusCode::DEADLINE_EXCEEDED,
               "Rendezvous.Get: job {} attempt {}: key '{}' did not appear within {} ms",
               request->job_id(), request->attempt(), request->key(), timeout.count());
    response->set_value(std::move(*value));
    return grpc::Status::OK;
  });
}

}  // namespace gradpool
