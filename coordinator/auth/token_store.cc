#include "coordinator/auth/token_store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/error.h"
#include "common/sha256.h"
#include "coordinator/auth/names.h"

namespace gradpool {
namespace {

constexpr int kTokenBytes = 32;

std::string random_hex(int bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes) != 1)
    fail("token: OpenSSL could not produce random bytes");
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (const char c : raw) {
    hex += kHex[static_cast<unsigned char>(c) >> 4];
    hex += kHex[static_cast<unsigned char>(c) & 15];
  }
  return hex;
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::kUser:
      return "user";
    case Role::kAdmin:
      return "admin";
    case Role::kWorker:
      return "worker";
  }
  return "unknown";
}

Role parse_role(const std::string& text) {
  for (const Role role : {Role::kUser, Role::kAdmin, Role::kWorker})
    if (text == to_string(role)) return role;
  fail("--role: expected user, admin or worker, got '{}'", text);
}

TokenStore::TokenStore(Database& db) : db_(db) {
  db_.exec(
      "CREATE TABLE IF NOT EXISTS tokens ("
      "  hash TEXT PRIMARY KEY,"  // SHA-256 of the token, hex
      "  user TEXT NOT NULL,"
      "  role TEXT NOT NULL)");
}

std::string TokenStore::add(const std::string& user, Role role) {
  if (!is_valid_name(user))
    fail("user name '{}': expected 1 to 64 characters of A-Z a-z 0-9 . _ -", user);
  const std::string token = random_hex(kTokenBytes);
  db_.transaction([&] {
    Statement insert(db_, "INSERT INTO tokens (hash, user, role) VALUES (?, ?, ?)");
    insert.bind(1, sha256_hex(token)).bind(2, user).bind(3, to_string(role));
    insert.run();
  });
  return token;
}

int TokenStore::revoke(const std::string& user) {
  int removed = 0;
  db_.transaction([&] {
    Statement remove(db_, "DELETE FROM tokens WHERE user = ?");
    remove.bind(1, user).run();
    removed = db_.changes();
  });
  return removed;
}

std::vector<std::pair<std::string, Role>> TokenStore::list() const {
  auto held = db_.lock();
  Statement select(db_, "SELECT user, role FROM tokens ORDER BY user, rowid");
  std::vector<std::pair<std::string, Role>> tokens;
  while (select.step())
    tokens.emplace_back(select.column_text(0), parse_role(select.column_text(1)));
  return tokens;
}

std::optional<Caller> TokenStore::find(const std::string& token) const {
  const std::string hash = sha256_hex(token);
  auto held = db_.lock();
  // Every row is compared, without an early exit, so that the time taken says nothing about
  // which stored hash (if any) shares a prefix with the presented one.
  Statement select(db_, "SELECT hash, user, role FROM tokens");
  std::optional<Caller> found;
  while (select.step()) {
    const std::string stored = select.column_text(0);
    if (stored.size() == hash.size() && CRYPTO_memcmp(stored.data(), hash.data(), hash.size()) == 0)
      found = Caller{select.column_text(1), parse_role(select.column_text(2))};
  }
  return found;
}

}  // namespace gradpool
