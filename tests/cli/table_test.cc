// The table renderer: alignment, fitting a width by cutting free text with "…", and the width rule.
#include "cli/table.h"

#include <gtest/gtest.h>

#include <sstream>

#include "cli/terminal.h"
#include "common/error.h"

namespace gradpool::cli {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Table jobs_like() {
  Table table({{"ID", Align::kRight}, {"NAME", Align::kLeft, true}, {"STATE"}});
  table.add_row({"7", "short", "RUNNING"});
  table.add_row({"1234", "a-rather-long-job-name-that-goes-on-and-on", "QUEUED (quota) #3"});
  return table;
}

TEST(CliTable, AlignsColumnsAndLeavesNoTrailingSpaces) {
  Table table({{"ID", Align::kRight}, {"NAME"}, {"GPUS", Align::kRight}, {"STATE"}});
  table.add_row({"7", "alpha", "2", "RUNNING"});
  table.add_row({"1234", "b", "16", "QUEUED"});
  EXPECT_EQ(table.render(0),
            "  ID  NAME   GPUS  STATE\n"
            "   7  alpha     2  RUNNING\n"
            "1234  b        16  QUEUED\n");
}

TEST(CliTable, UnlimitedWidthKeepsEveryCharacter) {
  const std::string text = jobs_like().render(0);
  EXPECT_NE(text.find("a-rather-long-job-name-that-goes-on-and-on"), std::string::npos);
  EXPECT_EQ(text.find("…"), std::string::npos);
}

TEST(CliTable, FitsTheWidthByCuttingTheTruncatableColumn) {
  const size_t width = 40;
  const std::vector<std::string> lines = lines_of(jobs_like().render(width));
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) EXPECT_LE(display_width(line), width) << line;
  // The name was cut (and says so); the other columns are whole.
  EXPECT_NE(lines[2].find("a-rather-long"), std::string::npos);
  EXPECT_NE(lines[2].find("…"), std::string::npos);
  EXPECT_NE(lines[2].find("QUEUED (quota) #3"), std::string::npos);
  EXPECT_EQ(lines[2].rfind("1234", 0), 0u);
  // The table uses the whole width: the longest line is exactly as wide.
  EXPECT_EQ(display_width(lines[2]), width);
  // Columns still line up: STATE starts at the same column in every line.
  const size_t state_column = display_width(lines[0].substr(0, lines[0].find("STATE")));
  EXPECT_EQ(display_width(lines[1].substr(0, lines[1].find("RUNNING"))), state_column);
  EXPECT_EQ(display_width(lines[2].substr(0, lines[2].find("QUEUED"))), state_column);
}

TEST(CliTable, CutsTheWidestTruncatableColumnFirst) {
  Table table({{"A", Align::kLeft, true}, {"B", Align::kLeft, true}});
  table.add_row({"xxxxxxxxxxxxxxxxxxxx", "yyyyyy"});  // 20 and 6 wide
  const std::vector<std::string> lines = lines_of(table.render(20));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "xxxxxxxxxxx…  yyyyyy");  // only A lost columns: 12 + 2 + 6
}

TEST(CliTable, CutsLinesWhenNoTruncatableColumnCanShrink) {
  Table table({{"STATE"}, {"REASON"}});
  table.add_row({"QUEUED", "waiting for gpus"});
  for (const auto& line : lines_of(table.render(12))) EXPECT_LE(display_width(line), 12u);
}

TEST(CliTable, ScriptsGetTabSeparatedLinesThatAreNeverCut) {
  Table table({{"ID", Align::kRight}, {"NAME", Align::kLeft, true}, {"STATE"}});
  table.add_row({"7", "a\tname with\nodd characters", "QUEUED (quota) #3"});
  EXPECT_EQ(table.render_tab_separated(),
            "ID\tNAME\tSTATE\n"
            "7\ta name with odd characters\tQUEUED (quota) #3\n");
}

TEST(CliTable, RowWithTheWrongNumberOfCellsIsAnError) {
  Table table({{"A"}, {"B"}});
  EXPECT_THROW(table.add_row({"only one"}), Error);
  EXPECT_EQ(table.rows(), 0u);
}

TEST(CliTable, WidthCountsCodePointsNotBytes) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("…"), 1u);
  EXPECT_EQ(display_width("héllo"), 5u);
  EXPECT_EQ(truncate_to_width("héllo wörld", 6), "héllo…");
  EXPECT_EQ(truncate_to_width("short", 10), "short");
  EXPECT_EQ(truncate_to_width("abc", 0), "");
}

TEST(CliOutputWidth, TerminalWidthEnvironmentOrUnlimited) {
  EXPECT_EQ(output_width(std::optional<size_t>(120), "50"), 120u);  // the terminal knows best
  EXPECT_EQ(output_width(std::optional<size_t>(0), "50"), 50u);     // a terminal without a size
  EXPECT_EQ(output_width(std::optional<size_t>(0), nullptr), 80u);
  EXPECT_EQ(output_width(std::nullopt, "50"), 50u);  // not a terminal: COLUMNS if asked for
  EXPECT_EQ(output_width(std::nullopt, nullptr), 0u);
  EXPECT_EQ(output_width(std::nullopt, "wide"), 0u);
}

}  // namespace
}  // namespace gradpool::cli
