#include "coordinator/api/workers_service.h"

#include "coordinator/rpc_error.h"

namespace gradpool {
namespace {

// A worker token speaks for one worker: the one named like the token's user. Otherwise anyone
// holding any worker token could register as another node and receive its ranks' assignments
// (specs, dataset names, rendezvous tokens). Admin tokens may act as any worker.
void check_acts_as_itself(const Caller& caller, const std::string& worker_id, const char* method) {
  if (caller.role == Role::kWorker && caller.user != worker_id)
    rpc_fail(grpc::StatusCode::PERMISSION_DENIED,
             "{}: the worker token of '{}' may not act as worker '{}' (give each worker its own "
             "token: gradpool-coordinator token add {} --role worker)",
             method, caller.user, worker_id, worker_id);
}

}  // namespace

WorkersService::WorkersService(const Authorizer& auth, WorkerRegistry& registry)
    : auth_(auth), registry_(registry) {}

grpc::Status WorkersService::Register(grpc::ServerContext* context,
                                      const v1::RegisterRequest* request,
                                      v1::RegisterResponse* response) {
  return guarded([&] {
    const Caller caller =
        auth_.require(*context, {Role::kWorker, Role::kAdmin}, "Workers.Register");
    check_acts_as_itself(caller, request->worker_id(), "Workers.Register");
    *response = registry_.register_worker(*request);
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::Heartbeat(grpc::ServerContext* context,
                                       const v1::HeartbeatRequest* request,
                                       v1::HeartbeatResponse* response) {
  return guarded([&] {
    const Caller caller =
        auth_.require(*context, {Role::kWorker, Role::kAdmin}, "Workers.Heartbeat");
    check_acts_as_itself(caller, request->worker_id(), "Workers.Heartbeat");
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
