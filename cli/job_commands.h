// submit, list, show, cancel, logs: the job commands. Registration is in command.h; what is here
// is the part tests pin down: how `gradpool list`'s flags become a ListJobsRequest.
#pragma once

#include <string>
#include <vector>

#include "proto/gradpool.pb.h"

namespace gradpool::cli {

struct ListArgs {
  std::string user;    // --user U
  bool mine = false;   // --mine
  std::string states;  // --state queued,running
  bool all = false;    // --all: finished jobs too
  int limit = 0;       // --limit N
};

// --mine asks for `login_user` ($USER: the API has no "who am I", and tokens are issued per login
// name). Without --state, only jobs that are not final unless --all. Error naming an unknown state.
v1::ListJobsRequest make_list_request(const ListArgs& args, const std::string& login_user);

}  // namespace gradpool::cli
