// The secret that lets the ranks of one attempt (and nobody else) use that attempt's rendezvous:
// created when the attempt is placed, handed to its ranks in RankAssignment.rendezvous_token,
// checked by the Rendezvous service.
#pragma once

#include <string>

namespace gradpool {

// 16 random bytes (OpenSSL), hex.
std::string new_attempt_token();

// Constant-time comparison, so that timing says nothing about how much of a guess was right.
bool attempt_token_matches(const std::string& expected, const std::string& presented);

}  // namespace gradpool
