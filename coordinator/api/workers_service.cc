#include "coordinator/api/workers_service.h"

#include "coordinator/rpc_error.h"

namespace gradpool {

WorkersService::WorkersService(const Authorizer& auth, WorkerRegistry& registry)
    : auth_(auth), registry_(registry) {}

grpc::Status WorkersService::Register(grpc::ServerContext* context,
                                      const v1::RegisterRequest* request,
                                      v1::RegisterResponse* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kWorker, Role::kAdmin}, "Workers.Register");
    *response = registry_.register_worker(*request);
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::Heartbeat(grpc::ServerContext* context,
                                       const v1::HeartbeatRequest* request,
                                       v1::HeartbeatResponse* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kWorker, Role::kAdmin}, "Workers.Heartbeat");
    *response = registry_.heartbeat(*request);
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::List(grpc::ServerContext* context, const v1::ListWorkersRequest*,
                                  v1::ListWorkersResponse* response) {
  return guarded([&] {
    auth_.require(*context, {Role::kUser, Role::kAdmin, Role::kWorker}, "Workers.List");
    for (v1::Worker& worker : registry_.list()) *response->add_workers() = std::move(worker);
    return grpc::Status::OK;
  });
}

}  // namespace gradpool
