#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/text.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using steppar_test::contains;

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(join_separates_items_with_comma_and_space_by_default) {
    BOOST_TEST(steppar::join({"a", "b", "c"}) == "a, b, c");
}

BOOST_AUTO_TEST_CASE(join_uses_the_given_separator) {
    BOOST_TEST(steppar::join({"count", "total", "count"}, " -> ") == "count -> total -> count");
}

BOOST_AUTO_TEST_CASE(join_of_one_item_has_no_separator) {
    BOOST_TEST(steppar::join({"only"}) == "only");
}

BOOST_AUTO_TEST_CASE(join_of_nothing_says_none) {
    BOOST_TEST(steppar::join({}) == "(none)");
}

BOOST_AUTO_TEST_CASE(nearest_finds_a_transposition_typo) {
    BOOST_TEST(steppar::nearest("outptus", {"name", "func", "inputs", "outputs", "slices"}) == "outputs");
}

BOOST_AUTO_TEST_CASE(nearest_finds_a_missing_letter) {
    BOOST_TEST(steppar::nearest("doc", {"counts", "docs", "total"}) == "docs");
}

BOOST_AUTO_TEST_CASE(nearest_prefers_the_closest_candidate) {
    // "min_lenght" is 2 edits from "min_length" and 3 from "max_length".
    BOOST_TEST(steppar::nearest("min_lenght", {"max_length", "min_length"}) == "min_length");
    BOOST_TEST(steppar::nearest("min_lenght", {"min_length", "max_length"}) == "min_length");
}

BOOST_AUTO_TEST_CASE(nearest_returns_an_exact_match) {
    BOOST_TEST(steppar::nearest("nodes", {"plugins", "catalog", "params", "nodes"}) == "nodes");
}

BOOST_AUTO_TEST_CASE(nearest_returns_nothing_for_an_unrelated_word) {
    BOOST_TEST(steppar::nearest("zebra_crossing", {"plugins", "catalog", "params", "nodes"}).empty());
}

BOOST_AUTO_TEST_CASE(nearest_returns_nothing_without_candidates) {
    BOOST_TEST(steppar::nearest("docs", {}).empty());
}

BOOST_AUTO_TEST_CASE(suggestion_proposes_the_nearest_name) {
    BOOST_TEST(steppar::suggestion("sufix", {"type", "path", "suffix"}) == " (did you mean 'suffix'?)");
}

BOOST_AUTO_TEST_CASE(suggestion_lists_valid_names_when_none_is_close) {
    BOOST_TEST(steppar::suggestion("zebra_crossing", {"type", "path", "suffix"}) == " (valid: type, path, suffix)");
}

BOOST_AUTO_TEST_CASE(suggestion_without_candidates_says_none_are_valid) {
    BOOST_CHECK(contains(steppar::suggestion("anything", {}), "(none)"));
}

BOOST_AUTO_TEST_CASE(json_strings_escape_what_json_requires_and_nothing_else) {
    std::string out;
    steppar::append_json_string(out, "a\"b\\c\nd\te\x01/é");
    BOOST_TEST(out == "\"a\\\"b\\\\c\\nd\\te\\u0001/é\"");
    // Whatever the escaping, a JSON parser must read the same name back.
    const std::string name = std::string("sp ace/\x1f\x7f\r") + "名前";
    std::string quoted;
    steppar::append_json_string(quoted, name);
    BOOST_TEST(nlohmann::json::parse(quoted).get<std::string>() == name);
}

BOOST_AUTO_TEST_CASE(bytes_are_shown_in_binary_units) {
    BOOST_TEST(steppar::bytes_text(0) == "0 B");
    BOOST_TEST(steppar::bytes_text(1023) == "1023 B");
    BOOST_TEST(steppar::bytes_text(8000) == "7.8 KiB");
    BOOST_TEST(steppar::bytes_text(3ULL << 30) == "3.0 GiB");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(utf8)

BOOST_AUTO_TEST_CASE(valid_utf8_accepts_text_and_rejects_broken_sequences) {
    BOOST_TEST(steppar::valid_utf8(""));
    BOOST_TEST(steppar::valid_utf8("plain ascii"));
    BOOST_TEST(steppar::valid_utf8("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80"));
    BOOST_TEST(!steppar::valid_utf8("\xfb"));             // not a lead byte
    BOOST_TEST(!steppar::valid_utf8("caf\xc3"));          // truncated
    BOOST_TEST(!steppar::valid_utf8("\xc3\x28"));         // bad continuation
    BOOST_TEST(!steppar::valid_utf8("\xc0\xaf"));         // overlong '/'
    BOOST_TEST(!steppar::valid_utf8("\xed\xa0\x80"));     // surrogate
    BOOST_TEST(!steppar::valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
}

BOOST_AUTO_TEST_SUITE_END()
