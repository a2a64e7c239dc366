// Timeline: a Chrome trace (JSON array) with complete events per phase lane, metadata naming the
// rank and its lanes; valid JSON after close or destruction, also with several threads recording.
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_util.h"
#include "common/metrics/timeline.h"
#include "tests/test_util.h"

namespace gradpool::metrics {
namespace {

using nlohmann::json;
using std::chrono::microseconds;

std::vector<json> events_named(const json& trace, const std::string& ph, const std::string& name) {
  std::vector<json> found;
  for (const json& event : trace)
    if (event.at("ph") == ph && event.at("name") == name) found.push_back(event);
  return found;
}

TEST(Timeline, WritesCompleteEventsOnPhaseLanesWithMetadata) {
  const auto path = testing::temp_dir("timeline") / "rank1.json";
  const auto start = Timeline::Clock::now();
  {
    Timeline timeline(path, 1);
    timeline.record(phase::kForward, start, start + microseconds(1500), {{"step", 7}});
    timeline.record(phase::kDataWait, start - microseconds(300), start);
    {
      auto span = timeline.span(phase::kBackward);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto moved = timeline.span("gc");
    auto taken = std::move(moved);  // one event, recorded by whichever Span is last alive
    taken.end();
    timeline.close();
  }
  const json trace = json::parse(read_file(path.string()));
  ASSERT_TRUE(trace.is_array());

  const auto process = events_named(trace, "M", "process_name");
  ASSERT_EQ(process.size(), 1u);
  EXPECT_EQ(process[0].at("pid"), 1);
  EXPECT_EQ(process[0].at("args").at("name"), "rank 1");

  const auto forward = events_named(trace, "X", "forward");
  ASSERT_EQ(forward.size(), 1u);
  EXPECT_EQ(forward[0].at("pid"), 1);
  EXPECT_EQ(forward[0].at("tid"), 3);  // step, data_wait, forward, ...
  EXPECT_EQ(forward[0].at("dur"), 1500);
  EXPECT_EQ(forward[0].at("args").at("step"), 7);
  const auto wait = events_named(trace, "X", "data_wait");
  ASSERT_EQ(wait.size(), 1u);
  EXPECT_EQ(wait[0].at("tid"), 2);
  EXPECT_EQ(forward[0].at("ts").get<int64_t>() - wait[0].at("ts").get<int64_t>(), 300);
  // Wall-clock microseconds: after 2020 and no later than now.
  const int64_t now_us =
      std::chrono::duration_cast<microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_GT(wait[0].at("ts").get<int64_t>(), int64_t{1577836800} * 1000000);
  EXPECT_LE(wait[0].at("ts").get<int64_t>(), now_us);

  const auto backward = events_named(trace, "X", "backward");
  ASSERT_EQ(backward.size(), 1u);
  EXPECT_GE(backward[0].at("dur").get<int64_t>(), 2000);
  EXPECT_FALSE(backward[0].contains("args"));
  const auto other = events_named(trace, "X", "gc");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].at("tid"), 8);  // after the seven phase lanes

  std::map<int, std::string> lane_names;
  for (const json& event : events_named(trace, "M", "thread_name"))
    lane_names[event.at("tid")] = event.at("args").at("name");
  EXPECT_EQ(lane_names, (std::map<int, std::string>{
                            {2, "data_wait"}, {3, "forward"}, {4, "backward"}, {8, "gc"}}));
}

TEST(Timeline, IsValidJsonWithoutAnExplicitCloseAndDropsEventsAfterClose) {
  const auto dir = testing::temp_dir("timeline-close");
  const auto now = Timeline::Clock::now();
  {
    Timeline timeline(dir / "a.json", 0);
    timeline.record(phase::kStep, now, now + microseconds(10));
  }
  EXPECT_EQ(events_named(json::parse(read_file((dir / "a.json").string())), "X", "step").size(),
            1u);

  Timeline timeline(dir / "b.json", 0);
  timeline.close();
  timeline.record(phase::kStep, now, now + microseconds(10));
  timeline.close();
  EXPECT_TRUE(events_named(json::parse(read_file((dir / "b.json").string())), "X", "step").empty());
}

TEST(Timeline, ThreadsRecordingAtOnceGiveOneValidArray) {
  const auto path = testing::temp_dir("timeline-threads") / "t.json";
  {
    Timeline timeline(path, 3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&timeline] {
        for (int i = 0; i < 100; ++i) auto span = timeline.span(phase::kAllReduce, {{"i", i}});
      });
    for (auto& thread : threads) thread.join();
  }
  EXPECT_EQ(events_named(json::parse(read_file(path.string())), "X", "allreduce").size(), 400u);
}

TEST(Timeline, AFileThatCannotBeCreatedIsAnErrorNamingIt) {
  const auto path = testing::temp_dir("timeline-bad") / "missing-dir" / "t.json";
  try {
    Timeline timeline(path, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gradpool::metrics
