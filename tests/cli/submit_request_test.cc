// What submit and run send: local validation with parse_job_spec's own messages, and local paths
// made absolute through overrides that the coordinator's parse_job_spec applies.
#include "cli/submit_request.h"

#include <gtest/gtest.h>

#include "cli/demo.h"
#include "common/error.h"
#include "common/file_util.h"
#include "tests/test_util.h"

namespace gradpool::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSpec = R"(name: tiny
model: models/gpt2
dataset: fortunes
steps: 10
)";

// What the coordinator will make of the request: the same parse, with its overrides.
JobSpec as_coordinator_sees(const v1::SubmitRequest& request) {
  return parse_job_spec(request.spec_yaml(), request.source_name(),
                        {request.overrides().begin(), request.overrides().end()});
}

SubmitArgs args_for(const std::string& spec_text) {
  SubmitArgs args;
  args.spec_text = spec_text;
  args.source_name = "job.yaml";
  return args;
}

TEST(CliSubmitRequest, RelativeModelBecomesAbsoluteAndANameStaysAName) {
  const fs::path cwd = "/home/alice/project";
  const PreparedSubmit prepared = prepare_submit(args_for(kSpec), cwd);
  const v1::SubmitRequest& request = prepared.request;
  EXPECT_EQ(request.spec_yaml(), kSpec);  // sent as written, so server errors point at its lines
  EXPECT_EQ(request.source_name(), "job.yaml");
  ASSERT_EQ(request.overrides_size(), 1);
  EXPECT_EQ(request.overrides(0), "model=\"/home/alice/project/models/gpt2\"");
  const JobSpec seen = as_coordinator_sees(request);
  EXPECT_EQ(seen.model, "/home/alice/project/models/gpt2");
  EXPECT_EQ(seen.dataset, "fortunes");
  EXPECT_EQ(seen.output, "./runs/tiny");  // the default: the coordinator puts it under its root
  EXPECT_EQ(prepared.spec.model, seen.model);
}

TEST(CliSubmitRequest, DatasetPathsBecomeAbsolute) {
  const fs::path cwd = gradpool::testing::temp_dir("cli-submit-dataset");
  write_file_atomic((cwd / "notes.jsonl").string(), "{\"text\": \"hi\"}\n");
  auto dataset_seen = [&](const std::string& dataset) {
    const std::string spec = "name: t\nmodel: /m\ndataset: " + dataset + "\nsteps: 1\n";
    return as_coordinator_sees(prepare_submit(args_for(spec), cwd).request).dataset;
  };
  EXPECT_EQ(dataset_seen("data/train.jsonl"), (cwd / "data/train.jsonl").string());
  EXPECT_EQ(dataset_seen("./data/../data/x.jsonl"), (cwd / "data/x.jsonl").string());
  EXPECT_EQ(dataset_seen("notes.jsonl"), (cwd / "notes.jsonl").string());  // exists here
  EXPECT_EQ(dataset_seen("missing.jsonl"), "missing.jsonl");  // not here: a registered name
  EXPECT_EQ(dataset_seen("/shared/data.jsonl"), "/shared/data.jsonl");
  EXPECT_TRUE(dataset_is_path("notes.jsonl", cwd));
  EXPECT_FALSE(dataset_is_path("notes", cwd));
}

TEST(CliSubmitRequest, GivenOutputBecomesAbsoluteTheDefaultOnlyForRun) {
  const fs::path cwd = "/work";
  const std::string with_output = std::string(kSpec) + "output: results/tiny/\n";
  EXPECT_EQ(as_coordinator_sees(prepare_submit(args_for(with_output), cwd).request).output,
            "/work/results/tiny");

  SubmitArgs run = args_for(kSpec);
  run.absolute_default_output = true;
  EXPECT_EQ(as_coordinator_sees(prepare_submit(run, cwd).request).output, "/work/runs/tiny");

  SubmitArgs overridden = args_for(kSpec);
  overridden.overrides = {"output=out/x"};
  EXPECT_EQ(as_coordinator_sees(prepare_submit(overridden, cwd).request).output, "/work/out/x");
}

TEST(CliSubmitRequest, OverridesAreKeptInOrderBeforeThePathOverrides) {
  SubmitArgs args = args_for(kSpec);
  args.overrides = {"lora.r=8", "model=other/model"};
  args.array_size = 0;
  const v1::SubmitRequest request = prepare_submit(args, "/w").request;
  ASSERT_EQ(request.overrides_size(), 3);
  EXPECT_EQ(request.overrides(0), "lora.r=8");
  EXPECT_EQ(request.overrides(1), "model=other/model");
  const JobSpec seen = as_coordinator_sees(request);
  EXPECT_EQ(seen.lora.r, 8);
  EXPECT_EQ(seen.model, "/w/other/model");  // the override's path, made absolute
}

TEST(CliSubmitRequest, AbsolutePathsAreSentUntouched) {
  const std::string spec =
      "name: t\nmodel: /models/gpt2\ndataset: /data/a.jsonl\nsteps: 1\n"
      "output: /results/t\n";
  EXPECT_EQ(prepare_submit(args_for(spec), "/w").request.overrides_size(), 0);
}

TEST(CliSubmitRequest, PathsWithYamlSpecialCharactersSurviveTheOverride) {
  const std::string spec = "name: t\nmodel: 'my models/#1: \"best\"'\ndataset: d\nsteps: 1\n";
  EXPECT_EQ(as_coordinator_sees(prepare_submit(args_for(spec), "/w").request).model,
            "/w/my models/#1: \"best\"");
}

TEST(CliSubmitRequest, ABadSpecFailsWithTheParsersOwnMessage) {
  const std::string spec = "name: t\nmodel: m\ndataset: d\nsteps: 1\nlora: {r: -4}\n";
  std::string expected;
  try {
    parse_job_spec(spec, "job.yaml");
  } catch (const Error& e) {
    expected = e.what();
  }
  ASSERT_FALSE(expected.empty());
  try {
    prepare_submit(args_for(spec), "/w");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.what(), expected);
  }
}

TEST(CliSubmitRequest, ArraysKeepTheIndexPlaceholder) {
  SubmitArgs args = args_for(
      "name: sweep-{index}\nmodel: m\ndataset: d\nsteps: 1\n"
      "output: out/sweep-{index}\n");
  args.array_size = 4;
  args.overrides = {"seed={index}"};
  const v1::SubmitRequest request = prepare_submit(args, "/w").request;
  EXPECT_EQ(request.array_size(), 4);
  ASSERT_EQ(request.overrides_size(), 3);
  EXPECT_EQ(request.overrides(0), "seed={index}");
  EXPECT_EQ(request.overrides(1), "model=\"/w/m\"");
  EXPECT_EQ(request.overrides(2), "output=\"/w/out/sweep-{index}\"");
  // Without --array the placeholder is just an invalid name.
  args.array_size = 0;
  args.overrides.clear();
  EXPECT_THROW(prepare_submit(args, "/w"), Error);
}

// The shared demo spec (common/demo_job.h) is a valid spec.
TEST(CliDemo, SpecParses) {
  EXPECT_NO_THROW(parse_job_spec(kDemoSpec, kDemoSpecSource));
}

}  // namespace
}  // namespace gradpool::cli
