#pragma once
// Server-sent events as they arrive off the wire: the HTTP body comes in pieces cut anywhere (inside a
// line, between '\r' and '\n', inside a UTF-8 sequence), and only whole events may be handed on. This
// follows the WHATWG event-stream rules that matter to OpenAI-style streams: lines end in "\r\n", "\n"
// or "\r"; "data:" lines (one optional space after the colon) accumulate, joined by '\n'; a blank line
// dispatches the event; comment lines (":...") and other fields (event, id, retry) are ignored.

#include <string>
#include <string_view>
#include <vector>

namespace sabre::loadtest {

class SseParser {
 public:
  // Consumes the next piece of the body; returns the data of every event it completed, in order.
  std::vector<std::string> feed(std::string_view bytes);

  // End of body. The standard drops an event with no closing blank line; servers that forget the last
  // blank line are common enough that this hands such a pending event on instead.
  std::vector<std::string> finish();

 private:
  void end_line(std::vector<std::string>& events);

  std::string line_;          // the unfinished line
  std::string data_;          // data lines of the current event so far
  bool has_data_ = false;     // a "data" field was seen (an empty one still makes an event)
  bool skip_next_lf_ = false; // the last byte was '\r', so a following '\n' belongs to it
};

}  // namespace sabre::loadtest
