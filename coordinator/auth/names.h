// The one rule for names that come from outside and end up in paths and tables: users, datasets.
#pragma once

#include <string_view>

namespace gradpool {

// True when `name` matches [A-Za-z0-9._-]{1,64} and is not "." or ".." (so it is safe as a path
// component).
bool is_valid_name(std::string_view name);

}  // namespace gradpool
