#include "steppar/date_range.hpp"

#include "steppar/error.hpp"

#include <stdexcept>

namespace steppar {
namespace {

struct FormatRegex {
    std::string text;
    int year = 0, month = 0, day = 0;
};

// The format as a regular expression, each directive a capture group; literal text escaped.
FormatRegex format_regex(const std::string& format) {
    FormatRegex r;
    int group = 0;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (c != '%') {
            if (std::string_view(R"(\^$.|?*+()[]{}/)").find(c) != std::string_view::npos) r.text += '\\';
            r.text += c;
            continue;
        }
        const char directive = i + 1 < format.size() ? format[++i] : '\0';
        int* slot = directive == 'Y' ? &r.year : directive == 'm' ? &r.month : directive == 'd' ? &r.day : nullptr;
        if (directive == '%') {
            r.text += '%';
        } else if (!slot) {
            throw std::invalid_argument("date_range format '" + format + "': '%" + std::string(1, directive) +
                                        "' is not supported (use %Y, %m, %d and literal text)");
        } else if (*slot) {
            throw std::invalid_argument("date_range format '" + format + "' has %" + std::string(1, directive) + " twice");
        } else {
            *slot = ++group;
            r.text += directive == 'Y' ? "([0-9]{4})" : directive == 'm' ? "(0[0-9]|1[0-2])" : "([0-2][0-9]|3[01])";
        }
    }
    if (!r.year || !r.month || !r.day) throw std::invalid_argument("date_range format '" + format + "' needs %Y, %m and %d");
    return r;
}

bool is_calendar_date(long year, long month, long day) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1) return false;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap ? 1 : 0);
}

}  // namespace

DateRange::DateRange(const DateRangeSpec& spec)
    : spec_(spec), search_(format_regex(spec.format).text), whole_("^" + format_regex(spec.format).text + "$") {
    const FormatRegex r = format_regex(spec.format);
    year_group_ = r.year;
    month_group_ = r.month;
    day_group_ = r.day;
    if (!spec.min.empty()) min_ = date_in(spec.min, true, "min");
    if (!spec.max.empty()) max_ = date_in(spec.max, true, "max");
    if (min_ && max_ && *min_ > *max_)
        throw std::invalid_argument("date_range: min '" + spec.min + "' is after max '" + spec.max + "'");
}

std::optional<long> DateRange::date_in(const std::string& text, bool whole, const char* what) const {
    std::vector<std::string_view> groups;
    if (!(whole ? whole_ : search_).search(text, groups)) {
        if (whole) throw std::invalid_argument(std::string("date_range ") + what + " '" + text + "' is not a date of format '" + spec_.format + "'");
        return std::nullopt;
    }
    const long year = std::stol(std::string(groups[static_cast<std::size_t>(year_group_)]));
    const long month = std::stol(std::string(groups[static_cast<std::size_t>(month_group_)]));
    const long day = std::stol(std::string(groups[static_cast<std::size_t>(day_group_)]));
    if (!is_calendar_date(year, month, day)) {
        const std::string date(groups[0]);
        if (whole) throw std::invalid_argument(std::string("date_range ") + what + " '" + text + "' is not a calendar date");
        throw InputError("partition '" + text + "': '" + date + "' fits the date_range format '" + spec_.format +
                         "' but is not a calendar date; rename it, or leave it out with 'exclude'");
    }
    return year * 10000 + month * 100 + day;
}

bool DateRange::admits(const std::string& name) const {
    const auto date = date_in(name, false, "");
    return date && (!min_ || *date >= *min_) && (!max_ || *date <= *max_);
}

}  // namespace steppar
