// Regular expressions over partition names: filter/exclude, --partitions, configurator patterns
// and targets. PCRE2 (Debian's libpcre2-8), not std::regex: its syntax is Perl's and Python's
// `re` (lookbehind, inline flags, `(?P<name>...)`), so expressions written for
// kedro-partitioned mean the same here; it is JIT-compiled, so matching a million names costs
// milliseconds; and a backtracking explosion ends at a match limit instead of hanging a slicer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

class Regex {
public:
    /// Compiles `pattern` (UTF-8). Throws std::invalid_argument with PCRE2's reason and the
    /// character where it found it.
    explicit Regex(const std::string& pattern);

    /// Whether it matches somewhere in `text`.
    bool search(std::string_view text) const;
    /// Whether it matches from the start of `text` (like Python's re.match; `$` decides the end).
    bool match_at_start(std::string_view text) const;
    /// Searches `text`; on a match, `groups[i]` is capture group i (0: the whole match; empty
    /// for a group that took no part).
    bool search(std::string_view text, std::vector<std::string_view>& groups) const;

    const std::string& pattern() const noexcept { return pattern_; }

private:
    bool run(std::string_view text, bool anchored) const;
    [[noreturn]] void fail(std::string_view text, int pcre2_code) const;

    struct Compiled;
    std::string pattern_;
    std::shared_ptr<const Compiled> code_;  // shared: copies of a Regex share one compiled form
};

}  // namespace steppar
