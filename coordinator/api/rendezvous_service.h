// RendezvousService: the Rendezvous gRPC API over a RendezvousStore. Ranks authenticate with their
// attempt's token (RankAssignment.rendezvous_token), not with an API token: only the ranks of the
// attempt a job is running now may read or write its keys.
#pragma once

#include "coordinator/rendezvous/rendezvous_store.h"
#include "coordinator/store/job_store.h"
#include "proto/gradpool.grpc.pb.h"

namespace gradpool {

class RendezvousService final : public v1::Rendezvous::Service {
 public:
  RendezvousService(RendezvousStore& store, const JobStore& jobs);

  grpc::Status Set(grpc::ServerContext* context, const v1::RendezvousSetRequest* request,
                   v1::RendezvousSetResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const v1::RendezvousGetRequest* request,
                   v1::RendezvousGetResponse* response) override;

 private:
  // Throws RpcError unless the call carries the token of the job's current, placed attempt.
  void authorize(const grpc::ServerContext& context, uint64_t job_id, int attempt,
                 const char* method) const;
  bool is_current(const RendezvousStore::Attempt& attempt) const;
  // Drops the maps of attempts that are over, so memory follows the attempts still starting.
  void drop_finished_attempts();

  RendezvousStore& store_;
  const JobStore& jobs_;
};

}  // namespace gradpool
