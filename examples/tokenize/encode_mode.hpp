#pragma once
// sabre-tokenize's default mode: one JSON string per input line -> one JSON array of ids per output line.

#include <iosfwd>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre::tokenize_cli {

struct EncodeOptions {
  bool add_special_tokens = false;
};

// Returns the process exit code: 0, or 1 at the first line that is not a JSON string (reported on
// `err` with its line number; the lines before it have been answered).
int run_encode(const Tokenizer& tokenizer, const EncodeOptions& options, std::istream& in, std::ostream& out,
               std::ostream& err);

}  // namespace sabre::tokenize_cli
