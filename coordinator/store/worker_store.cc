#include "coordinator/store/worker_store.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "coordinator/store/schema_version.h"

namespace gradpool {
namespace {

const std::vector<std::string> kMigrations = {
    "CREATE TABLE workers ("
    "  id TEXT PRIMARY KEY,"
    "  hostname TEXT NOT NULL, address TEXT NOT NULL,"
    "  gpus TEXT NOT NULL,"  // JSON array of {index, name, uuid, memory_bytes, compute_capability}
    "  state INTEGER NOT NULL, last_heartbeat_ms INTEGER NOT NULL,"
    "  metrics_address TEXT NOT NULL)"};

std::string gpus_to_json(const v1::Worker& worker) {
  nlohmann::json gpus = nlohmann::json::array();
  for (const v1::Gpu& gpu : worker.gpus())
    gpus.push_back({{"index", gpu.index()},
                    {"name", gpu.name()},
                    {"uuid", gpu.uuid()},
                    {"memory_bytes", gpu.memory_bytes()},
                    {"compute_capability", gpu.compute_capability()}});
  return gpus.dump();
}

void gpus_from_json(const std::string& text, v1::Worker* worker) {
  for (const auto& item : nlohmann::json::parse(text)) {
    v1::Gpu* gpu = worker->add_gpus();
    gpu->set_index(item.at("index").get<int32_t>());
    gpu->set_name(item.at("name").get<std::string>());
    gpu->set_uuid(item.at("uuid").get<std::string>());
    gpu->set_memory_bytes(item.at("memory_bytes").get<int64_t>());
    gpu->set_compute_capability(item.at("compute_capability").get<std::string>());
  }
}

constexpr char kSelect[] =
    "SELECT id, hostname, address, gpus, state, last_heartbeat_ms, metrics_address FROM workers ";

v1::Worker read_row(const Statement& row) {
  v1::Worker worker;
  worker.set_id(row.column_text(0));
  worker.set_hostname(row.column_text(1));
  worker.set_address(row.column_text(2));
  gpus_from_json(row.column_text(3), &worker);
  worker.set_state(static_cast<v1::WorkerState>(row.column_int(4)));
  worker.set_last_heartbeat_ms(row.column_int(5));
  worker.set_metrics_address(row.column_text(6));
  return worker;
}

}  // namespace

WorkerStore::WorkerStore(Database& db) : db_(db) {
  migrate_schema(db_, "workers", kMigrations);
}

void WorkerStore::upsert(const v1::Worker& worker) {
  auto held = db_.lock();
  Statement upsert(db_,
                   "INSERT OR REPLACE INTO workers (id, hostname, address, gpus, state, "
                   "last_heartbeat_ms, metrics_address) VALUES (?, ?, ?, ?, ?, ?, ?)");
  upsert.bind(1, worker.id())
      .bind(2, worker.hostname())
      .bind(3, worker.address())
      .bind(4, gpus_to_json(worker))
      .bind(5, int64_t{worker.state()})
      .bind(6, worker.last_heartbeat_ms())
      .bind(7, worker.metrics_address())
      .run();
}

void WorkerStore::set_state(const std::string& id, v1::WorkerState state) {
  auto held = db_.lock();
  Statement update(db_, "UPDATE workers SET state = ? WHERE id = ?");
  update.bind(1, int64_t{state}).bind(2, id).run();
  if (db_.changes() != 1) fail("worker '{}': no such worker", id);
}

void WorkerStore::set_last_heartbeat(const std::string& id, int64_t now_ms) {
  auto held = db_.lock();
  Statement update(db_, "UPDATE workers SET last_heartbeat_ms = ? WHERE id = ?");
  update.bind(1, now_ms).bind(2, id).run();
}

std::optional<v1::Worker> WorkerStore::find(const std::string& id) const {
  auto held = db_.lock();
  Statement select(db_, std::string(kSelect) + "WHERE id = ?");
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  return read_row(select);
}

std::vector<v1::Worker> WorkerStore::list() const {
  auto held = db_.lock();
  Statement select(db_, std::string(kSelect) + "ORDER BY id");
  std::vector<v1::Worker> workers;
  while (select.step()) workers.push_back(read_row(select));
  return workers;
}

}  // namespace gradpool
