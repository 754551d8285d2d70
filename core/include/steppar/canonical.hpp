// The canonical encoding: the bytes steppar hashes for a definition digest (definition.hpp) and for
// the seal of a state file (sealed.hpp). Those digests are stored (ledgers, markers, plans) and
// compared by later steppar releases, so the bytes are written here, by rules of steppar's own,
// never by a JSON library's dump(): a new library version that spaced, escaped or rounded its
// output differently must not make every partition look changed.
//
// A value is one of JSON's types (what a param, configurator data or a state file holds, read
// from YAML or JSON). Each starts with a one-letter tag:
//
//   null          n
//   false, true   f    t
//   integer       i DIGITS ;        decimal, '-' first when negative, no '+', no leading zero:
//                                   "i0;", "i42;", "i-7;" (any integer from -2^63 to 2^64-1)
//   float         d TEXT ;          the shortest text that reads back as the same IEEE double, as
//                                   std::to_chars(first, last, double) writes it (C++17: printf's
//                                   %f or %e style, whichever is shorter, %f on a tie; no locale):
//                                   "d1;" is 1.0, "d0.1;", "d-2.5;", "d1e+05;", "d-0;"; not
//                                   finite: "dinf;", "d-inf;", "dnan;"
//   string        s LENGTH : BYTES  LENGTH the number of bytes in decimal; BYTES as given (UTF-8),
//                                   neither escaped nor normalised: "s2:hi", "s0:", "s2:é"
//   list          l COUNT : ITEMS   COUNT in decimal, then each item encoded, in order
//   map           m COUNT : PAIRS   COUNT in decimal, then each key encoded as a string followed by
//                                   its value encoded, keys in ascending order of their bytes
//                                   (compared as unsigned, a prefix first); no key twice
//
// So 1, 1.0, "1" and true are "i1;", "d1;", "s1:1" and "t"; {"b": [1], "a": null} is
// "m2:s1:anl1:s1:bl1:i1;" however its keys were ordered. Every value's encoding ends where its
// tag and lengths say, so no two values (or sequences of values) share an encoding. A number
// keeps the kind the JSON reader gave it: "1.0" and "1e2" are floats, "1" and "100" integers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace steppar {

/// The canonical encoding of the one JSON value in `json_text` (whitespace around it allowed).
/// Throws InputError when the text is not JSON.
std::string canonical_encoding(std::string_view json_text);

/// Appends the encoding of the value in `json_text` (as canonical_encoding).
void append_canonical_json(std::string& out, std::string_view json_text);

/// Pieces of the encoding, for writing a value straight from fields (definition.hpp). A map's
/// writer passes its keys in byte order itself.
void append_canonical_null(std::string& out);
void append_canonical_string(std::string& out, std::string_view bytes);
void append_canonical_integer(std::string& out, std::int64_t value);
/// "l COUNT :": the COUNT items follow.
void append_canonical_list(std::string& out, std::size_t count);
/// "m COUNT :": the COUNT (key string, value) pairs follow, keys in byte order.
void append_canonical_map(std::string& out, std::size_t count);

}  // namespace steppar
