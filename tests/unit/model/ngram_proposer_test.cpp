// Prompt lookup: what follows the latest earlier occurrence of the longest matching suffix.
#include <catch2/catch.hpp>

#include "model/ngram_proposer.hpp"

using namespace sabre;
using V = std::vector<int32_t>;

TEST_CASE("prompt lookup proposes what followed the latest earlier match of the longest suffix", "[ngram]") {
  // "1 2 3 4 5 ... 1 2 3" -> 4 5 6 7.
  CHECK(propose_ngram(V{1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3}, 4) == V{4, 5, 6, 7});
  // The latest earlier occurrence wins: 2 3 is followed by 9 the second time.
  CHECK(propose_ngram(V{2, 3, 4, 2, 3, 9, 8, 2, 3}, 2) == V{9, 8});
  // A longer suffix beats a later shorter match: "5 6 7" matched at the start, "7" alone later.
  CHECK(propose_ngram(V{5, 6, 7, 1, 1, 7, 2, 5, 6, 7}, 2, {3, 1, 4096}) == V{1, 1});
  // Fewer than k when the match is near the end; never the suffix itself.
  CHECK(propose_ngram(V{4, 4, 4}, 5) == V{4});
  CHECK(propose_ngram(V{1, 2, 3}, 4).empty());
  CHECK(propose_ngram(V{7}, 4).empty());
  CHECK(propose_ngram(V{}, 4).empty());
  CHECK(propose_ngram(V{1, 2, 1, 2}, 0).empty());
  // min_ngram 2: a single repeated token is not enough.
  CHECK(propose_ngram(V{9, 1, 5, 6, 9}, 3, {3, 2, 4096}).empty());
  // Only the window is searched.
  CHECK(propose_ngram(V{1, 2, 3, 0, 0, 0, 0, 1, 2}, 1, {2, 2, 4}).empty());
  CHECK_THROWS_WITH(propose_ngram(V{1}, 1, {1, 2, 4096}), Catch::Contains("min_ngram"));
}
