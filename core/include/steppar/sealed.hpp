// Sealed state files: what a later run believes (plan indexes, markers) carries a checksum of its
// own content, checked on every read, so a file edited or damaged without changing its size is
// refused instead of trusted. The seal is the field "checksum": the SHA-256 (hex) of the canonical
// encoding (canonical.hpp) of the object without that field, so the file's spacing, key order
// and number spelling do not matter, and a JSON library's formatting cannot change it. (A seal
// made before, the SHA-256 of nlohmann's compact dump(), is still accepted on reading.) Plan
// parts are vouched for by their index, which records the SHA-256 of each part's bytes; ledger
// files have checksums of their own (ledger.hpp).
//
//   std::string text = sealed_json(R"({"format": 2, "unit": "count"})");   // adds "checksum"
#pragma once

#include <string>
#include <string_view>

namespace steppar {

/// `text`, a JSON object, with its seal added (indented, keys sorted, ending in a newline).
/// Throws StateError when `text` is not a JSON object.
std::string sealed_json(std::string_view text);

}  // namespace steppar
