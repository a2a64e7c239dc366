#include "cli/job_commands.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <google/protobuf/util/json_util.h>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/log_stream.h"
#include "cli/submit_request.h"
#include "cli/terminal.h"
#include "cli/views.h"
#include "common/error.h"
#include "common/file_util.h"

namespace gradpool::cli {
namespace {

struct SubmitFlags {
  std::string spec_file;
  std::vector<std::string> overrides;
  int array_size = 0;
  bool quiet = false;
};

int submit(const GlobalOptions& global, const SubmitFlags& flags) {
  SubmitArgs args;
  args.spec_text = read_file(flags.spec_file);
  args.source_name = flags.spec_file;
  args.overrides = flags.overrides;
  args.array_size = flags.array_size;
  const PreparedSubmit prepared = prepare_submit(args, std::filesystem::current_path());
  Client client(global);
  v1::SubmitResponse response;
  client.check(client.jobs().Submit(client.context().get(), prepared.request, &response));
  for (const auto& job : response.jobs())
    std::printf(flags.quiet ? "%llu\n" : "submitted job %llu\n",
                static_cast<unsigned long long>(job.id()));
  return 0;
}

int list(const GlobalOptions& global, const ListArgs& args) {
  const char* login = std::getenv("USER");
  const v1::ListJobsRequest request = make_list_request(args, login ? login : "");
  Client client(global);
  v1::ListJobsResponse response;
  client.check(client.jobs().List(client.context().get(), request, &response));
  print_table(job_table(response.jobs(), now_ms()));
  return 0;
}

v1::Job get_job(Client& client, uint64_t id) {
  v1::JobRef ref;
  ref.set_id(id);
  v1::Job job;
  client.check(client.jobs().Get(client.context().get(), ref, &job));
  return job;
}

int show(const GlobalOptions& global, uint64_t id, bool json) {
  Client client(global);
  const v1::Job job = get_job(client, id);
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    const auto status = google::protobuf::util::MessageToJsonString(job, &text, options);
    if (!status.ok()) fail("job {}: cannot write as JSON: {}", id, status.ToString());
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  std::fputs(job_details(job, now_ms(), stdout_is_tty(), output_width()).c_str(), stdout);
  return 0;
}

// Cancels each job; a failure is reported and the others are still cancelled.
int cancel(const GlobalOptions& global, const std::vector<uint64_t>& ids) {
  Client client(global);
  int status = 0;
  for (uint64_t id : ids) {
    v1::JobRef ref;
    ref.set_id(id);
    v1::Job job;
    const grpc::Status result = client.jobs().Cancel(client.context().get(), ref, &job);
    if (result.ok()) {
      std::printf("job %llu: %s\n", static_cast<unsigned long long>(id),
                  state_name(job.state()).c_str());
    } else {
      std::fprintf(stderr, "gradpool: cancel: job %llu: %s\n", static_cast<unsigned long long>(id),
                   client.describe_failure(result).c_str());
      status = 1;
    }
  }
  return status;
}

// Without -f: 0 once the log is printed. With -f: 0 iff the job SUCCEEDED.
int logs(const GlobalOptions& global, uint64_t id, bool follow) {
  Client client(global);
  auto context = client.stream_context();
  client.check(copy_job_log(client, *context, id, follow, stdout));
  if (!follow) return 0;
  return get_job(client, id).state() == v1::JOB_SUCCEEDED ? 0 : 1;
}

}  // namespace

v1::ListJobsRequest make_list_request(const ListArgs& args, const std::string& login_user) {
  v1::ListJobsRequest request;
  if (args.mine) {
    if (login_user.empty()) fail("--mine: $USER is not set; give --user NAME");
    request.set_user(login_user);
  } else {
    request.set_user(args.user);
  }
  request.set_limit(args.limit);
  if (!args.states.empty()) {
    size_t begin = 0;
    while (begin <= args.states.size()) {
      const size_t comma = std::min(args.states.find(',', begin), args.states.size());
      const std::string name = args.states.substr(begin, comma - begin);
      const auto state = parse_state(name);
      if (!state) fail("--state: unknown state '{}' (known: {})", name, state_names());
      request.add_states(*state);
      begin = comma + 1;
    }
  } else if (!args.all) {
    for (auto state : {v1::JOB_QUEUED, v1::JOB_STARTING, v1::JOB_RUNNING})
      request.add_states(state);
  }
  return request;
}

void add_job_commands(CLI::App& app, const GlobalOptions& global, Commands& commands) {
  auto submit_flags = std::make_shared<SubmitFlags>();
  auto* submit_cmd = app.add_subcommand("submit", "submit a job (or a job array) to the pool");
  submit_cmd->add_option("spec", submit_flags->spec_file, "job spec (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  submit_cmd
      ->add_option("--set", submit_flags->overrides,
                   "override a spec field: --set lora.r=8 (repeatable)")
      ->allow_extra_args(false);
  submit_cmd
      ->add_option("--array", submit_flags->array_size,
                   "submit N jobs; {index} in name, output and seed expands to 0..N-1")
      ->check(CLI::Range(1, 10000));
  submit_cmd->add_flag("-q,--quiet", submit_flags->quiet, "print only the job ids");
  commands.push_back(
      {submit_cmd, "submit", [&global, submit_flags] { return submit(global, *submit_flags); }});

  auto list_args = std::make_shared<ListArgs>();
  auto* list_cmd = app.add_subcommand("list", "list jobs (by default those not finished yet)");
  auto* user_opt = list_cmd->add_option("--user", list_args->user, "only this user's jobs");
  list_cmd->add_flag("--mine", list_args->mine, "only my jobs (those of $USER)")
      ->excludes(user_opt);
  list_cmd->add_option("--state", list_args->states,
                       "only these states, comma-separated: " + state_names());
  list_cmd->add_flag("--all", list_args->all, "finished jobs too");
  list_cmd->add_option("--limit", list_args->limit, "at most N jobs, newest first")
      ->check(CLI::Range(0, 1000000));
  commands.push_back({list_cmd, "list", [&global, list_args] { return list(global, *list_args); }});

  auto show_id = std::make_shared<uint64_t>(0);
  auto show_json = std::make_shared<bool>(false);
  auto* show_cmd = app.add_subcommand("show", "show everything about one job");
  show_cmd->add_option("id", *show_id, "job id")->required();
  show_cmd->add_flag("--json", *show_json, "print the Job message as JSON");
  commands.push_back({show_cmd, "show", [&global, show_id, show_json] {
                        return show(global, *show_id, *show_json);
                      }});

  auto cancel_ids = std::make_shared<std::vector<uint64_t>>();
  auto* cancel_cmd = app.add_subcommand("cancel", "cancel jobs (yours, or any as an admin)");
  cancel_cmd->add_option("ids", *cancel_ids, "job ids")->required();
  commands.push_back(
      {cancel_cmd, "cancel", [&global, cancel_ids] { return cancel(global, *cancel_ids); }});

  auto logs_id = std::make_shared<uint64_t>(0);
  auto logs_follow = std::make_shared<bool>(false);
  auto* logs_cmd = app.add_subcommand("logs", "print a job's log");
  logs_cmd->add_option("id", *logs_id, "job id")->required();
  logs_cmd->add_flag("-f,--follow", *logs_follow,
                     "keep following until the job ends; exit 0 iff it succeeded");
  commands.push_back({logs_cmd, "logs", [&global, logs_id, logs_follow] {
                        return logs(global, *logs_id, *logs_follow);
                      }});
}

}  // namespace gradpool::cli
