// JobsService: the Jobs gRPC API (submit, list, get, cancel, logs) for users and admins. The
// handlers only authorize, validate the request and translate; JobSubmission and the Lifecycle do
// the work.
#pragma once

#include <atomic>

#include "coordinator/auth/authorizer.h"
#include "coordinator/jobs/job_logs.h"
#include "coordinator/jobs/lifecycle.h"
#include "coordinator/jobs/submission.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool {

class JobsService final : public v1::Jobs::Service {
 public:
  // `stopping` turns true when the server shuts down; following log streams end then.
  JobsService(const Authorizer& auth, const JobSubmission& submission, Lifecycle& lifecycle,
              const JobLogs& logs, const std::atomic<bool>& stopping);

  grpc::Status Submit(grpc::ServerContext* context, const v1::SubmitRequest* request,
                      v1::SubmitResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                    v1::ListJobsResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::JobRef* request,
                   v1::Job* response) override;
  grpc::Status Cancel(grpc::ServerContext* context, const v1::JobRef* request,
                      v1::Job* response) override;
  grpc::Status Logs(grpc::ServerContext* context, const v1::LogsRequest* request,
                    grpc::ServerWriter<v1::LogChunk>* writer) override;

 private:
  const Authorizer& auth_;
  const JobSubmission& submission_;
  Lifecycle& lifecycle_;
  const JobLogs& logs_;
  const std::atomic<bool>& stopping_;
};

}  // namespace gradpool
