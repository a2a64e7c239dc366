// LineSplitter and LogBuffer: how a rank's output becomes bounded heartbeat logs.
#include "worker/daemon/log_buffer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gradpool {
namespace {

std::vector<std::string> split(LineSplitter& splitter, const std::vector<std::string>& chunks,
                               bool finish) {
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) { lines.emplace_back(line); };
  for (const std::string& chunk : chunks) splitter.feed(chunk, collect);
  if (finish) splitter.finish(collect);
  return lines;
}

TEST(LineSplitter, JoinsLinesSplitAcrossReads) {
  LineSplitter splitter;
  EXPECT_EQ(split(splitter, {"fir", "st\nsec", "ond\n\nthi"}, false),
            (std::vector<std::string>{"first", "second", ""}));
  EXPECT_EQ(split(splitter, {"rd\n"}, false), std::vector<std::string>{"third"});
}

TEST(LineSplitter, KeepsAnUnfinishedLastLineUntilTheStreamEnds) {
  LineSplitter splitter;
  EXPECT_TRUE(split(splitter, {"no newline yet"}, false).empty());
  LineSplitter ended;
  EXPECT_EQ(split(ended, {"no newline at all"}, true),
            std::vector<std::string>{"no newline at all"});
}

TEST(LineSplitter, CutsEndlessLinesIntoPieces) {
  LineSplitter splitter(4);
  EXPECT_EQ(split(splitter, {"abcdefghij\nxy\n"}, true),
            (std::vector<std::string>{"abcd", "efgh", "ij", "xy"}));
  LineSplitter exact(4);  // a line of exactly max_line bytes is one line, not one and an empty one
  EXPECT_EQ(split(exact, {"abcd", "\n\nefghijkl\n"}, true),
            (std::vector<std::string>{"abcd", "", "efgh", "ijkl"}));
}

TEST(LogBuffer, DeliversLinesOnceConsumed) {
  LogBuffer log;
  log.add_line("one");
  log.add_line("two");
  LogBuffer::Mark mark;
  EXPECT_EQ(log.pending(&mark), "one\ntwo\n");
  log.add_line("three");  // arrives while the heartbeat is on its way
  log.consume(mark);
  EXPECT_EQ(log.pending(&mark), "three\n");
  log.consume(mark);
  EXPECT_EQ(log.pending(&mark), "");
  EXPECT_EQ(log.bytes(), 0u);
}

TEST(LogBuffer, UndeliveredLinesAreSentAgain) {
  LogBuffer log;
  log.add_line("kept");
  LogBuffer::Mark lost;
  EXPECT_EQ(log.pending(&lost), "kept\n");  // this heartbeat fails: no consume
  LogBuffer::Mark mark;
  EXPECT_EQ(log.pending(&mark), "kept\n");
}

TEST(LogBuffer, DropsTheOldestLinesBeyondItsCapacityAndSaysSo) {
  LogBuffer log(20);
  log.add_line("0123456789");  // 11 bytes with its newline
  log.add_line("abcdefghij");  // 22 > 20: the first goes
  LogBuffer::Mark mark;
  EXPECT_EQ(log.pending(&mark), "[... 11 bytes dropped]\nabcdefghij\n");
  EXPECT_LE(log.bytes(), 20u);
  log.add_line("klmnopqrst");  // drops "abcdefghij" after the pending() above
  log.consume(mark);
  // The marker counted what was dropped later, and the newest line was never delivered.
  EXPECT_EQ(log.pending(&mark), "[... 11 bytes dropped]\nklmnopqrst\n");
  log.consume(mark);
  EXPECT_EQ(log.pending(&mark), "");
}

TEST(LogBuffer, ALineLargerThanTheCapacityIsCountedAsDropped) {
  LogBuffer log(8);
  log.add_line("ok");
  log.add_line(std::string(100, 'x'));
  LogBuffer::Mark mark;
  EXPECT_EQ(log.pending(&mark), "[... 101 bytes dropped]\nok\n");
}

}  // namespace
}  // namespace gradpool
