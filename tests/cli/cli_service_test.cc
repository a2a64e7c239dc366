// The gradpool command line against the real service (coordinator, worker and ranks as processes
// on loopback, real tokens): the commands as a user types them, `gradpool top` in a real terminal
// (a tmux pane), and `gradpool run`, which starts a service of its own.
#include <unistd.h>

#include <regex>

#include "cli/table.h"
#include "tests/service/service_fixture.h"

namespace gradpool::testing {
namespace {

constexpr auto kScreenDeadline = std::chrono::seconds(60);

struct CliResult {
  int status = -1;
  std::string out, err;
};

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  for (size_t begin = 0; begin <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    if (::access((dirs.substr(begin, end - begin) + "/" + program).c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The step of "STEP/TOTAL" cells like "57/2000" in a screen, -1 when none shows.
int64_t shown_step(const std::string& screen, int64_t total) {
  std::smatch match;
  const std::regex cell("\\b(\\d+)/" + std::to_string(total) + "\\b");
  return std::regex_search(screen, match, cell) ? std::stoll(match[1]) : -1;
}

class CliServiceTest : public ServiceTest {
 protected:
  // Runs `gradpool ARGS` holding `token`, against this test's coordinator.
  CliResult gradpool(const std::string& token, Args args) {
    args.insert(args.begin(), GRADPOOL_CLI_BIN);
    ChildProcess cli(args, next_log("gradpool"),
                     {"GRADPOOL_TOKEN=" + token, "GRADPOOL_COORDINATOR=" + address()});
    CliResult result;
    const std::optional<int> status = cli.wait_until(Clock::now() + kJobDeadline);
    EXPECT_TRUE(status.has_value()) << "gradpool " << args[1] << " did not end";
    result.status = status.value_or(-1);
    result.out = cli.stdout_text();
    result.err = cli.stderr_text();
    return result;
  }

  // The id `gradpool submit` printed ("submitted job N"), 0 when it failed.
  uint64_t submit_file(const std::string& token, const std::string& spec_yaml,
                       const std::string& file) {
    write_file_atomic((dir_ / file).string(), spec_yaml);
    const CliResult submitted = gradpool(token, {"submit", (dir_ / file).string()});
    EXPECT_EQ(submitted.status, 0) << submitted.err;
    std::smatch match;
    const std::regex line("submitted job (\\d+)");
    if (!std::regex_search(submitted.out, match, line)) {
      ADD_FAILURE() << "no job id in: " << submitted.out;
      return 0;
    }
    return std::stoull(match[1]);
  }
};

// A tmux server of its own (a socket named for this process and test) in which `gradpool top`
// runs in a real pseudo-terminal; it is killed with everything in it when the test ends.
class Tmux {
 public:
  explicit Tmux(const fs::path& dir)
      : dir_(dir), socket_("gradpool-test-" + std::to_string(::getpid())) {
    // Panes stay after their command ends, so that its exit and the screen it left can be read.
    write_file_atomic((dir_ / "tmux.conf").string(), "set -g remain-on-exit on\n");
  }
  ~Tmux() {
    run({"kill-server"}, false);
    // tmux leaves its socket behind; it lives where tmux puts every -L socket.
    const char* tmpdir = std::getenv("TMUX_TMPDIR");
    std::error_code ignored;
    fs::remove(fs::path(tmpdir && *tmpdir ? tmpdir : "/tmp") /
                   ("tmux-" + std::to_string(::getuid())) / socket_,
               ignored);
  }

  // tmux's stdout for `args`; a failure fails the test unless `must_succeed` is false.
  std::string run(const Args& args, bool must_succeed = true) {
    Args argv = {"tmux", "-L", socket_, "-f", (dir_ / "tmux.conf").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess tmux(argv, dir_ / ("tmux-" + std::to_string(++calls_)));
    const int status = tmux.wait();
    if (must_succeed) {
      EXPECT_EQ(status, 0) << args[0] << ": " << tmux.stderr_text();
    }
    return tmux.stdout_text();
  }

  // Starts `command` in a new detached session `name` of `columns` x `rows`.
  void start(const std::string& name, int columns, int rows, const std::string& command) {
    run({"new-session", "-d", "-s", name, "-x", std::to_string(columns), "-y", std::to_string(rows),
         command});
  }

  std::string screen(const std::string& name) { return run({"capture-pane", "-p", "-t", name}); }
  std::string format(const std::string& name, const std::string& format) {
    std::string text = run({"display-message", "-p", "-t", name, format});
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

  // Polls the screen of `name` until `ready(screen)`; the last screen either way.
  std::string wait_for_screen(const std::string& name,
                              const std::function<bool(const std::string&)>& ready) {
    const auto deadline = Clock::now() + kScreenDeadline;
    std::string shown;
    while (!ready(shown = screen(name)) && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return shown;
  }

  // Whether the command of session `name` ended before the deadline.
  bool wait_until_dead(const std::string& name) {
    const auto deadline = Clock::now() + kScreenDeadline;
    while (format(name, "#{pane_dead}") != "1") {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  fs::path dir_;
  std::string socket_;
  int calls_ = 0;
};

TEST_F(CliServiceTest, CommandsDriveAJobFromSubmitToItsAdapter) {
  start_coordinator();
  start_worker("node", 1);
  wait_for_workers(1);
  const std::string alice = add_token("alice", "user"), bob = add_token("bob", "user");

  const uint64_t id =
      submit_file(alice, job_spec("cli-e2e", 1, 3, (dir_ / "out").string()), "job.yaml");
  ASSERT_NE(id, 0u);
  const CliResult listed = gradpool(alice, {"list", "--all"});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "cli-e2e")) << listed.out;

  const CliResult logs = gradpool(alice, {"logs", "-f", std::to_string(id)});
  EXPECT_EQ(logs.status, 0) << logs.err << logs_of_processes();
  EXPECT_TRUE(contains(logs.out, "[rank 0]")) << logs.out;

  const CliResult shown = gradpool(alice, {"show", std::to_string(id), "--json"});
  ASSERT_EQ(shown.status, 0) << shown.err;
  const auto job = nlohmann::json::parse(shown.out, nullptr, false);
  ASSERT_TRUE(job.is_object()) << shown.out;
  EXPECT_EQ(job.value("state", ""), "JOB_SUCCEEDED") << shown.out;
  EXPECT_EQ(job.value("name", ""), "cli-e2e");
  EXPECT_TRUE(fs::exists(dir_ / "out" / "adapter_model.safetensors"));

  const CliResult added =
      gradpool(alice, {"datasets", "add", "more-notes", (shared_ / "notes.jsonl").string()});
  EXPECT_EQ(added.status, 0) << added.err;
  EXPECT_TRUE(contains(added.out, "added dataset more-notes: 64 records")) << added.out;
  const CliResult datasets = gradpool(bob, {"datasets", "list"});
  EXPECT_EQ(datasets.status, 0) << datasets.err;
  EXPECT_TRUE(contains(datasets.out, "more-notes")) << datasets.out;

  // Bob's job wants two slots of a one-slot pool, so it waits; Alice may not cancel it.
  const uint64_t bobs =
      submit_file(bob, job_spec("bob-waits", 2, 3, (dir_ / "out-bob").string()), "bob.yaml");
  ASSERT_NE(bobs, 0u);
  // top's script form: one frame, since stdout is not a terminal here.
  const CliResult top = gradpool(alice, {"top"});
  EXPECT_EQ(top.status, 0) << top.err;
  EXPECT_EQ(count(top.out, "gradpool top   coordinator"), 1u) << top.out;
  EXPECT_TRUE(contains(top.out, "jobs: 0 running, 0 starting, 1 queued")) << top.out;
  EXPECT_TRUE(contains(top.out, "bob-waits")) << top.out;
  EXPECT_EQ(top.out.find('\033'), std::string::npos) << "escape codes in plain text";
  const CliResult stranger = gradpool(std::string(64, '0'), {"top", "--once"});
  EXPECT_EQ(stranger.status, 1);
  EXPECT_TRUE(contains(stranger.err, "UNAUTHENTICATED")) << stranger.err;

  const CliResult refused = gradpool(alice, {"cancel", std::to_string(bobs)});
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(contains(refused.err, "PERMISSION_DENIED")) << refused.err;
  v1::Job still;
  ASSERT_TRUE(get_job(admin_token_, bobs, &still).ok());
  EXPECT_EQ(still.state(), v1::JOB_QUEUED);
  const CliResult cancelled = gradpool(bob, {"cancel", std::to_string(bobs)});
  EXPECT_EQ(cancelled.status, 0) << cancelled.err;
  EXPECT_TRUE(contains(cancelled.out, "CANCELLED")) << cancelled.out;
}

TEST_F(CliServiceTest, TopRefreshesInPlaceInATerminalAndRestoresIt) {
  if (!on_path("tmux"))
    GTEST_SKIP() << "tmux is not installed: `gradpool top` is not tested in a "
                    "terminal (apt-get install tmux)";
  start_coordinator();
  start_worker("node", 1);
  wait_for_workers(1);
  const std::string alice = add_token("alice", "user");
  constexpr int64_t kSteps = 1000000;  // far more than the test watches; cancelled at the end
  std::string spec = job_spec("watched-by-top", 1, kSteps, (dir_ / "out").string());
  spec.replace(spec.find("checkpoint_every: 2"), 19, "checkpoint_every: 1000");
  const uint64_t id = submit_ok(alice, spec);
  wait_for_job(
      id, [](const v1::Job& job) { return job.progress().step() > 0; }, "made a step");

  Tmux tmux(dir_);
  const auto top_command = [&](const std::string& tag, const std::string& interval_s) {
    const fs::path after = dir_ / (tag + ".after");
    // After top: its exit status and the terminal's settings, as the shell finds them.
    return "env GRADPOOL_TOKEN=" + alice + " GRADPOOL_COORDINATOR=" + address() + " '" +
           GRADPOOL_CLI_BIN + "' top --interval-s " + interval_s + "; echo \"exit=$?\" > '" +
           after.string() + "'; stty -a >> '" + after.string() + "'";
  };
  const auto expect_restored = [&](const std::string& session, const std::string& tag) {
    ASSERT_TRUE(tmux.wait_until_dead(session)) << tmux.screen(session);
    EXPECT_EQ(tmux.format(session, "#{alternate_on}"), "0");
    EXPECT_EQ(count(tmux.screen(session), "gradpool top   coordinator"), 0u)
        << "the frame is still on the main screen:\n"
        << tmux.screen(session);
    const std::string after = read_file((dir_ / (tag + ".after")).string());
    EXPECT_TRUE(contains(after, "exit=0")) << after;
    EXPECT_TRUE(std::regex_search(after, std::regex("(^|\\s)icanon(\\s|;|$)"))) << after;
    EXPECT_TRUE(std::regex_search(after, std::regex("(^|\\s)echo(\\s|;|$)"))) << after;
  };

  tmux.start("top", 120, 30, top_command("q", "0.5"));
  const std::string first = tmux.wait_for_screen("top", [&](const std::string& screen) {
    return contains(screen, "watched-by-top") && shown_step(screen, kSteps) > 0;
  });
  const int64_t first_step = shown_step(first, kSteps);
  ASSERT_GT(first_step, 0) << first;
  EXPECT_EQ(tmux.format("top", "#{alternate_on}"), "1");
  EXPECT_TRUE(contains(first, "workers: 1 up, 0 lost   gpus: 1/1 busy (1/1 cpu)")) << first;
  EXPECT_TRUE(contains(first, "jobs: 1 running, 0 starting, 0 queued")) << first;
  // Redrawn in place: a later screen shows a later step, and still a single frame.
  const std::string later = tmux.wait_for_screen(
      "top", [&](const std::string& screen) { return shown_step(screen, kSteps) > first_step; });
  EXPECT_GT(shown_step(later, kSteps), first_step) << later;
  EXPECT_EQ(count(later, "gradpool top   coordinator"), 1u) << later;
  EXPECT_EQ(count(later, "watched-by-top"), 1u) << later;
  tmux.run({"send-keys", "-t", "top", "q"});
  expect_restored("top", "q");

  // On a small terminal the frame fits it. This one refreshes only every 5 minutes, so it is the
  // resize (SIGWINCH) that redraws it, and Ctrl-C that ends the wait, as q does.
  tmux.start("small", 60, 8, top_command("ctrl-c", "300"));
  const std::string small = tmux.wait_for_screen(
      "small", [&](const std::string& screen) { return shown_step(screen, kSteps) > 0; });
  EXPECT_GT(shown_step(small, kSteps), 0) << small;
  size_t lines = 0;
  for (size_t begin = 0; begin < small.size(); ++lines) {
    const size_t end = std::min(small.find('\n', begin), small.size());
    EXPECT_LE(cli::display_width(small.substr(begin, end - begin)), 60u) << small;
    begin = end + 1;
  }
  EXPECT_LE(lines, 8u) << small;
  // Grown, the terminal gets the whole frame at once.
  tmux.run({"resize-window", "-t", "small", "-x", "110", "-y", "12"});
  const std::string grown = tmux.wait_for_screen("small", [](const std::string& screen) {
    return contains(screen, "watched-by-top") && contains(screen, "PROGRESS");
  });
  EXPECT_TRUE(contains(grown, "watched-by-top") && contains(grown, "PROGRESS")) << grown;
  tmux.run({"send-keys", "-t", "small", "C-c"});
  expect_restored("small", "ctrl-c");

  v1::Job job;
  EXPECT_TRUE(cancel_job(admin_token_, id, &job).ok());
}

TEST_F(CliServiceTest, RunTrainsAJobOnAServiceOfItsOwn) {
  const fs::path spec = dir_ / "tiny.yaml";
  write_file_atomic(spec.string(), job_spec("run-tiny", 1, 3, (dir_ / "run-out").string()));
  ChildProcess run(
      {GRADPOOL_CLI_BIN, "run", spec.string(), "--data-dir", (dir_ / "run-state").string()},
      next_log("gradpool-run"));
  const std::optional<int> status = run.wait_until(Clock::now() + kJobDeadline);
  ASSERT_TRUE(status.has_value()) << "gradpool run did not end\n" << run.output();
  EXPECT_EQ(*status, 0) << run.output();
  EXPECT_TRUE(contains(run.stdout_text(), "[rank 0]")) << run.output();
  EXPECT_TRUE(std::regex_search(run.stdout_text(),
                                std::regex("job 1 \\(run-tiny\\) SUCCEEDED after .*: 3/3 steps")))
      << run.output();
  EXPECT_TRUE(contains(run.stdout_text(), "output: " + (dir_ / "run-out").string()))
      << run.output();
  EXPECT_TRUE(fs::exists(dir_ / "run-out" / "adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / "run-out" / "adapter_config.json"));
}

}  // namespace
}  // namespace gradpool::testing
