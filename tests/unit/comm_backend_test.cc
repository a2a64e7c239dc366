// Tests of the collective backends themselves (the trainer's data-parallel equivalence is
// tests/integration/data_parallel_test.cc's): the MPI backend and the MPI bootstrap under a real
// `mpirun`, and the NCCL backend on whatever GPUs the machine has.
//
// A test that needs ranks runs itself: outside mpirun it launches `mpirun -np N <this binary>
// --gtest_filter=<this test>` and checks the job's exit status, output and duration; inside (the
// launcher sets GRADPOOL_COMM_TEST_RANK) it is one of the ranks.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "tests/test_util.h"
#include "worker/train/comm/backends.h"
#include "worker/train/comm/rendezvous.h"

namespace gradpool {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

bool is_rank() {
  return std::getenv("GRADPOOL_COMM_TEST_RANK") != nullptr;
}

struct Job {
  int status = -1;  // mpirun's exit status; -1 when it did not exit normally
  std::string output;
  double seconds = 0;
};

// Runs the current test as `ranks` processes under mpirun (as root too, on two cores too).
Job mpirun_this_test(int ranks) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path log = testing::temp_dir(fmt::format("comm-{}", test->name())) / "mpirun.log";
  const std::string command = fmt::format(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun -np {} "
      "--oversubscribe --bind-to none -x GRADPOOL_COMM_TEST_RANK=1 '{}' --gtest_filter='{}.{}' "
      ">'{}' 2>&1",
      ranks, fs::read_symlink("/proc/self/exe").string(), test->test_suite_name(), test->name(),
      log.string());
  const auto start = std::chrono::steady_clock::now();
  const int raw = std::system(command.c_str());
  Job job;
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  job.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::stringstream output;
  output << std::ifstream(log).rdbuf();
  job.output = output.str();
  return job;
}

// Why this machine cannot run the MPI tests, or "" when it can.
std::string why_no_mpirun() {
#ifdef GRADPOOL_WITH_MPI
  if (std::system("command -v mpirun >/dev/null") == 0) return "";
  return "mpirun is not installed (Debian: openmpi-bin)";
#else
  return "this build has no MPI backend";
#endif
}

CommOptions rank_options(CommBackend backend, seconds timeout) {
  CommOptions options;
  options.backend = backend;
  options.timeout = timeout;
  return options;
}

constexpr std::initializer_list<at::ScalarType> kEveryDtype = {at::kDouble, at::kHalf,
                                                               at::kBFloat16, at::kInt, at::kLong};

// The same checks on every backend: sums of known values in fp32 and in `dtypes`, a broadcast from
// the last rank, a barrier.
void expect_collectives_work(Communicator& comm, const at::TensorOptions& on,
                             std::initializer_list<at::ScalarType> dtypes = kEveryDtype) {
  const int r = comm.rank(), n = comm.size();
  const double ranks_sum = n * (n + 1) / 2.0;  // of (rank + 1) over all ranks

  at::Tensor grads = at::arange(6, on.dtype(at::kFloat)) * (r + 1);
  comm.all_reduce_sum(grads);
  EXPECT_TRUE(at::equal(grads.cpu(), at::arange(6, at::kFloat) * ranks_sum)) << grads;

  for (const at::ScalarType type : dtypes) {
    at::Tensor values = at::full({5}, r + 1, on.dtype(type));
    comm.all_reduce_sum(values);
    EXPECT_TRUE(at::equal(values.cpu(), at::full({5}, ranks_sum, type)))
        << c10::toString(type) << ": " << values;
  }

  at::Tensor adapter = at::full({3}, r == n - 1 ? 7.0 : -1.0, on.dtype(at::kFloat));
  comm.broadcast(adapter, n - 1);
  EXPECT_TRUE(at::equal(adapter.cpu(), at::full({3}, 7.0))) << adapter;

  comm.barrier();
}

TEST(MpiBackend, CollectivesAcrossTwoRanks) {
  if (!is_rank()) {
    if (const std::string why = why_no_mpirun(); !why.empty()) GTEST_SKIP() << why;
    const Job job = mpirun_this_test(2);
    EXPECT_EQ(job.status, 0) << job.output;
    return;
  }
  const auto comm = connect(rank_options(CommBackend::kAuto, seconds(30)));  // CPU: MPI
  ASSERT_NE(comm, nullptr);
  EXPECT_STREQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->size(), 2);
  EXPECT_EQ(comm->rank(), std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  expect_collectives_work(*comm, at::TensorOptions());

  // A strided view goes through a host copy; the result lands in the viewed elements only.
  at::Tensor matrix = at::zeros({4, 2});
  at::Tensor column = matrix.select(1, 0);
  column.fill_(comm->rank() + 1);
  comm->all_reduce_sum(column);
  EXPECT_TRUE(at::equal(matrix.select(1, 0), at::full({4}, 3.0))) << matrix;
  EXPECT_TRUE(at::equal(matrix.select(1, 1), at::zeros({4}))) << matrix;
}

// Other backends take their place and store from MPI too: no --rank, --world-size, --rendezvous.
TEST(MpiBootstrap, GlooConnectsThroughTheMpiWorld) {
  if (!is_rank()) {
    if (const std::string why = why_no_mpirun(); !why.empty()) GTEST_SKIP() << why;
    const Job job = mpirun_this_test(2);
    EXPECT_EQ(job.status, 0) << job.output;
    return;
  }
  const auto comm = connect(rank_options(CommBackend::kGloo, seconds(30)));
  ASSERT_NE(comm, nullptr);
  EXPECT_STREQ(comm->backend(), "gloo");
  EXPECT_EQ(comm->size(), 2);
  // LibTorch 1.13's Gloo sums no fp16/bf16 on CPU.
  expect_collectives_work(*comm, at::TensorOptions(), {at::kDouble, at::kInt, at::kLong});
}

TEST(MpiBootstrap, AWorldOfOneTrainsAlone) {
  if (!is_rank()) {
    if (const std::string why = why_no_mpirun(); !why.empty()) GTEST_SKIP() << why;
    const Job job = mpirun_this_test(1);
    EXPECT_EQ(job.status, 0) << job.output;
    return;
  }
  EXPECT_EQ(connect(rank_options(CommBackend::kMpi, seconds(30))), nullptr);
}

// A rank that never arrives: the waiting one names it at the deadline and MPI_Abort ends the job
// with kExitCollectiveTimeout.
TEST(MpiBackend, DeadlineNamesTheMissingRankAndAbortsTheJob) {
  if (!is_rank()) {
    if (const std::string why = why_no_mpirun(); !why.empty()) GTEST_SKIP() << why;
    const Job job = mpirun_this_test(2);
    EXPECT_EQ(job.status, kExitCollectiveTimeout) << job.output;
    EXPECT_NE(job.output.find("ranks that did not arrive: rank 1 (reached collective 0 of 1)"),
              std::string::npos)
        << job.output;
    EXPECT_LT(job.seconds, 60) << job.output;
    return;
  }
  const auto comm = connect(rank_options(CommBackend::kMpi, seconds(2)));
  ASSERT_NE(comm, nullptr);
  if (comm->rank() == 1) std::this_thread::sleep_for(seconds(300));  // ended by MPI_Abort
  at::Tensor grads = at::ones({4});
  comm->all_reduce_sum(grads);
  ADD_FAILURE() << "the all-reduce completed without rank 1";
}

// A rank that fails (an exception unwinds its communicator) aborts the job at its exit instead of
// finalizing, so the others do not wait for the collective deadline (60 s here, which would end
// the job with kExitCollectiveTimeout instead of main()'s 1).
TEST(MpiSession, AFailedRankEndsTheJobPromptly) {
  if (!is_rank()) {
    if (const std::string why = why_no_mpirun(); !why.empty()) GTEST_SKIP() << why;
    const Job job = mpirun_this_test(2);
    EXPECT_EQ(job.status, 1) << job.output;
    EXPECT_NE(job.output.find("rank 1 gives up"), std::string::npos) << job.output;
    return;
  }
  const auto comm = connect(rank_options(CommBackend::kMpi, seconds(60)));
  ASSERT_NE(comm, nullptr);
  if (comm->rank() == 1) throw Error("rank 1 gives up");  // gtest reports it; exit aborts
  comm->barrier();
  ADD_FAILURE() << "the barrier completed without rank 1";
}

#ifdef GRADPOOL_WITH_NCCL
// One thread per GPU (two at most; one GPU still runs every call), bootstrapped by a file store.
TEST(NcclBackend, CollectivesOnTheGpusHere) {
  if (!torch::cuda::is_available())
    GTEST_SKIP() << "no CUDA device, or a CPU-only LibTorch: the NCCL backend is built, not run";
  const int world = std::min<int>(static_cast<int>(torch::cuda::device_count()), 2);
  const RendezvousAddress store =
      parse_rendezvous("file://" + (testing::temp_dir("nccl") / "store").string());
  std::vector<std::string> errors(world);
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.emplace_back([&, r] {
      try {
        CommOptions options;
        options.rank = r;
        options.world_size = world;
        options.device = at::Device(at::kCUDA, r);
        options.timeout = seconds(60);
        const auto comm =
            make_nccl_communicator(options, store_factory(store, r, world, options.timeout));
        EXPECT_STREQ(comm->backend(), "nccl");
        expect_collectives_work(*comm, at::TensorOptions().device(options.device));
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  }
  for (std::thread& rank : ranks) rank.join();
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

// Every CUDA failure becomes a gradpool::Error naming the call: here (no GPU or no driver) the
// first one, elsewhere a device that does not exist.
TEST(NcclBackend, CudaFailuresAreErrors) {
  CommOptions options;
  options.device = at::Device(at::kCUDA, 99);
  options.timeout = seconds(10);
  const RendezvousAddress store =
      parse_rendezvous("file://" + (testing::temp_dir("nccl-error") / "store").string());
  try {
    make_nccl_communicator(options, store_factory(store, 0, 1, options.timeout));
    FAIL() << "cuda:99 worked";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NCCL backend: cudaSetDevice failed: "), std::string::npos)
        << e.what();
  }
}
#endif

}  // namespace
}  // namespace gradpool
