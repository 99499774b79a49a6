#pragma once
// sabre-tokenize --render-chat: one chat request per input line -> the model's chat template rendered
// over it, as one JSON string per output line (what transformers' apply_chat_template(tokenize=False)
// returns).

#include <filesystem>
#include <iosfwd>

namespace sabre::tokenize_cli {

// `tokenizer_path` is the model or tokenizer directory, or a file inside it (tokenizer.json); the chat
// template comes from tokenizer_config.json there. Returns the process exit code: 0, or 1 at the first
// line that is not a valid request or whose rendering fails (reported on `err` with its line number;
// earlier lines have been answered).
int run_render_chat(const std::filesystem::path& tokenizer_path, std::istream& in, std::ostream& out,
                    std::ostream& err);

}  // namespace sabre::tokenize_cli
