// Tokenizer against Hugging Face `tokenizers`: the golden cases' vectors, plus variants of the
// golden tokenizer.json files whose expected ids were computed with tokenizers 0.23.
#include "worker/train/tokenizer.h"

#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tests/test_util.h"

namespace gradpool {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::filesystem::path golden_tokenizer(const std::string& name) {
  return testing::golden_dir() / name / "model" / "tokenizer.json";
}

json golden_json(const std::string& name) {
  return read_json(golden_tokenizer(name));
}

std::string temp_path(const std::string& name) {
  static const std::filesystem::path dir = testing::temp_dir("tokenizer_test");
  return (dir / name).string();
}

// Writes `contents` to the temporary file `name` and returns its path.
std::string write_file(const std::string& name, const std::string& contents) {
  const std::string path = temp_path(name);
  std::ofstream(path) << contents;
  return path;
}

Tokenizer load(const std::string& name, const json& document) {
  return Tokenizer::from_file(write_file(name, document.dump()));
}

// The Llama-3 golden tokenizer with its first pre-tokenizer replaced by `split`.
json llama3_with_split(const json& split) {
  json document = golden_json("llama-tiny");
  document["pre_tokenizer"]["pretokenizers"][0] = split;
  return document;
}

TEST(Tokenizer, GoldenVectorsMatchExactly) {
  const auto cases = testing::golden_cases();
  ASSERT_FALSE(cases.empty());
  size_t checked = 0;
  for (const auto& dir : cases) {
    SCOPED_TRACE(dir.filename().string());
    const json spec = read_json(dir / "case.json");
    const Tokenizer tokenizer = Tokenizer::from_file((dir / "model" / "tokenizer.json").string());
    EXPECT_EQ(tokenizer.vocab_size(), spec["vocab_size"].get<int32_t>());
    for (const json& vector : spec["tokenizer_vectors"]) {
      const std::string text = vector["text"];
      SCOPED_TRACE(text);
      EXPECT_EQ(tokenizer.encode(text), vector["ids"].get<Ids>());
      ++checked;
    }
  }
  EXPECT_GT(checked, 0u);
}

// HF round-trips every text in which no added token appears (see below for those).
TEST(Tokenizer, GoldenTextsRoundTrip) {
  for (const auto& dir : testing::golden_cases()) {
    SCOPED_TRACE(dir.filename().string());
    const auto path = dir / "model" / "tokenizer.json";
    const json added = read_json(path)["added_tokens"];
    const Tokenizer tokenizer = Tokenizer::from_file(path.string());
    for (const json& vector : read_json(dir / "case.json")["tokenizer_vectors"]) {
      const std::string text = vector["text"];
      bool has_added = false;
      for (const json& token : added)
        has_added |= text.find(token["content"].get<std::string>()) != std::string::npos;
      if (!has_added) {
        EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
      }
    }
  }
}

TEST(Tokenizer, AddedTokensSplitTheTextAndDecodeAsHf) {
  const Tokenizer gpt2 = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  const Ids ids = gpt2.encode("a<|endoftext|>b");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[1], *gpt2.token_to_id("<|endoftext|>"));
  EXPECT_EQ(gpt2.decode(ids), "a<|endoftext|>b");
  // Llama-2's normalizer prepends "▁" to each stretch between added tokens, so "b" gets a space.
  const Tokenizer llama2 = Tokenizer::from_file(golden_tokenizer("llama-metaspace-tiny").string());
  EXPECT_EQ(llama2.decode(llama2.encode("a<|endoftext|>b")), "a<|endoftext|> b");
}

TEST(Tokenizer, AddedTokenFlags) {
  json document = golden_json("gpt2-tiny");
  document["added_tokens"].push_back({{"id", 512},
                                      {"content", "zap"},
                                      {"single_word", true},
                                      {"lstrip", false},
                                      {"rstrip", false},
                                      {"normalized", false},
                                      {"special", false}});
  document["added_tokens"].push_back({{"id", 513},
                                      {"content", "<s>"},
                                      {"single_word", false},
                                      {"lstrip", true},
                                      {"rstrip", true},
                                      {"normalized", false},
                                      {"special", true}});
  const Tokenizer tokenizer = load("flags.json", document);
  EXPECT_EQ(tokenizer.encode("zapzap zap"), (Ids{90, 407, 90, 407, 221, 512}));  // single_word
  EXPECT_EQ(tokenizer.encode("a  <s>  b"), (Ids{65, 513, 66}));                  // lstrip + rstrip
  EXPECT_EQ(tokenizer.encode("<s>zap"), (Ids{513, 512}));
  EXPECT_EQ(tokenizer.decode({65, 513, 66}), "a<s>b");
  EXPECT_EQ(tokenizer.vocab_size(), 514);
  EXPECT_EQ(tokenizer.bos_id(), 513);
}

TEST(Tokenizer, MergesAsStringsMatchPairs) {
  json document = golden_json("gpt2-tiny");
  json lines = json::array({"#version: 0.2"});
  for (const json& pair : document["model"]["merges"])
    lines.push_back(pair[0].get<std::string>() + " " + pair[1].get<std::string>());
  document["model"]["merges"] = lines;
  const Tokenizer pairs = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  const Tokenizer strings = load("string_merges.json", document);
  for (const char* text : {"The quick brown fox jumps over the lazy dog.", "Hello, world!"})
    EXPECT_EQ(strings.encode(text), pairs.encode(text)) << text;
  EXPECT_GT(pairs.encode("Hello, world!").size(), 1u);
}

TEST(Tokenizer, AddSpecialTokensAppliesTemplate) {
  json llama3 = golden_json("llama-tiny");
  llama3["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0],
                                                "tokens": ["<|begin_of_text|>"]}}}]})");
  const Tokenizer tokenizer = load("template.json", llama3);
  const Ids plain = tokenizer.encode("Hello, world!");
  Ids expected = {0};
  expected.insert(expected.end(), plain.begin(), plain.end());
  EXPECT_EQ(tokenizer.encode("Hello, world!", true), expected);
  EXPECT_EQ(tokenizer.encode("", true), Ids{0});

  json llama2 = golden_json("llama-metaspace-tiny");
  llama2["post_processor"] = json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "</s>", "type_id": 0}}],
      "pair": [],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                         "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}})");
  EXPECT_EQ(load("template2.json", llama2).encode("Hello", true), (Ids{1, 366, 303, 418, 573, 2}));

  // Without a post-processor there is nothing to add.
  const Tokenizer gpt2 = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  EXPECT_EQ(gpt2.encode("Hello", true), gpt2.encode("Hello", false));
}

TEST(Tokenizer, MetaspacePreTokenizerPrependSchemes) {
  struct Case {
    std::string scheme;
    bool split;
    Ids hello, eot, space;  // "Hello, world!", "a<|endoftext|>b", "  two"
  };
  const std::vector<Case> cases = {
      {"first",
       false,
       {366, 303, 418, 573, 377, 512, 339, 331, 264},
       {366, 328, 3, 329},
       {366, 368, 350, 342}},
      {"always",
       false,
       {366, 303, 418, 573, 377, 512, 339, 331, 264},
       {366, 328, 3, 484},
       {366, 368, 350, 342}},
      {"always",
       true,
       {366, 303, 418, 573, 275, 421, 381, 339, 331, 264},
       {366, 328, 3, 484},
       {366, 368, 350, 342}},
      {"never",
       false,
       {303, 418, 573, 377, 512, 339, 331, 264},
       {328, 3, 329},
       {366, 368, 350, 342}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.scheme + (c.split ? " split" : ""));
    json document = golden_json("llama-metaspace-tiny");
    const json metaspace = {{"type", "Metaspace"},
                            {"replacement", "▁"},
                            {"prepend_scheme", c.scheme},
                            {"split", c.split}};
    document["normalizer"] = nullptr;
    document["pre_tokenizer"] = metaspace;
    document["decoder"] = metaspace;
    const Tokenizer tokenizer = load("metaspace.json", document);
    EXPECT_EQ(tokenizer.encode("Hello, world!"), c.hello);
    EXPECT_EQ(tokenizer.encode("a<|endoftext|>b"), c.eot);
    EXPECT_EQ(tokenizer.encode("  two"), c.space);
    EXPECT_EQ(tokenizer.decode(c.hello), "Hello, world!");
  }
}

TEST(Tokenizer, SplitBehaviours) {
  struct Case {
    std::string behavior;
    bool invert;
    Ids ids;  // of "ab12cd 345e f", cut at [0-9]+| ; then byte-level BPE
  };
  const std::vector<Case> cases = {
      {"Removed", false, {493, 69, 70, 71, 72}},
      {"Removed", true, {19, 20, 223, 21, 22, 23, 223}},
      {"Isolated", false, {493, 19, 20, 69, 70, 223, 21, 22, 23, 71, 223, 72}},
      {"MergedWithPrevious", true, {493, 19, 20, 69, 70, 223, 21, 22, 23, 71, 283}},
      {"MergedWithNext", false, {493, 19, 20, 69, 70, 223, 21, 22, 23, 71, 283}},
      {"MergedWithNext", true, {493, 19, 20, 69, 70, 223, 21, 22, 23, 71, 223, 72}},
      {"Contiguous", false, {493, 19, 20, 69, 70, 223, 21, 22, 23, 71, 223, 72}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.behavior + (c.invert ? " inverted" : ""));
    const json split = {{"type", "Split"},
                        {"pattern", {{"Regex", "[0-9]+| "}}},
                        {"behavior", c.behavior},
                        {"invert", c.invert}};
    EXPECT_EQ(load("split.json", llama3_with_split(split)).encode("ab12cd 345e f"), c.ids);
  }
}

// Llama-2 has no pre-tokenizer, so a paragraph is one piece; long ones are cut before merging.
TEST(Tokenizer, LongPiecesEncodeAsHf) {
  const Tokenizer tokenizer =
      Tokenizer::from_file(golden_tokenizer("llama-metaspace-tiny").string());
  const Ids sentence = tokenizer.encode("Hello, world!");  // "▁Hello,▁world!": "▁" comes first
  ASSERT_EQ(sentence.size(), 9u);
  std::string text;
  Ids expected;
  for (int i = 0; i < 20; ++i) {
    text += "Hello, world! ";
    expected.insert(expected.end(), sentence.begin(), sentence.end());
  }
  expected.push_back(sentence[0]);  // the trailing space
  EXPECT_EQ(tokenizer.encode(text), expected);
  EXPECT_EQ(tokenizer.decode(expected), text);
}

TEST(Tokenizer, UnknownCharactersWithoutByteFallback) {
  json document = golden_json("llama-metaspace-tiny");
  document["model"]["byte_fallback"] = false;
  EXPECT_EQ(load("fuse.json", document).encode("안녕 x"), (Ids{366, 0, 366, 351}));
  document["model"]["fuse_unk"] = false;
  const Tokenizer tokenizer = load("nofuse.json", document);
  EXPECT_EQ(tokenizer.encode("안녕 x"), (Ids{366, 0, 0, 366, 351}));
  EXPECT_EQ(tokenizer.decode({366, 0, 0, 366, 351}), "<unk><unk> x");
}

TEST(Tokenizer, DecodeReplacesBrokenUtf8) {
  const Tokenizer gpt2 = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  const Ids korean = gpt2.encode("안");  // three byte-level tokens
  ASSERT_EQ(korean.size(), 3u);
  EXPECT_EQ(gpt2.decode({korean[0]}), "\xEF\xBF\xBD");
  EXPECT_EQ(gpt2.decode({korean[0], korean[1], korean[2]}), "안");
  EXPECT_EQ(gpt2.decode({korean[0], 1000000}), "\xEF\xBF\xBD");  // unknown ids are skipped

  const Tokenizer llama2 = Tokenizer::from_file(golden_tokenizer("llama-metaspace-tiny").string());
  const auto byte = llama2.token_to_id("<0xEC>");
  ASSERT_TRUE(byte.has_value());
  EXPECT_EQ(llama2.decode({*byte}), "\xEF\xBF\xBD");
}

TEST(Tokenizer, TokenLookups) {
  const Tokenizer gpt2 = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  EXPECT_EQ(gpt2.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(gpt2.eos_id(), 0);
  EXPECT_EQ(gpt2.bos_id(), std::nullopt);
  EXPECT_EQ(gpt2.token_to_id("no such token"), std::nullopt);
  const Tokenizer llama3 = Tokenizer::from_file(golden_tokenizer("llama-tiny").string());
  EXPECT_EQ(llama3.bos_id(), llama3.token_to_id("<|begin_of_text|>"));
  EXPECT_EQ(llama3.eos_id(), llama3.token_to_id("<|end_of_text|>"));
  const Tokenizer llama2 = Tokenizer::from_file(golden_tokenizer("llama-metaspace-tiny").string());
  EXPECT_EQ(llama2.bos_id(), 1);
  EXPECT_EQ(llama2.eos_id(), 2);
}

TEST(Tokenizer, RejectsInvalidUtf8) {
  const Tokenizer gpt2 = Tokenizer::from_file(golden_tokenizer("gpt2-tiny").string());
  EXPECT_THROW(gpt2.encode("ok \xFF"), Error);
}

TEST(Tokenizer, ThreadsShareOneTokenizer) {
  const Tokenizer tokenizer = Tokenizer::from_file(golden_tokenizer("llama-tiny").string());
  std::string text;
  for (int i = 0; i < 200; ++i) text += "The quick brown fox " + std::to_string(i) + " jumps.\n";
  const Ids expected = tokenizer.encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results)
    threads.emplace_back([&tokenizer, &text, &result] { result = tokenizer.encode(text); });
  for (auto& thread : threads) thread.join();
  for (const Ids& result : results) EXPECT_EQ(result, expected);
}

// Each malformed file must fail with a message naming the file and the offending field.
TEST(Tokenizer, BadFilesNameFileAndField) {
  struct Case {
    std::string name;
    std::function<std::string()> contents;
    std::string expected;  // part of the message after "<file>: "
  };
  auto edit = [](const char* golden, std::function<void(json&)> change) {
    return [golden, change] {
      json document = golden_json(golden);
      change(document);
      return document.dump();
    };
  };
  const std::vector<Case> cases = {
      {"truncated", [] { return golden_json("gpt2-tiny").dump().substr(0, 200); }, "invalid JSON"},
      {"array", [] { return std::string("[]"); }, "expected a JSON object"},
      {"pretok",
       edit("llama-tiny",
            [](json& d) {
              d["pre_tokenizer"]["pretokenizers"][0] = {{"type", "Whitespace"}};
            }),
       "pre_tokenizer.pretokenizers[0].type: unsupported 'Whitespace'"},
      {"normalizer",
       edit("gpt2-tiny",
            [](json& d) {
              d["normalizer"] = {{"type", "NFKC"}};
            }),
       "normalizer.type: unsupported 'NFKC'"},
      {"decoder",
       edit("llama-metaspace-tiny",
            [](json& d) {
              d["decoder"]["decoders"][1] = {{"type", "CTC"}};
            }),
       "decoder.decoders[1].type: unsupported 'CTC'"},
      {"model", edit("gpt2-tiny", [](json& d) { d["model"]["type"] = "WordPiece"; }),
       "model.type: unsupported 'WordPiece'"},
      {"vocab", edit("gpt2-tiny", [](json& d) { d["model"].erase("vocab"); }),
       "model.vocab: missing"},
      {"vocab_id", edit("gpt2-tiny", [](json& d) { d["model"]["vocab"]["zz"] = "x"; }),
       "model.vocab.zz: expected an integer"},
      {"merge",
       edit("gpt2-tiny",
            [](json& d) {
              d["model"]["merges"][3] = {"Ġ", "zzz"};
            }),
       "model.merges[3]: 'zzz' is not in the vocabulary"},
      {"merged",
       edit("gpt2-tiny",
            [](json& d) {
              d["model"]["merges"][0] = {"x", "q"};
            }),
       "model.merges[0]: 'xq' is not in the vocabulary"},
      {"merge_line", edit("gpt2-tiny", [](json& d) { d["model"]["merges"] = {"a b c"}; }),
       "model.merges[0]: expected \"<left> <right>\""},
      {"unk", edit("gpt2-tiny", [](json& d) { d["model"]["unk_token"] = "<nope>"; }),
       "model.unk_token: '<nope>' is not in the vocabulary"},
      {"dropout", edit("gpt2-tiny", [](json& d) { d["model"]["dropout"] = 0.1; }),
       "model.dropout: BPE dropout is random"},
      {"regex",
       edit("llama-tiny",
            [](json& d) { d["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L"; }),
       "pre_tokenizer.pretokenizers[0].pattern.Regex: invalid regex"},
      {"behavior",
       edit("llama-tiny",
            [](json& d) { d["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways"; }),
       "pre_tokenizer.pretokenizers[0].behavior: unsupported 'Sideways'"},
      {"replacement",
       edit("gpt2-tiny",
            [](json& d) {
              d["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}};
            }),
       "pre_tokenizer.replacement: expected one character"},
      {"template",
       edit("gpt2-tiny",
            [](json& d) {
              d["post_processor"] = {
                  {"type", "TemplateProcessing"},
                  {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}}},
                  {"special_tokens", json::object()}};
            }),
       "post_processor.single[0].SpecialToken.id: '<s>' is not in special_tokens"},
      {"added", edit("gpt2-tiny", [](json& d) { d["added_tokens"][0]["content"] = 7; }),
       "added_tokens[0].content: expected a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = write_file(c.name + ".json", c.contents());
    try {
      Tokenizer::from_file(path);
      ADD_FAILURE() << "loaded without error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": " + c.expected), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(Tokenizer::from_file(temp_path("absent.json")), Error);
}

}  // namespace
}  // namespace gradpool
