#pragma once
// A value or an error, for the protocol codec's results: a request body either becomes a plan for the
// engine or an ApiError the HTTP layer sends as it is. (std::expected is C++23; this is the small part
// of it the codec needs.)

#include <stdexcept>
#include <utility>
#include <variant>

namespace sabre::openai {

template <class T, class E>
class Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Expected(E error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // Throws std::logic_error when asked for the side it does not hold: a caller bug, not a client's.
  T& value() {
    if (!has_value()) throw std::logic_error("Expected::value() called on an error");
    return std::get<0>(state_);
  }
  const T& value() const {
    if (!has_value()) throw std::logic_error("Expected::value() called on an error");
    return std::get<0>(state_);
  }
  const E& error() const {
    if (has_value()) throw std::logic_error("Expected::error() called on a value");
    return std::get<1>(state_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> state_;
};

}  // namespace sabre::openai
