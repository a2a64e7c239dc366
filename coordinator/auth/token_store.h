// TokenStore: the API tokens the coordinator accepts, each with its user and role. Tokens live in
// the `tokens` table of the coordinator's SQLite file as SHA-256 only, so a copy of the file does
// not give anyone access. The `gradpool-coordinator token` command and the running coordinator
// share the table through SQLite, which is why nothing is cached here.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store/database.h"

namespace gradpool {

enum class Role { kUser, kAdmin, kWorker };

const char* to_string(Role role);          // "user" | "admin" | "worker"
Role parse_role(const std::string& text);  // Error naming --role otherwise

// Who is calling: resolved from a token for every RPC.
struct Caller {
  std::string user;
  Role role = Role::kUser;
  bool is_admin() const { return role == Role::kAdmin; }
};

class TokenStore {
 public:
  explicit TokenStore(Database& db);  // creates its table if missing

  // A new random token (32 bytes from OpenSSL's RAND_bytes, hex) for `user`; only its hash is
  // stored, so the caller must hand it out now. Error if the user name is not
  // [A-Za-z0-9._-]{1,64}.
  std::string add(const std::string& user, Role role);
  // Removes every token of `user`; returns how many there were.
  int revoke(const std::string& user);
  // (user, role) per token, by user.
  std::vector<std::pair<std::string, Role>> list() const;
  // The caller a token belongs to. Compares hashes in constant time against every stored one.
  std::optional<Caller> find(const std::string& token) const;

 private:
  Database& db_;
};

}  // namespace gradpool
