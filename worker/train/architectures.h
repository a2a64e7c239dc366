// The architectures CausalLM can build; each lives in its own file and reads like its paper.
#pragma once

#include <memory>

#include "worker/train/model.h"

namespace gradpool {

std::unique_ptr<CausalLM> make_gpt2(const ModelConfig& config, const ModelOptions& options);
std::unique_ptr<CausalLM> make_llama(const ModelConfig& config, const ModelOptions& options);

}  // namespace gradpool
