// Versioned schemas for the stores that share the coordinator's SQLite file. Each store names
// itself and lists its migrations in order; the `schema_versions` table remembers how many of
// them each store has applied, so a newer coordinator upgrades an older file in place. (One
// PRAGMA user_version would not do: several stores, written independently, share the file.)
#pragma once

#include <string>
#include <vector>

#include "coordinator/store/database.h"

namespace gradpool {

// Applies migrations[applied..] of `store` in one transaction and records the new version.
// Error naming the store when the file is newer than this binary knows.
void migrate_schema(Database& db, const std::string& store,
                    const std::vector<std::string>& migrations);

}  // namespace gradpool
