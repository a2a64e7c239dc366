// JsonNode: one value of a parsed tokenizer.json together with its file name and JSON path, so
// that every complaint about the file reads "tok.json: model.merges[3]: <what is wrong>".
//
// A node only points into the document: the nlohmann::json tree and the file name must outlive it
// and every node derived from it. Parsing code passes nodes down instead of raw json values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gradpool::tok {

class JsonNode {
 public:
  JsonNode(const std::string& file, const nlohmann::json& value, std::string path = "");

  const nlohmann::json& json() const { return *value_; }
  const std::string& path() const { return path_; }

  // Member `key`; fails when this is not an object or the member is absent or null.
  JsonNode at(const std::string& key) const;
  // Member `key`, or nullopt when absent or null (tokenizers writes null for "not set").
  std::optional<JsonNode> find(const std::string& key) const;
  // Elements of an array / members of an object; fails on any other type.
  std::vector<JsonNode> elements() const;
  std::vector<std::pair<std::string, JsonNode>> members() const;

  // The value as a scalar; fails when it has another type.
  std::string str() const;
  bool boolean() const;
  int64_t integer() const;
  // Optional scalar member: `fallback` when absent or null.
  std::string str(const std::string& key, const std::string& fallback) const;
  bool boolean(const std::string& key, bool fallback) const;

  // Throws Error "<file>: <path>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  JsonNode child(const nlohmann::json& value, const std::string& suffix) const;

  const std::string* file_;
  const nlohmann::json* value_;
  std::string path_;
};

}  // namespace gradpool::tok
