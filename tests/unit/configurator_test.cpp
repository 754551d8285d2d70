#include <boost/test/unit_test.hpp>

#include "steppar/configurator.hpp"
#include "steppar/error.hpp"
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
}  // namespace

BOOST_AUTO_TEST_SUITE(configurators)

// The expected values below are kedro-partitioned's (commit 1e800b0), from its own documented
// examples and from its ConfiguratorFinder's rules, not from steppar's output.

// multinode()'s docstring: pattern 'a-part-{part}'; [[a, b]] (cached), [c], ['*'].
BOOST_AUTO_TEST_CASE(the_peers_documented_example) {
    const auto set = ConfiguratorSet::parse(R"({"template": {"pattern": "a-part-{part}"}, "configurators": [
      {"target": [["a", "b"]], "cached": true, "data": {"setting_a": "foo", "setting_b": 2}},
      {"target": ["c"], "data": {"setting_a": "zzz", "setting_b": 4}},
      {"target": ["*"], "data": {"setting_a": "bar", "setting_b": 1}}]})");
    BOOST_TEST(chosen(set, "a-part-a") == "#0");
    BOOST_TEST(chosen(set, "a-part-b") == "#0");
    BOOST_TEST(set.choose("a-part-b")->cached);
    BOOST_TEST(chosen(set, "a-part-c") == "#1");
    BOOST_TEST(set.choose("a-part-c")->data == R"({"setting_a":"zzz","setting_b":4})");
    BOOST_TEST(chosen(set, "a-part-d") == "#2");
    BOOST_TEST(chosen(set, "a-part-") == "#2");  // `*` is `.*`: it may be empty
    BOOST_TEST(chosen(set, "b-part-a") == "-");
    // "or a regex alternate syntax: - a|b"
    const auto alternate = ConfiguratorSet::parse(R"({"template": {"pattern": "a-part-{part}"}, "configurators": [
      {"target": ["a|b"], "cached": true}, {"target": ["*"]}]})");
    BOOST_TEST(chosen(alternate, "a-part-b") == "#0");
    BOOST_TEST(chosen(alternate, "a-part-c") == "#1");
}

// _SlicerNode's and _MultiNode's docstrings: 'subpath/{x}' with ['a'] (cached) and ['*'].
BOOST_AUTO_TEST_CASE(the_peers_slicer_and_multinode_examples) {
    const auto set = ConfiguratorSet::parse(R"({"template": {"pattern": "subpath/{x}"}, "configurators": [
      {"target": ["a"], "cached": true, "data": {"add": 100}}, {"target": ["*"], "cached": false, "data": {"add": 20}}]})");
    BOOST_TEST(set.choose("subpath/a")->cached);
    BOOST_TEST(set.choose("subpath/a")->data == R"({"add":100})");
    BOOST_TEST(!set.choose("subpath/b")->cached);
    BOOST_TEST(set.choose("subpath/b")->data == R"({"add":20})");
}

// ConfiguratorFinder.weights/scores: a named placeholder scores 2^(its hierarchy index), so the
// one later in the hierarchy (by default: later in the pattern) counts most.
BOOST_AUTO_TEST_CASE(the_later_placeholder_in_the_hierarchy_counts_more) {
    const char* states = R"({"template": {"pattern": "{country}/{state}"}, "configurators": [
      {"name": "brazil", "target": ["BR", "*"]}, {"name": "sao-paulo-anywhere", "target": ["*", "SP"]},
      {"name": "all", "target": ["*", "*"]}]})";
    const auto set = ConfiguratorSet::parse(states);
    BOOST_TEST(chosen(set, "BR/SP") == "sao-paulo-anywhere");
    BOOST_TEST(chosen(set, "BR/RJ") == "brazil");
    BOOST_TEST(chosen(set, "US/NY") == "all");
    BOOST_TEST(set.score(set.configurators()[0]) == 1u);
    BOOST_TEST(set.score(set.configurators()[1]) == 2u);
    // An explicit hierarchy: its last entry counts most.
    std::string text = states;
    text.replace(text.find(R"("{country}/{state}"})"), 20, R"("{country}/{state}", "hierarchy": ["state", "country"]})");
    const auto flipped = ConfiguratorSet::parse(text);
    BOOST_TEST(chosen(flipped, "BR/SP") == "brazil");
    BOOST_TEST(chosen(flipped, "US/SP") == "sao-paulo-anywhere");
    // Both named beats either alone.
    const auto both = ConfiguratorSet::parse(R"({"template": {"pattern": "{country}/{state}"}, "configurators": [
      {"name": "one", "target": ["*", "SP"]}, {"name": "two", "target": ["BR", "SP"]}]})");
    BOOST_TEST(chosen(both, "BR/SP") == "two");
}

// _build_regex: targets are regular expressions, `*` is `.*` (crosses '/'; `any` overrides it),
// and the pattern's own text is a regular expression too, matched whole (`^...$`).
BOOST_AUTO_TEST_CASE(targets_and_patterns_are_regular_expressions) {
    const auto set = ConfiguratorSet::parse(R"({"template": {"pattern": "{year}-.*/{rest}"}, "configurators": [
      {"name": "2020s", "target": ["202[0-9]", "*"]}, {"name": "old", "target": ["19.*|200.", "*"]}]})");
    BOOST_TEST(chosen(set, "2021-05/a") == "2020s");
    BOOST_TEST(chosen(set, "2021-05/deep/nested/b") == "2020s");  // `*` crosses '/'
    BOOST_TEST(chosen(set, "1999-12/x") == "old");
    BOOST_TEST(chosen(set, "2005-01/x") == "old");
    BOOST_TEST(chosen(set, "2110-01/x") == "-");
    const auto any = ConfiguratorSet::parse(R"({"template": {"pattern": "{day}", "any": {"day": "[0-9]{4}-[0-9]{2}"}},
      "configurators": [{"target": "*", "data": 5}]})");
    BOOST_TEST(chosen(any, "2024-05") == "#0");
    BOOST_TEST(chosen(any, "may") == "-");
    const auto nested = ConfiguratorSet::parse(R"({"template": {"pattern": "sales/{region}"}, "configurators": [
      {"target": ["*"], "cached": true}]})");
    BOOST_TEST(nested.choose("sales/north/store-7")->cached);  // nested partitions keep their configurator
}

// Where the peer takes the first of two equally specific matches, steppar refuses, naming both
// and the partition; two with the same target are refused up front.
BOOST_AUTO_TEST_CASE(equally_specific_matches_are_an_error_naming_both_and_the_partition) {
    const auto set = ConfiguratorSet::parse(R"({"template": {"pattern": "{a}/{b}"}, "configurators": [
      {"name": "one", "target": ["x|y", "*"]}, {"name": "two", "target": ["y", "*"]}]})");
    BOOST_TEST(chosen(set, "x/1") == "one");
    const auto message = error_of<steppar::InputError>([&] { set.choose("y/1"); });
    BOOST_CHECK(contains(message, "partition 'y/1'"));
    BOOST_CHECK(contains(message, "'one' and 'two'"));
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] {
                             ConfiguratorSet::parse(R"({"template": {"pattern": "{a}"}, "configurators": [
          {"name": "one", "target": ["x"]}, {"name": "two", "target": ["x"]}]})");
                         }),
                         "'one' and 'two' have the same target"));
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
    BOOST_CHECK(contains(error_of<std::invalid_argument>([] {
                             ConfiguratorSet::parse(R"({"template": {"pattern": "{a}"}, "configurators": [{"name": "n", "target": ["(x"]}]})");
                         }),
                         "configurator 'n': its target in pattern '{a}' gives '^((x)$' is not a valid regular expression"));
}

BOOST_AUTO_TEST_CASE(max_simultaneous_steps_arithmetic) {
    BOOST_TEST(steppar::max_simultaneous_slices(8, 1) == 8);
    BOOST_TEST(steppar::max_simultaneous_slices(8, 3) == 2);
    BOOST_TEST(steppar::max_simultaneous_slices(8, 8) == 1);
    BOOST_TEST(steppar::max_simultaneous_slices(2, 5) == 1);  // at least one slice
    BOOST_TEST(steppar::max_simultaneous_slices(9, 2) == 4);
}

BOOST_AUTO_TEST_SUITE_END()
