// WorkersService: the Workers gRPC API. Worker tokens (and admins) register and heartbeat; any
// user may list the pool. WorkerRegistry does the work.
#pragma once

#include "coordinator/auth/authorizer.h"
#include "coordinator/workers/registry.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool {

class WorkersService final : public v1::Workers::Service {
 public:
  WorkersService(const Authorizer& auth, WorkerRegistry& registry);

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                    v1::ListWorkersResponse* response) override;

 private:
  const Authorizer& auth_;
  WorkerRegistry& registry_;
};

}  // namespace gradpool
