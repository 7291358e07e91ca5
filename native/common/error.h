// Errors raised by native code. The binding layer (binding/js_function.h, throwAsJs)
// turns each into a JS Error of the matching class (TypeError / RangeError / Error) with
// the message unchanged, so the message must name the argument and what was expected.
// NonFinite is a RangeError whose `code` property is 'S4_NON_FINITE': a NaN or infinity
// where a finite value is required, which callers (the trainer) tell apart by that code
// (lib/util/errors.ts, isNonFiniteError) rather than by the message.
#pragma once
#include <stdexcept>
#include <string>

namespace s4 {

enum class ErrorKind { Generic, Type, Range, NonFinite };

struct Error : std::runtime_error {
  ErrorKind kind;
  explicit Error(const std::string& message, ErrorKind k = ErrorKind::Generic)
      : std::runtime_error(message), kind(k) {}
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }
[[noreturn]] inline void failType(const std::string& message) { throw Error(message, ErrorKind::Type); }
[[noreturn]] inline void failRange(const std::string& message) { throw Error(message, ErrorKind::Range); }
[[noreturn]] inline void failNonFinite(const std::string& message) { throw Error(message, ErrorKind::NonFinite); }

}  // namespace s4
