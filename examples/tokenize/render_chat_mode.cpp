#include "render_chat_mode.hpp"

#include <istream>
#include <ostream>
#include <string>

#include "model/chat/chat_template.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::tokenize_cli {

int run_render_chat(const std::filesystem::path& tokenizer_path, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  const std::filesystem::path dir =
      std::filesystem::is_directory(tokenizer_path) ? tokenizer_path : tokenizer_path.parent_path();
  const chat::ChatTemplate chat_template = chat::ChatTemplate::from_tokenizer_config(dir / "tokenizer_config.json");
  chat::JsonStyle style;  // json.dumps(text, ensure_ascii=False)
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // tolerate CRLF input files
    try {
      const chat::ChatRequest request = chat::ChatRequest::from_json(line, "request");
      // Flushed per line so that a script can write one request and wait for its answer.
      out << chat::to_json(chat::Value(chat_template.render(request)), style) << '\n' << std::flush;
    } catch (const std::exception& e) {
      err << "sabre-tokenize: line " << line_number << ": " << e.what()
          << "\n(each line must be one JSON object such as {\"messages\": [{\"role\": \"user\", \"content\": "
             "\"Hi\"}], \"add_generation_prompt\": true})\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace sabre::tokenize_cli
