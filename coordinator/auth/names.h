// The rules for names that come from outside and end up in paths and tables: users, datasets,
// dataset versions (their SHA-256).
#pragma once

#include <string_view>

namespace gradpool {

// True when `name` matches [A-Za-z0-9._-]{1,64} and is not "." or ".." (so it is safe as a path
// component).
bool is_valid_name(std::string_view name);

// True when `text` is a SHA-256 as we write it: 64 lowercase hex digits.
bool is_sha256_hex(std::string_view text);

}  // namespace gradpool
