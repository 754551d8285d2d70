// Small text helpers for messages: lists of names and "did you mean" suggestions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// True when `text` is well-formed UTF-8 (JSON files and names must be).
bool valid_utf8(std::string_view text);

/// `text` quoted for /bin/sh (single quotes).
std::string shell_quote(std::string_view text);

/// Appends `utf8` as a JSON string literal (quotes, backslashes and control characters escaped),
/// for writers that stream large JSON without building a tree first.
void append_json_string(std::string& out, std::string_view utf8);

/// Appends `text` as one field of a tab-separated line: backslash, tab, LF and CR become \\,
/// \t, \n and \r (the ledger's and the trace's names and messages).
void append_tsv_escaped(std::string& out, std::string_view text);
/// A field written by append_tsv_escaped(), as it was.
std::string tsv_unescaped(std::string_view field);

/// `text` for a log line or a terminal: control characters (a line break that would forge a
/// line of its own, an escape sequence that would rewrite the screen) shown as \n, \r, \e and
/// \xNN; a tab and everything else as it is.
std::string visible_text(std::string_view text);

/// Microseconds since the epoch as UTC, "2026-12-04T16:56:08.415692Z".
std::string utc_text(std::int64_t microseconds);

/// A byte count for people: "812 B", "3.4 KiB", "1.2 GiB".
std::string bytes_text(unsigned long long bytes);

/// A count for people: 20000 -> "20,000".
std::string count_text(std::size_t n);

/// The first `most` items joined ("a, b, c"), with ", ..." when there are more: how messages
/// name a few of many partitions or files.
std::string join_first(const std::vector<std::string>& items, std::size_t most);

/// "a, b, c" (or "(none)" for an empty list).
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");

/// The candidate closest to `word` by edit distance, if it is close enough to be a plausible
/// typo; otherwise empty.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" or " (valid: a, b, c)" for an unknown name.
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace steppar
