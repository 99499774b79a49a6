// sabre-tokenize: the tokenizer from the command line, for scripting and debugging (like llama-tokenize).
// Each mode reads stdin line by line and answers one line per input line; a new mode is one more entry
// in main() plus its run_* function.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "encode_mode.hpp"
#include "render_chat_mode.hpp"
#include "examples/tokenize/args.hpp"
#include "model/tokenizer/tokenizer.hpp"

int main(int argc, char** argv) {
  using namespace sabre;
  // stdout carries the answers; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sabre-tokenize"));
  std::string tokenizer_dir;
  tokenize_cli::EncodeOptions encode;
  bool render_chat = false;

  cli::ArgParser args("sabre-tokenize", "Tokenizes text with a Hugging Face tokenizer.json, as the `tokenizers` "
                                        "library would.");
  args.option("--tokenizer", &tokenizer_dir, "DIR", "model or tokenizer directory (or a tokenizer.json file)", true);
  args.flag("--add-special-tokens", &encode.add_special_tokens,
            "apply the post-processor (e.g. Llama's BOS), like encode(add_special_tokens=True)");
  args.flag("--render-chat", &render_chat,
            "instead of tokenizing, render the chat template of DIR's tokenizer_config.json: one JSON request "
            "object per line in ({\"messages\": [...], \"add_generation_prompt\": true, \"tools\": [...], other "
            "keys become template variables}), one JSON string per line out");
  args.epilog(
      "input:  one JSON string per line on stdin, e.g. \"Hello, world\"\n"
      "output: one JSON array of token ids per line on stdout, e.g. [9707,11,1879]\n"
      "Special tokens written in the text (e.g. <|im_start|>) are recognised, as in `tokenizers`.\n"
      "A line that is not a JSON string stops the program with exit code 1 and a message on stderr\n"
      "naming the line number; every earlier line has been answered, so output lines stay aligned\n"
      "with input lines.");
  try {
    if (!args.parse(argc, argv)) {
      std::cout << args.usage();
      return 0;
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "sabre-tokenize: " << e.what() << "\n";
    return 2;
  }

  try {
    std::ios::sync_with_stdio(false);
    if (render_chat) return tokenize_cli::run_render_chat(tokenizer_dir, std::cin, std::cout, std::cerr);
    const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_dir);
    return tokenize_cli::run_encode(tokenizer, encode, std::cin, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "sabre-tokenize: " << e.what() << "\n";
    return 1;
  }
}
