#include "encode_mode.hpp"

#include <simdjson.h>

#include <istream>
#include <ostream>
#include <string>

namespace sabre::tokenize_cli {

int run_encode(const Tokenizer& tokenizer, const EncodeOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err) {
  simdjson::dom::parser parser;
  std::string line;
  std::string reply;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // tolerate CRLF input files
    std::string_view text;
    simdjson::dom::element doc;
    if (auto error = parser.parse(simdjson::padded_string(line)).get(doc)) {
      err << "sabre-tokenize: line " << line_number << ": not valid JSON (" << simdjson::error_message(error)
          << "); each line must be one JSON string such as \"Hello\"\n";
      return 1;
    }
    if (doc.get(text) != simdjson::SUCCESS) {
      err << "sabre-tokenize: line " << line_number << ": expected a JSON string, got " << doc.type()
          << "; each line must be one JSON string such as \"Hello\"\n";
      return 1;
    }
    const auto ids = tokenizer.encode(text, options.add_special_tokens);
    reply.clear();
    reply.push_back('[');
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) reply.push_back(',');
      reply.append(std::to_string(ids[i]));
    }
    reply.append("]\n");
    // Flushed per line so that a script can write one line and wait for its answer.
    out << reply << std::flush;
  }
  return 0;
}

}  // namespace sabre::tokenize_cli
