#include <boost/test/unit_test.hpp>

#include "steppar/configurator.hpp"
#include "steppar/pipeline.hpp"
#include "support.hpp"
using steppar_test::contains;
using steppar_test::error_of;

using steppar::ConfiguratorSet;

namespace {
std::string chosen(const ConfiguratorSet& set, const std::string& partition) {
    const auto* c = set.choose(partition);
    return c ? c->name : "-";
}
const char* sales = R"({"template": {"pattern": "sales/{region}/{store}", "hierarchy": ["region", "store"]},
  "configurators": [
    {"name": "all", "target": ["*", "*"], "data": {"rate": 1}},
    {"name": "north", "target": ["north", "*"], "data": {"rate": 2}},
    {"name": "store7", "target": {"region": "*", "store": "7"}, "data": {"rate": 3}},
    {"name": "north7", "target": ["north", "7"], "data": {"rate": 4}},
    {"name": "closed", "target": [["east", "west"], "*"], "cached": true}
  ]})";
}  // namespace

BOOST_AUTO_TEST_SUITE(configurators)

BOOST_AUTO_TEST_CASE(a_named_value_beats_a_star) {
    const auto set = ConfiguratorSet::parse(sales);
    BOOST_TEST(chosen(set, "sales/north/1") == "north");
    BOOST_TEST(chosen(set, "sales/north/7") == "north7");
    BOOST_TEST(chosen(set, "sales/south/1") == "all");
}

BOOST_AUTO_TEST_CASE(the_more_significant_placeholder_decides) {
    // north (region named) vs store7 (store named): region is more significant.
    const auto set = ConfiguratorSet::parse(sales);
    BOOST_TEST(chosen(set, "sales/south/7") == "store7");
    const std::string reversed = std::string(sales).replace(std::string(sales).find(R"(["region", "store"])"), 19, R"(["store", "region"])");
    const auto flipped = ConfiguratorSet::parse(reversed);
    BOOST_TEST(chosen(flipped, "sales/north/5") == "north");
    BOOST_TEST(chosen(flipped, "sales/north/7") == "north7");
    // With store most significant, store7 would beat north; north7 still beats both.
    const auto no_north7 = ConfiguratorSet::parse(R"({"template": {"pattern": "sales/{region}/{store}", "hierarchy": ["store", "region"]},
      "configurators": [{"name": "north", "target": ["north", "*"]}, {"name": "store7", "target": ["*", "7"]}]})");
    BOOST_TEST(chosen(no_north7, "sales/north/7") == "store7");
}

BOOST_AUTO_TEST_CASE(equally_specific_overlapping_configurators_are_an_error_naming_both) {
    const auto message = error_of<std::invalid_argument>([] {
        ConfiguratorSet::parse(R"({"template": {"pattern": "{a}/{b}"}, "configurators": [
          {"name": "one", "target": [["x", "y"], "*"]}, {"name": "two", "target": ["y", "*"]}]})");
    });
    BOOST_CHECK(contains(message, "'one'"));
    BOOST_CHECK(contains(message, "'two'"));
    // Equally specific but disjoint: fine.
    BOOST_CHECK_NO_THROW(ConfiguratorSet::parse(R"({"template": {"pattern": "{a}/{b}"}, "configurators": [
          {"name": "one", "target": ["x", "*"]}, {"name": "two", "target": ["y", "*"]}]})"));
}

BOOST_AUTO_TEST_CASE(cached_data_any_and_non_matching_names) {
    const auto set = ConfiguratorSet::parse(sales);
    BOOST_TEST(set.choose("sales/east/1")->cached);
    BOOST_TEST(!set.choose("sales/north/1")->cached);
    BOOST_TEST(set.choose("sales/north/7")->data == R"({"rate":4})");
    BOOST_TEST(chosen(set, "other/north/1") == "-");
    BOOST_TEST(chosen(set, "sales/north/1/extra") == "-");
    const auto digits = ConfiguratorSet::parse(R"({"template": {"pattern": "{day}.log", "any": {"day": "[0-9]{4}-[0-9]{2}"}},
      "configurators": [{"target": "*", "data": 5}]})");
    BOOST_TEST(chosen(digits, "2024-05.log") == "#0");
    BOOST_TEST(chosen(digits, "may.log") == "-");
}

BOOST_AUTO_TEST_CASE(bad_configurator_parameters_say_what_is_wrong) {
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] { ConfiguratorSet::parse(R"({"template": {"pattern": "{a}"}})"); }),
                         "needs 'template' and 'configurators'"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] {
                             ConfiguratorSet::parse(R"({"template": {"pattern": "{a}", "hierarchy": ["b"]}, "configurators": []})");
                         }),
                         "hierarchy names 'b'"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] {
                             ConfiguratorSet::parse(R"({"template": {"pattern": "{a}/{b}"}, "configurators": [{"target": ["x"]}]})");
                         }),
                         "one entry per placeholder"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] {
                             ConfiguratorSet::parse(R"({"template": {"pattern": "{a}"}, "configurators": [{"target": "*", "dta": 1}]})");
                         }),
                         "did you mean 'data'"));
}

BOOST_AUTO_TEST_CASE(max_simultaneous_steps_arithmetic) {
    BOOST_TEST(steppar::max_simultaneous_slices(8, 1) == 8);
    BOOST_TEST(steppar::max_simultaneous_slices(8, 3) == 2);
    BOOST_TEST(steppar::max_simultaneous_slices(8, 8) == 1);
    BOOST_TEST(steppar::max_simultaneous_slices(2, 5) == 1);  // at least one slice
    BOOST_TEST(steppar::max_simultaneous_slices(9, 2) == 4);
}

BOOST_AUTO_TEST_SUITE_END()
