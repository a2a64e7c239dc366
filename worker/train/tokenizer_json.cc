#include "worker/train/tokenizer_json.h"

#include "common/error.h"

namespace gradpool::tok {

JsonNode::JsonNode(const std::string& file, const nlohmann::json& value, std::string path)
    : file_(&file), value_(&value), path_(std::move(path)) {}

JsonNode JsonNode::child(const nlohmann::json& value, const std::string& suffix) const {
  const bool member = suffix[0] != '[';
  return JsonNode(*file_, value, path_.empty() || !member ? path_ + suffix : path_ + "." + suffix);
}

std::optional<JsonNode> JsonNode::find(const std::string& key) const {
  if (!value_->is_object()) fail(fmt::format("expected an object, got {}", value_->type_name()));
  auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return child(*it, key);
}

JsonNode JsonNode::at(const std::string& key) const {
  std::optional<JsonNode> node = find(key);
  if (!node) child(*value_, key).fail("missing");
  return *node;
}

std::vector<JsonNode> JsonNode::elements() const {
  if (!value_->is_array()) fail(fmt::format("expected an array, got {}", value_->type_name()));
  std::vector<JsonNode> nodes;
  nodes.reserve(value_->size());
  for (size_t i = 0; i < value_->size(); ++i)
    nodes.push_back(child((*value_)[i], fmt::format("[{}]", i)));
  return nodes;
}

std::vector<std::pair<std::string, JsonNode>> JsonNode::members() const {
  if (!value_->is_object()) fail(fmt::format("expected an object, got {}", value_->type_name()));
  std::vector<std::pair<std::string, JsonNode>> nodes;
  nodes.reserve(value_->size());
  for (auto it = value_->begin(); it != value_->end(); ++it)
    nodes.emplace_back(it.key(), child(it.value(), it.key()));
  return nodes;
}

std::string JsonNode::str() const {
  if (!value_->is_string()) fail(fmt::format("expected a string, got {}", value_->type_name()));
  return value_->get<std::string>();
}

bool JsonNode::boolean() const {
  if (!value_->is_boolean()) fail(fmt::format("expected a boolean, got {}", value_->type_name()));
  return value_->get<bool>();
}

int64_t JsonNode::integer() const {
  if (!value_->is_number_integer())
    fail(fmt::format("expected an integer, got {}", value_->type_name()));
  return value_->get<int64_t>();
}

std::string JsonNode::str(const std::string& key, const std::string& fallback) const {
  std::optional<JsonNode> node = find(key);
  return node ? node->str() : fallback;
}

bool JsonNode::boolean(const std::string& key, bool fallback) const {
  std::optional<JsonNode> node = find(key);
  return node ? node->boolean() : fallback;
}

void JsonNode::fail(const std::string& what) const {
  if (path_.empty()) gradpool::fail("{}: {}", *file_, what);
  gradpool::fail("{}: {}: {}", *file_, path_, what);
}

}  // namespace gradpool::tok
