// The built-in plugin's nodes as plain functions on steppar/testing.hpp's fake contexts (the
// way a node author tests theirs): no engine, no pipeline file.
#include <boost/test/unit_test.hpp>

#include <steppar/testing.hpp>

#include <string>

void wc(steppar::PartitionContext& ctx);
void wc_total(steppar::WholeContext& ctx);
void sha256(steppar::PartitionContext& ctx);
void lowercase(steppar::PartitionContext& ctx);
void long_words(steppar::PartitionContext& ctx);

using steppar::testing::FakePartitionContext;
using steppar::testing::FakeWholeContext;

BOOST_AUTO_TEST_SUITE(builtin_nodes)

// What `printf 'one two\n\tthree\n\xc3\xa9 x' | LC_ALL=C wc -l -w -c` prints: 2 lines, 4 words
// (the two bytes of é start no word, x does), 19 bytes.
BOOST_AUTO_TEST_CASE(wc_counts_as_gnu_wc_in_the_c_locale) {
    FakePartitionContext ctx("doc");
    ctx.add_input("one two\n\tthree\n\xc3\xa9 x");
    wc(ctx);
    BOOST_TEST(ctx.output_text() == R"({"lines":2,"words":4,"bytes":19})" "\n");
    FakePartitionContext large("large");  // more than one 64 KiB chunk, a word across the edge
    large.add_input(std::string(65535, ' ') + "ab cd\n");
    wc(large);
    BOOST_TEST(large.output_text() == R"({"lines":1,"words":2,"bytes":65541})" "\n");
}

BOOST_AUTO_TEST_CASE(wc_total_sums_wc_results_and_names_a_bad_one) {
    FakeWholeContext ctx;
    ctx.add_partitioned_input("counts", {{"a", R"({"lines":2,"words":4,"bytes":22})"}, {"b", R"({"lines":1,"words":1,"bytes":3})"}});
    wc_total(ctx);
    BOOST_TEST(ctx.output_text() == R"({"files":2,"lines":3,"words":5,"bytes":25})" "\n");
    FakeWholeContext bad;
    bad.add_partitioned_input("counts", {{"broken", "not json"}});
    try {
        wc_total(bad);
        BOOST_FAIL("a partition that is not a wc result must fail");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("partition 'broken' is not a wc result") != std::string::npos, e.what());
    }
}

// sha256sum's digests of "abc" and of nothing (FIPS 180-2 test vectors).
BOOST_AUTO_TEST_CASE(sha256_prints_what_sha256sum_prints) {
    FakePartitionContext abc("abc");
    abc.add_input("abc");
    sha256(abc);
    BOOST_TEST(abc.output_text() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
    FakePartitionContext empty("empty");
    empty.add_input("");
    sha256(empty);
    BOOST_TEST(empty.output_text() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
}

BOOST_AUTO_TEST_CASE(lowercase_and_long_words) {
    FakePartitionContext lower("t");
    lower.add_input("Hello WORLD \xc3\x89t\xc3\xa9\n");
    lowercase(lower);
    BOOST_TEST(lower.output_text() == "hello world \xc3\x89t\xc3\xa9\n");  // ASCII only
    FakePartitionContext words("t");
    words.add_input("a tiny example of\tlonger words\n");
    words.params().set("min_length", 5);
    long_words(words);
    BOOST_TEST(words.output_text() == "example\nlonger\nwords\n");
}

BOOST_AUTO_TEST_SUITE_END()
