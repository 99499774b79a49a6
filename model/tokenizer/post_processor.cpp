#include "model/tokenizer/post_processor.hpp"

namespace sabre {

namespace {

using namespace tokenizer_json;

class IdentityPostProcessor final : public PostProcessor {
 public:
  void process(std::vector<TokenId>&) const override {}
};

// A fixed frame around the sequence: `before` ids, the sequence, `after` ids.
class FramePostProcessor final : public PostProcessor {
 public:
  FramePostProcessor(std::vector<TokenId> before, std::vector<TokenId> after)
      : before_(std::move(before)), after_(std::move(after)) {}
  void process(std::vector<TokenId>& ids) const override {
    ids.insert(ids.begin(), before_.begin(), before_.end());
    ids.insert(ids.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<TokenId> before_;
  std::vector<TokenId> after_;
};

class SequencePostProcessor final : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  void process(std::vector<TokenId>& ids) const override {
    for (const auto& p : parts_) p->process(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

std::unique_ptr<PostProcessor> make_template(Object obj, const Where& where) {
  // "special_tokens" maps a name to the ids it expands to.
  const auto specials_where = where / "special_tokens";
  auto specials = as_object(member(obj, "special_tokens", where), specials_where);
  auto ids_of = [&](std::string_view name, const Where& used_at) {
    Element e;
    if (specials.at_key(name).get(e) != simdjson::SUCCESS) {
      used_at.fail(fmt::format("special token \"{}\" is not defined in special_tokens", name));
    }
    const auto here = specials_where / name;
    std::vector<TokenId> ids;
    size_t i = 0;
    for (auto id : as_array(member(as_object(e, here), "ids", here), here / "ids")) {
      ids.push_back(static_cast<TokenId>(as_int(id, (here / "ids")[i++])));
    }
    return ids;
  };
  std::vector<TokenId> before;
  std::vector<TokenId> after;
  bool seen_sequence = false;
  const auto single_where = where / "single";
  size_t i = 0;
  for (auto item : as_array(member(obj, "single", where), single_where)) {
    const auto here = single_where[i++];
    auto item_obj = as_object(item, here);
    if (auto special = optional_member(item_obj, "SpecialToken")) {
      auto ids = ids_of(string_member(as_object(*special, here / "SpecialToken"), "id", here / "SpecialToken"), here);
      auto& target = seen_sequence ? after : before;
      target.insert(target.end(), ids.begin(), ids.end());
    } else if (auto seq = optional_member(item_obj, "Sequence")) {
      const auto name = string_member(as_object(*seq, here / "Sequence"), "id", here / "Sequence");
      if (name != "A" || seen_sequence) here.fail("the single-sequence template must contain sequence A exactly once");
      seen_sequence = true;
    } else {
      here.fail("expected a SpecialToken or Sequence item");
    }
  }
  if (!seen_sequence) single_where.fail("the single-sequence template has no sequence A");
  return std::make_unique<FramePostProcessor>(std::move(before), std::move(after));
}

// RobertaProcessing / BertProcessing: "cls": [token, id], "sep": [token, id].
TokenId pair_id(Object obj, std::string_view key, const Where& where) {
  const auto here = where / key;
  auto arr = as_array(member(obj, key, where), here);
  if (arr.size() != 2) here.fail("expected [token, id]");
  return static_cast<TokenId>(as_int(arr.at(1).value(), here[1]));
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(Element e, const Where& where) {
  auto obj = as_object(e, where);
  const auto type = type_of(obj, where);
  if (type == "TemplateProcessing") return make_template(obj, where);
  if (type == "ByteLevel") return std::make_unique<IdentityPostProcessor>();
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    return std::make_unique<FramePostProcessor>(std::vector<TokenId>{pair_id(obj, "cls", where)},
                                                std::vector<TokenId>{pair_id(obj, "sep", where)});
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> parts;
    const auto list_where = where / "processors";
    size_t i = 0;
    for (auto child : as_array(member(obj, "processors", where), list_where)) {
      parts.push_back(make_post_processor(child, list_where[i++]));
    }
    return std::make_unique<SequencePostProcessor>(std::move(parts));
  }
  where.fail(fmt::format("unsupported post_processor type \"{}\" (supported: TemplateProcessing, ByteLevel, "
                         "RobertaProcessing, BertProcessing, Sequence)", type));
}

}  // namespace sabre
