#include "coordinator/store/schema_version.h"

#include "common/error.h"

namespace gradpool {

void migrate_schema(Database& db, const std::string& store,
                    const std::vector<std::string>& migrations) {
  db.transaction([&] {
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_versions ("
        "  store TEXT PRIMARY KEY,"
        "  version INTEGER NOT NULL)");
    const int64_t applied = [&] {
      Statement select(db, "SELECT version FROM schema_versions WHERE store = ?");
      select.bind(1, store);
      return select.step() ? select.column_int(0) : int64_t{0};
    }();
    const auto known = static_cast<int64_t>(migrations.size());
    if (applied > known)
      fail("{}: the {} tables are at schema version {}, newer than this coordinator ({})",
           db.path(), store, applied, known);
    for (int64_t version = applied; version < known; ++version) db.exec(migrations[version]);
    Statement record(db,
                     "INSERT INTO schema_versions (store, version) VALUES (?, ?) "
                     "ON CONFLICT(store) DO UPDATE SET version = excluded.version");
    record.bind(1, store).bind(2, known).run();
  });
}

}  // namespace gradpool
