// rank_command: the gradpool-train command line and environment of docs/service.md ("Worker").
#include "worker/daemon/rank_launcher.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/error.h"

namespace gradpool {
namespace {

using Strings = std::vector<std::string>;

LaunchSettings settings(const std::string& ca_cert = "") {
  return {"/opt/gradpool/gradpool-train", "coord.example:7070", "10.0.0.5", ca_cert};
}

v1::RankAssignment assignment(const std::string& backend, int64_t local_batch) {
  v1::RankAssignment a;
  a.mutable_ref()->set_job_id(42);
  a.mutable_ref()->set_attempt(3);
  a.mutable_ref()->set_rank(1);
  a.set_world_size(4);
  a.set_slot(2);
  a.set_backend(backend);
  a.set_local_batch(local_batch);
  a.set_rendezvous_token("rdv-secret");
  return a;
}

Slot gpu_slot() {
  Slot slot;
  slot.index = 2;
  slot.name = "NVIDIA A100-SXM4-80GB";
  slot.uuid = "GPU-01234567-89ab-cdef-0123-456789abcdef";
  slot.memory_bytes = int64_t{80} << 30;
  slot.compute_capability = "8.0";
  slot.gpu = true;
  return slot;
}

const Strings kInherited = {"PATH=/usr/bin",
                            "HOME=/home/w",
                            "GRADPOOL_TOKEN=worker-secret",
                            "CUDA_VISIBLE_DEVICES=0,1,2,3",
                            "GRADPOOL_TOKEN_FILE=/kept",
                            "GRADPOOL_RENDEZVOUS_TOKEN=stale"};

bool has(const Strings& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

size_t count_prefix(const Strings& list, const std::string& prefix) {
  return std::count_if(list.begin(), list.end(),
                       [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
}

TEST(RankCommand, CpuSlot) {
  const RankCommand command = rank_command(settings(), assignment("gloo", 0), cpu_slots(3)[2],
                                           "/cache/jobs/42/attempt-3/rank-1/spec.yaml",
                                           "/cache/jobs/42/attempt-3/rank-1", kInherited);
  EXPECT_EQ(command.argv,
            (Strings{"/opt/gradpool/gradpool-train", "--config",
                     "/cache/jobs/42/attempt-3/rank-1/spec.yaml", "--rank", "1", "--world-size",
                     "4", "--backend", "gloo", "--rendezvous", "gradpool://coord.example:7070/42/3",
                     "--local-address", "10.0.0.5", "--report-fd", "3", "--device", "cpu"}));
  EXPECT_EQ(command.work_dir, "/cache/jobs/42/attempt-3/rank-1");
  EXPECT_TRUE(has(command.env, "PATH=/usr/bin"));
  EXPECT_TRUE(has(command.env, "GRADPOOL_TOKEN_FILE=/kept"));  // only exact names are removed
  EXPECT_TRUE(has(command.env, "GRADPOOL_RENDEZVOUS_TOKEN=rdv-secret"));
  EXPECT_EQ(count_prefix(command.env, "GRADPOOL_RENDEZVOUS_TOKEN="), 1u);
  EXPECT_EQ(count_prefix(command.env, "GRADPOOL_TOKEN="), 0u) << "the worker's own credential";
  EXPECT_EQ(count_prefix(command.env, "CUDA_VISIBLE_DEVICES="), 0u);
  EXPECT_EQ(count_prefix(command.env, "GRADPOOL_CA_CERT="), 0u);
}

TEST(RankCommand, GpuSlotWithLocalBatchAndTls) {
  const RankCommand command = rank_command(settings("/etc/gradpool/ca.pem"), assignment("nccl", 6),
                                           gpu_slot(), "/c/spec.yaml", "/c", kInherited);
  EXPECT_EQ(command.argv,
            (Strings{"/opt/gradpool/gradpool-train", "--config", "/c/spec.yaml", "--rank", "1",
                     "--world-size", "4", "--backend", "nccl", "--rendezvous",
                     "gradpool://coord.example:7070/42/3", "--local-address", "10.0.0.5",
                     "--report-fd", "3", "--local-batch", "6", "--device", "cuda:0"}));
  EXPECT_TRUE(has(command.env, "CUDA_VISIBLE_DEVICES=GPU-01234567-89ab-cdef-0123-456789abcdef"));
  EXPECT_EQ(count_prefix(command.env, "CUDA_VISIBLE_DEVICES="), 1u);
  EXPECT_TRUE(has(command.env, "GRADPOOL_CA_CERT=/etc/gradpool/ca.pem"));
  EXPECT_EQ(count_prefix(command.env, "GRADPOOL_TOKEN="), 0u);
}

TEST(RankCommand, BackendDefaultsToTheSlotKind) {
  const auto backend_of = [](const RankCommand& command) {
    return *(std::find(command.argv.begin(), command.argv.end(), "--backend") + 1);
  };
  EXPECT_EQ(backend_of(rank_command(settings(), assignment("", 0), cpu_slots(1)[0], "s", "d", {})),
            "gloo");
  EXPECT_EQ(backend_of(rank_command(settings(), assignment("", 0), gpu_slot(), "s", "d", {})),
            "nccl");
}

TEST(RankCommand, RejectsAnUnknownBackendNamingTheAssignment) {
  try {
    rank_command(settings(), assignment("mpi", 0), cpu_slots(1)[0], "s", "d", {});
    FAIL() << "accepted backend mpi";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("job 42 rank 1: backend 'mpi'"), std::string::npos)
        << e.what();
  }
}

TEST(Slots, CpuSlotsAreNumberedAndNamedCpu) {
  const std::vector<Slot> slots = cpu_slots(2);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[1].index, 1);
  EXPECT_EQ(slots[1].name, "cpu");
  EXPECT_EQ(slots[1].memory_bytes, 0);
  EXPECT_FALSE(slots[1].gpu);
}

TEST(Slots, DetectionFallsBackToCpuSlotsWithoutGpus) {
  std::string why_none;
  const std::vector<Slot> gpus = cuda_slots(&why_none);
  const std::vector<Slot> slots = detect_slots(3);
  if (gpus.empty()) {
    EXPECT_FALSE(why_none.empty());
    ASSERT_EQ(slots.size(), 3u);
    EXPECT_FALSE(slots[0].gpu);
  } else {  // a GPU machine: every device a slot, with what the scheduler matches on
    ASSERT_EQ(slots.size(), gpus.size());
    for (const Slot& slot : slots) {
      EXPECT_TRUE(slot.gpu);
      EXPECT_EQ(slot.uuid.rfind("GPU-", 0), 0u) << slot.uuid;
      EXPECT_GT(slot.memory_bytes, 0);
      EXPECT_NE(slot.compute_capability.find('.'), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace gradpool
