// gradpool-train --report-fd: a reader that goes away, or an fd that is not open, never costs a
// run (the events themselves are checked through the worker in rank_process_test.cc).
#include <fcntl.h>
#include <unistd.h>

#include "tests/worker/rank_fixture.h"

namespace gradpool::testing {
namespace {

using ReportFdTest = TrainProcess;

TEST_F(ReportFdTest, TrainingGoesOnWhenTheReaderIsGone) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);  // inherited by the child: no close-on-exec
  ::close(ends[0]);            // nobody will ever read
  Child child(command(job("out"), "out", {"--report-fd", std::to_string(ends[1])}), next_log());
  ::close(ends[1]);
  EXPECT_EQ(child.wait(), 0) << child.stderr_text();
  EXPECT_TRUE(contains(child.stderr_text(), "reporting stops, training goes on"))
      << child.stderr_text();
  EXPECT_EQ(read_steps(out("out")).size(), 10u);
}

TEST_F(ReportFdTest, AnFdThatIsNotOpenIsRejected) {
  expect_rejected(job("bad"), {"--report-fd 97: not an open file descriptor"},
                  {"--report-fd", "97"});
}

}  // namespace
}  // namespace gradpool::testing
