// The input listing a whole-function node keeps (freshness.hpp), read back: names with quotes,
// spaces, backslashes and tabs survive; a line that is none of its lines is refused.
#include "support.hpp"

#include <steppar/error.hpp>
#include <steppar/freshness.hpp>

#include <boost/test/unit_test.hpp>

using steppar_test::contains;
using steppar_test::error_of;

BOOST_AUTO_TEST_SUITE(whole_inputs)

BOOST_AUTO_TEST_CASE(a_listing_reads_back_every_name) {
    const std::string listing =
        "\ncounts\n"
        "\"a \\\" b\" 10:18ee394a8c515c22:0\n"
        "\"dir/c\\\\d\\te\" 11:18ee394a8c515c23:4395dd\n"
        "\nwords\n"
        "\"a \\\" b\" 12:18ee394a8c515c24:0\n";
    const auto stamps = steppar::parse_whole_node_inputs(listing);
    BOOST_REQUIRE_EQUAL(stamps.size(), 3u);
    BOOST_TEST(stamps.at({"counts", "a \" b"}) == "10:18ee394a8c515c22:0");
    BOOST_TEST(stamps.at({"counts", "dir/c\\d\te"}) == "11:18ee394a8c515c23:4395dd");
    BOOST_TEST(stamps.at({"words", "a \" b"}) == "12:18ee394a8c515c24:0");
    BOOST_TEST(steppar::parse_whole_node_inputs("").empty());
}

BOOST_AUTO_TEST_CASE(a_line_that_is_not_a_listings_is_refused) {
    for (const std::string bad : {"\ncounts\nno quotes 1:2:3\n", "\"before any dataset\" 1:2:3\n", "\ncounts\n\"unclosed 1:2:3\n",
                                  "\ncounts\n\"a\"1:2:3\n", "\ncounts\n\"\\x\" 1:2:3\n"})
        BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_whole_node_inputs(bad); }), "is not an input listing's line"), bad);
}

BOOST_AUTO_TEST_SUITE_END()
