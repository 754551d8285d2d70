// `date_range:` on a multinode or multipipeline, like kedro-partitioned's date_range_filter:
// only partitions whose name holds a date within [min, max] (both inclusive) are sliced.
//
//   date_range: {min: "2020-02-02", max: "2020-12-31", format: "%Y-%m-%d"}
//
// The format (default %Y-%m-%d) has %Y (4 digits), %m (01-12), %d (01-31) and any literal text
// (%% is a '%'); min and max are written in it and are optional. The first text of a partition
// name that fits the format is its date: 'p1/2020-02-03/s' holds 2020-02-03.
#pragma once

#include "steppar/regex.hpp"

#include <optional>
#include <string>

namespace steppar {

struct DateRangeSpec {
    std::string min, max;  ///< "" for no bound
    std::string format = "%Y-%m-%d";
};

class DateRange {
public:
    /// Throws std::invalid_argument naming what is wrong (an unknown % directive, a bound that
    /// is not a date in the format, min after max).
    explicit DateRange(const DateRangeSpec& spec);

    /// Whether partition `name` holds a date within the range. No date: false. Text that fits the
    /// format but is no calendar date (2021-02-30) is an InputError naming the partition.
    bool admits(const std::string& name) const;

private:
    // yyyymmdd of the first date in `text`, or nothing; `whole`: the text must be only the date.
    std::optional<long> date_in(const std::string& text, bool whole, const char* what) const;

    DateRangeSpec spec_;
    Regex search_, whole_;
    int year_group_ = 0, month_group_ = 0, day_group_ = 0;  // capture group numbers
    std::optional<long> min_, max_;
};

}  // namespace steppar
