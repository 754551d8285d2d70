#include <boost/test/unit_test.hpp>

#include "steppar/date_range.hpp"
#include "steppar/error.hpp"
#include "support.hpp"
using steppar_test::contains;
using steppar_test::error_of;

using steppar::DateRange;
using steppar::DateRangeSpec;

BOOST_AUTO_TEST_SUITE(date_range)

// The expected values are those of kedro-partitioned's date_range_filter docstring (commit
// 1e800b0, helper_factory.py and decorators.py), not steppar's output.
BOOST_AUTO_TEST_CASE(the_peers_documented_examples) {
    const DateRange upper(DateRangeSpec{"", "2020-02-02", "%Y-%m-%d"});
    BOOST_TEST(!upper.admits("2020-02-03"));
    BOOST_TEST(upper.admits("2020-02-02"));
    BOOST_TEST(upper.admits("random/string/2020-01-01/suffix"));

    const DateRange lower(DateRangeSpec{"20200202", "", "%Y%m%d"});
    BOOST_TEST(!lower.admits("20200201"));
    BOOST_TEST(lower.admits("20200202"));
    BOOST_TEST(lower.admits("random/string/20200301/suffix"));

    const DateRange bounded(DateRangeSpec{"02-02/2020", "02-04/2020", "%d-%m/%Y"});
    BOOST_TEST(bounded.admits("prefix/02-04/2020/suffix/"));
    BOOST_TEST(bounded.admits("prefix-02-02/2020-suffix"));
    BOOST_TEST(bounded.admits("prefix/24-03/2020-suffix"));
    BOOST_TEST(!bounded.admits("prefix-13-01/2020/suffix"));
    BOOST_TEST(!bounded.admits("prefix25-05/2020suffix"));

    // concat_partitions' example: min 2020-02-02 keeps the 2020-02-03 and 2020-05-03 partitions.
    const DateRange from(DateRangeSpec{"2020-02-02", "", "%Y-%m-%d"});
    BOOST_TEST(!from.admits("p1/2020-01-01/s"));
    BOOST_TEST(from.admits("p1/2020-02-03/s"));
    BOOST_TEST(from.admits("p2/2020-05-03/s"));
}

BOOST_AUTO_TEST_CASE(names_without_a_date_are_left_out_and_impossible_dates_are_named) {
    const DateRange any(DateRangeSpec{});
    BOOST_TEST(any.admits("sales/2024-02-29"));  // a leap day
    BOOST_TEST(!any.admits("sales/latest"));
    BOOST_TEST(!any.admits("sales/2024-13-01"));  // month 13 does not fit the format: no date
    const auto message = error_of<steppar::InputError>([&] { any.admits("sales/2023-02-29"); });
    BOOST_CHECK(contains(message, "partition 'sales/2023-02-29': '2023-02-29' fits the date_range format '%Y-%m-%d' but is not a calendar date"));
    const DateRange dotted(DateRangeSpec{"2020.01.01", "", "%Y.%m.%d"});
    BOOST_TEST(!dotted.admits("2020x01x02"));  // literal text is literal, '.' included
    BOOST_TEST(dotted.admits("2020.01.02"));
}

BOOST_AUTO_TEST_CASE(bad_ranges_say_what_is_wrong) {
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { DateRange(DateRangeSpec{"", "", "%Y-%m-%d %H"}); }),
                         "'%H' is not supported (use %Y, %m, %d and literal text)"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { DateRange(DateRangeSpec{"", "", "%Y-%m"}); }), "needs %Y, %m and %d"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { DateRange(DateRangeSpec{"2020/01/01", "", "%Y-%m-%d"}); }),
                         "date_range min '2020/01/01' is not a date of format '%Y-%m-%d'"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { DateRange(DateRangeSpec{"2021-02-30", "", "%Y-%m-%d"}); }),
                         "is not a calendar date"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { DateRange(DateRangeSpec{"2021-01-02", "2021-01-01", "%Y-%m-%d"}); }),
                         "min '2021-01-02' is after max '2021-01-01'"));
}

BOOST_AUTO_TEST_SUITE_END()
