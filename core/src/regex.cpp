#include "steppar/regex.hpp"

#include "steppar/error.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace steppar {
namespace {

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    return pcre2_get_error_message(code, buffer, sizeof buffer) < 0 ? "error " + std::to_string(code)
                                                                    : std::string(reinterpret_cast<const char*>(buffer));
}

// One per thread, reused: matching a million names must not allocate a million times.
struct MatchData {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

struct Regex::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto compiled = std::make_shared<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF, &error, &offset, nullptr);
    if (!compiled->code)
        throw std::invalid_argument("'" + pattern + "' is not a valid regular expression: " + pcre2_message(error) + " at character " +
                                    std::to_string(offset + 1));
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // where JIT is missing, the interpreter does
    code_ = std::move(compiled);
}

bool Regex::search(std::string_view text) const { return run(text, false); }
bool Regex::match_at_start(std::string_view text) const { return run(text, true); }

bool Regex::search(std::string_view text, std::vector<std::string_view>& groups) const {
    std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match(pcre2_match_data_create_from_pattern(code_->code, nullptr),
                                                                        pcre2_match_data_free);
    const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) fail(text, rc);
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
    groups.assign(pcre2_get_ovector_count(match.get()), std::string_view());
    for (std::size_t i = 0; i < groups.size(); ++i)
        if (ovector[2 * i] != PCRE2_UNSET) groups[i] = text.substr(ovector[2 * i], ovector[2 * i + 1] - ovector[2 * i]);
    return true;
}

void Regex::fail(std::string_view text, int code) const {
    // The match limit (backtracking that would take hours), or a name that is not UTF-8.
    throw InputError("regular expression '" + pattern_ + "' gave up on '" + std::string(text) + "': " + pcre2_message(code) +
                     "; simplify the expression");
}

bool Regex::run(std::string_view text, bool anchored) const {
    thread_local MatchData match;
    const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, anchored ? PCRE2_ANCHORED : 0,
                               match.data, nullptr);
    if (rc >= 0) return true;
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    fail(text, rc);
}

}  // namespace steppar
