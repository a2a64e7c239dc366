#include "coordinator/store/job_store.h"

#include "common/error.h"
#include "coordinator/store/schema_version.h"

namespace gradpool {
namespace {

const std::vector<std::string> kMigrations = {
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user TEXT NOT NULL, name TEXT NOT NULL,"
    "  state INTEGER NOT NULL, reason INTEGER NOT NULL, queue_position INTEGER NOT NULL,"
    "  spec_yaml TEXT NOT NULL,"
    "  gpus INTEGER NOT NULL, gpu_type TEXT NOT NULL, min_gpu_memory_gb REAL NOT NULL,"
    "  priority INTEGER NOT NULL,"
    "  submit_ms INTEGER NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL, max_restarts INTEGER NOT NULL,"
    "  output TEXT NOT NULL, message TEXT NOT NULL,"
    "  dataset TEXT NOT NULL, dataset_sha256 TEXT NOT NULL,"
    "  array_id INTEGER NOT NULL, array_index INTEGER NOT NULL,"
    "  rendezvous_token TEXT NOT NULL, accounted_ms INTEGER NOT NULL,"
    "  step INTEGER NOT NULL, total_steps INTEGER NOT NULL, loss REAL NOT NULL,"
    "  learning_rate REAL NOT NULL, grad_norm REAL NOT NULL, tokens_per_second REAL NOT NULL,"
    "  tokens INTEGER NOT NULL, checkpoint_step INTEGER NOT NULL, progress_ms INTEGER NOT NULL);"
    "CREATE INDEX jobs_by_state ON jobs (state);"
    "CREATE INDEX jobs_by_user ON jobs (user);"
    "CREATE INDEX jobs_by_dataset ON jobs (dataset);",
    // 2: when a requeued job re-entered the queue, for its next attempt's queue wait.
    "ALTER TABLE jobs ADD COLUMN requeued_ms INTEGER NOT NULL DEFAULT 0;"};

// Every column but id, in the order bind_columns() and read_row() use.
const std::vector<std::string> kColumns = {"user",
                                           "name",
                                           "state",
                                           "reason",
                                           "queue_position",
                                           "spec_yaml",
                                           "gpus",
                                           "gpu_type",
                                           "min_gpu_memory_gb",
                                           "priority",
                                           "submit_ms",
                                           "start_ms",
                                           "end_ms",
                                           "attempt",
                                           "max_restarts",
                                           "output",
                                           "message",
                                           "dataset",
                                           "dataset_sha256",
                                           "array_id",
                                           "array_index",
                                           "rendezvous_token",
                                           "accounted_ms",
                                           "step",
                                           "total_steps",
                                           "loss",
                                           "learning_rate",
                                           "grad_norm",
                                           "tokens_per_second",
                                           "tokens",
                                           "checkpoint_step",
                                           "progress_ms",
                                           "requeued_ms"};

// "a, b, c" with each name followed by `suffix` ("" or " = ?").
std::string column_list(const std::string& suffix) {
  std::string list;
  for (const std::string& column : kColumns) list += (list.empty() ? "" : ", ") + column + suffix;
  return list;
}

void bind_columns(Statement& statement, const JobRecord& record) {
  const v1::Job& job = record.job;
  const v1::Progress& progress = job.progress();
  int i = 0;
  statement.bind(++i, job.user());
  statement.bind(++i, job.name());
  statement.bind(++i, int64_t{job.state()});
  statement.bind(++i, int64_t{job.reason()});
  statement.bind(++i, int64_t{job.queue_position()});
  statement.bind(++i, job.spec_yaml());
  statement.bind(++i, int64_t{job.gpus()});
  statement.bind(++i, job.gpu_type());
  statement.bind(++i, job.min_gpu_memory_gb());
  statement.bind(++i, int64_t{job.priority()});
  statement.bind(++i, job.submit_ms());
  statement.bind(++i, job.start_ms());
  statement.bind(++i, job.end_ms());
  statement.bind(++i, int64_t{job.attempt()});
  statement.bind(++i, int64_t{job.max_restarts()});
  statement.bind(++i, job.output());
  statement.bind(++i, job.message());
  statement.bind(++i, job.dataset());
  statement.bind(++i, record.dataset_sha256);
  statement.bind(++i, static_cast<int64_t>(job.array_id()));
  statement.bind(++i, int64_t{job.array_index()});
  statement.bind(++i, record.rendezvous_token);
  statement.bind(++i, record.accounted_ms);
  statement.bind(++i, progress.step());
  statement.bind(++i, progress.total_steps());
  statement.bind(++i, progress.loss());
  statement.bind(++i, progress.learning_rate());
  statement.bind(++i, progress.grad_norm());
  statement.bind(++i, progress.tokens_per_second());
  statement.bind(++i, progress.tokens());
  statement.bind(++i, progress.checkpoint_step());
  statement.bind(++i, progress.updated_ms());
  statement.bind(++i, record.requeued_ms);
}

// Reads a row selected as "id, <kColumns>".
JobRecord read_row(const Statement& row) {
  JobRecord record;
  v1::Job& job = record.job;
  v1::Progress& progress = *job.mutable_progress();
  int i = 0;
  job.set_id(static_cast<uint64_t>(row.column_int(i++)));
  job.set_user(row.column_text(i++));
  job.set_name(row.column_text(i++));
  job.set_state(static_cast<v1::JobState>(row.column_int(i++)));
  job.set_reason(static_cast<v1::PendingReason>(row.column_int(i++)));
  job.set_queue_position(static_cast<int32_t>(row.column_int(i++)));
  job.set_spec_yaml(row.column_text(i++));
  job.set_gpus(static_cast<int32_t>(row.column_int(i++)));
  job.set_gpu_type(row.column_text(i++));
  job.set_min_gpu_memory_gb(row.column_double(i++));
  job.set_priority(static_cast<int32_t>(row.column_int(i++)));
  job.set_submit_ms(row.column_int(i++));
  job.set_start_ms(row.column_int(i++));
  job.set_end_ms(row.column_int(i++));
  job.set_attempt(static_cast<int32_t>(row.column_int(i++)));
  job.set_max_restarts(static_cast<int32_t>(row.column_int(i++)));
  job.set_output(row.column_text(i++));
  job.set_message(row.column_text(i++));
  job.set_dataset(row.column_text(i++));
  record.dataset_sha256 = row.column_text(i++);
  job.set_array_id(static_cast<uint64_t>(row.column_int(i++)));
  job.set_array_index(static_cast<int32_t>(row.column_int(i++)));
  record.rendezvous_token = row.column_text(i++);
  record.accounted_ms = row.column_int(i++);
  progress.set_step(row.column_int(i++));
  progress.set_total_steps(row.column_int(i++));
  progress.set_loss(row.column_double(i++));
  progress.set_learning_rate(row.column_double(i++));
  progress.set_grad_norm(row.column_double(i++));
  progress.set_tokens_per_second(row.column_double(i++));
  progress.set_tokens(row.column_int(i++));
  progress.set_checkpoint_step(row.column_int(i++));
  progress.set_updated_ms(row.column_int(i++));
  record.requeued_ms = row.column_int(i++);
  return record;
}

std::string select_sql(const std::string& where) {
  return "SELECT id, " + column_list("") + " FROM jobs " + where;
}

}  // namespace

bool is_final(v1::JobState state) {
  return state == v1::JOB_SUCCEEDED || state == v1::JOB_FAILED || state == v1::JOB_CANCELLED;
}

bool is_placed(v1::JobState state) {
  return state == v1::JOB_STARTING || state == v1::JOB_RUNNING;
}

JobStore::JobStore(Database& db) : db_(db) {
  migrate_schema(db_, "jobs", kMigrations);
}

uint64_t JobStore::insert(const JobRecord& record) {
  auto held = db_.lock();
  std::string placeholders = "?";
  for (size_t i = 1; i < kColumns.size(); ++i) placeholders += ", ?";
  Statement statement(db_,
                      "INSERT INTO jobs (" + column_list("") + ") VALUES (" + placeholders + ")");
  bind_columns(statement, record);
  statement.run();
  return static_cast<uint64_t>(db_.last_insert_id());
}

void JobStore::update(const JobRecord& record) {
  auto held = db_.lock();
  Statement statement(db_, "UPDATE jobs SET " + column_list(" = ?") + " WHERE id = ?");
  bind_columns(statement, record);
  statement.bind(static_cast<int>(kColumns.size()) + 1, static_cast<int64_t>(record.job.id()));
  statement.run();
  if (db_.changes() != 1) fail("job {}: no such job to update", record.job.id());
}

std::optional<JobRecord> JobStore::find(uint64_t id) const {
  auto held = db_.lock();
  Statement select(db_, select_sql("WHERE id = ?"));
  select.bind(1, static_cast<int64_t>(id));
  if (!select.step()) return std::nullopt;
  return read_row(select);
}

std::vector<JobRecord> JobStore::list(const JobFilter& filter) const {
  std::string where = "WHERE (?1 = '' OR user = ?1)";
  if (!filter.states.empty()) {
    where += " AND state IN (";
    for (size_t i = 0; i < filter.states.size(); ++i)
      where += (i ? ", " : "") + std::to_string(static_cast<int>(filter.states[i]));
    where += ")";
  }
  where += " ORDER BY id DESC";
  if (filter.limit > 0) where += " LIMIT " + std::to_string(filter.limit);
  auto held = db_.lock();
  Statement select(db_, select_sql(where));
  select.bind(1, filter.user);
  std::vector<JobRecord> records;
  while (select.step()) records.push_back(read_row(select));
  return records;
}

std::map<v1::JobState, int64_t> JobStore::count_by_state() const {
  auto held = db_.lock();
  Statement select(db_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  std::map<v1::JobState, int64_t> counts;
  while (select.step())
    counts[static_cast<v1::JobState>(select.column_int(0))] = select.column_int(1);
  return counts;
}

std::vector<uint64_t> JobStore::unfinished_using_dataset(const std::string& name) const {
  auto held = db_.lock();
  Statement select(db_, "SELECT id FROM jobs WHERE dataset = ? AND state IN (?, ?, ?) ORDER BY id");
  select.bind(1, name)
      .bind(2, int64_t{v1::JOB_QUEUED})
      .bind(3, int64_t{v1::JOB_STARTING})
      .bind(4, int64_t{v1::JOB_RUNNING});
  std::vector<uint64_t> ids;
  while (select.step()) ids.push_back(static_cast<uint64_t>(select.column_int(0)));
  return ids;
}

}  // namespace gradpool
