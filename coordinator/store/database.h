// Database: one SQLite file in WAL mode, with prepared statements and transactions. The
// coordinator's stores (jobs, workers, datasets, tokens, usage) each own their tables and share
// one Database. Durability rule: a change is committed (synchronous=FULL) before the RPC that
// made it is answered.
//
// Thread safety: one connection guarded by a mutex; callers hold `lock()` (or run inside
// `transaction()`) for every statement. SQLite's own locking keeps a second process (the token
// command) safe on the same file.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gradpool {

class Database;

// A prepared statement. Bind with 1-based indexes, then step() row by row.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  // Advances to the next row: true while there is one. Throws Error on failure.
  bool step();
  // Runs a statement that returns no rows (INSERT/UPDATE/DELETE).
  void run();
  void reset();  // to re-run with new bindings

  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  bool column_is_null(int column) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class Database {
 public:
  // Opens (creating if needed) `path` in WAL mode with foreign keys on. Error names the file.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (schema, pragmas).
  void exec(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when it throws), holding the lock.
  void transaction(const std::function<void()>& body);
  // Inside transaction(): runs `action` once the transaction has committed, after the lock is
  // released; never if it rolls back. For effects outside the file that must match what was
  // committed (metrics counting a decision). `action` must not throw.
  void on_commit(std::function<void()> action);

  std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock(mutex_); }

  int64_t last_insert_id() const;
  int changes() const;  // rows changed by the last statement
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mutex_;
  bool in_transaction_ = false;
  std::vector<std::function<void()>> on_commit_;  // of the transaction in progress
};

}  // namespace gradpool
