// load_draft_model: a draft of the target's vocabulary loads onto the target's backend; one of another
// vocabulary, or a path that is no checkpoint, is an error that names the draft and the cause.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/draft_model.hpp"

namespace fs = std::filesystem;
using namespace sabre;

namespace {

fs::path fixture(const std::string& name) { return fs::path(SABRE_TEST_FIXTURES) / "models" / name; }

// A copy of a fixture whose config.json claims another vocabulary size.
struct VocabCopy {
  fs::path dir;
  explicit VocabCopy(int64_t vocab) {
    dir = fs::temp_directory_path() / ("sabre-draft-vocab-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(fixture("qwen2_bias"))) {
      fs::copy_file(entry.path(), dir / entry.path().filename(), fs::copy_options::overwrite_existing);
    }
    std::ifstream in(dir / "config.json");
    std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    const std::string key = "\"vocab_size\": 256";
    const size_t at = config.find(key);
    REQUIRE(at != std::string::npos);
    config.replace(at, key.size(), "\"vocab_size\": " + std::to_string(vocab));
    std::ofstream(dir / "config.json") << config;
  }
  ~VocabCopy() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("draft model: one of the target's vocabulary loads on the target's backend", "[speculative][draft]") {
  CpuBackend backend({.threads = 1});
  const auto draft = load_draft_model(fixture("qwen3_qknorm"), {}, 256, backend);
  REQUIRE(draft);
  CHECK(draft->config().vocab_size == 256);
  CHECK(&draft->backend() == &backend);
}

TEST_CASE("draft model: another vocabulary or a missing checkpoint is an error naming the draft", "[speculative][draft]") {
  using Catch::Contains;
  CpuBackend backend({.threads = 1});
  const VocabCopy other(300);
  CHECK_THROWS_WITH(load_draft_model(other.dir, {}, 256, backend),
                    Contains(other.dir.string()) && Contains("300 tokens") && Contains("the target's 256"));
  CHECK_THROWS_WITH(load_draft_model("/no/such/draft", {}, 256, backend), Contains("draft model /no/such/draft"));
}
