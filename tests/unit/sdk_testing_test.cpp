#include <boost/test/unit_test.hpp>

#include <steppar/io.hpp>
#include <steppar/testing.hpp>

#include <sstream>

namespace {

// Nodes as a plugin author writes them, tested as plain functions.
void longest_words(steppar::PartitionContext& ctx) {
    const auto min = static_cast<std::size_t>(ctx.params().integer("min_length"));
    const std::string tag = ctx.configuration().has("tag") ? ctx.configuration().text("tag") : "-";
    std::istringstream words(ctx.input().read_text());
    std::size_t kept = 0;
    for (std::string word; words >> word;)
        if (word.size() >= min) {
            ctx.output().stream() << tag << ' ' << word << '\n';
            ++kept;
        }
    if (kept == 0) ctx.warn("no word of " + std::to_string(min) + " letters in " + ctx.partition());
}

void split_by_first_letter(steppar::WholeContext& ctx) {
    for (const auto& part : ctx.input().partitions())
        for (std::string_view line : steppar::io::lines(part.file))
            if (!line.empty()) ctx.output_partition(0, std::string(1, line.front())).stream() << part.name << ':' << line << '\n';
    ctx.output().write(std::to_string(ctx.input().partitions().size()) + " partitions\n");
    ctx.log("split");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sdk_testing)

BOOST_AUTO_TEST_CASE(a_partition_node_runs_on_a_fake_context) {
    steppar::testing::FakePartitionContext ctx("2024/05");
    ctx.add_input("alpha be gamma\n");
    ctx.params().set("min_length", 5);
    ctx.configuration().set("tag", "north");
    longest_words(ctx);
    BOOST_TEST(ctx.output_text() == "north alpha\nnorth gamma\n");
    BOOST_TEST(ctx.logged().empty());

    steppar::testing::FakePartitionContext quiet("empty");
    quiet.add_input("a b\n");
    quiet.params().set("min_length", 5);
    longest_words(quiet);
    BOOST_TEST(quiet.output_text() == "");
    BOOST_TEST_REQUIRE(quiet.logged().size() == 1u);
    BOOST_TEST((quiet.logged()[0].level == steppar::LogLevel::warning));
    BOOST_TEST(quiet.logged()[0].message == "no word of 5 letters in empty");
}

BOOST_AUTO_TEST_CASE(a_whole_node_runs_on_a_fake_context) {
    steppar::testing::FakeWholeContext ctx;
    ctx.add_partitioned_input("docs", {{"a", "apple\nbanana\n"}, {"b", "avocado\n"}});
    split_by_first_letter(ctx);
    BOOST_TEST((ctx.output_partitions() == std::vector<std::string>{"a", "b"}));
    BOOST_TEST(ctx.output_partition_text(0, "a") == "a:apple\nb:avocado\n");
    BOOST_TEST(ctx.output_partition_text(0, "b") == "a:banana\n");
    BOOST_TEST(ctx.output_text() == "2 partitions\n");
    BOOST_TEST(ctx.logged().at(0).message == "split");
}

BOOST_AUTO_TEST_CASE(fake_params_keep_their_types) {
    steppar::testing::FakeParams p;
    p.set("n", 3).set("x", 2.5).set("name", "a \"quoted\" name").set("on", true).set_json("list", "[1,2]");
    BOOST_TEST(p.integer("n") == 3);
    BOOST_TEST(p.number("n") == 3.0);
    BOOST_TEST(p.number("x") == 2.5);
    BOOST_TEST(p.text("name") == "a \"quoted\" name");
    BOOST_TEST(p.json("name") == "\"a \\\"quoted\\\" name\"");
    BOOST_TEST(p.boolean("on"));
    BOOST_TEST(p.json("list") == "[1,2]");
    BOOST_TEST(!p.has("missing"));
    BOOST_CHECK_THROW(p.integer("name"), std::runtime_error);
    BOOST_CHECK_THROW(p.text("missing"), std::runtime_error);
}

// A filter that knows its slice, skips what it drops and counts both; and a setup function.
void keep_short(steppar::PartitionContext& ctx) {
    const std::string text = ctx.input().read_text();
    if (text.size() > static_cast<std::size_t>(ctx.params().integer("max"))) {
        ctx.skip();
        ctx.count("dropped");
        return;
    }
    ctx.count("kept");
    ctx.output(0).write(text);
    ctx.output(1).write("slice " + std::to_string(ctx.slice()) + " of " + std::to_string(ctx.slice_count()) + "\n");
}

std::string opened_for;
void open_for_slice(steppar::SliceContext& slice) {
    opened_for = slice.unit() + " " + std::to_string(slice.slice()) + "/" + std::to_string(slice.slice_count()) + " " +
                 slice.params().text("dsn");
    slice.log("opened");
}

BOOST_AUTO_TEST_CASE(skips_counters_slices_and_setup_functions_on_fake_contexts) {
    steppar::testing::FakePartitionContext kept("a");
    kept.add_input("tiny").set_outputs(2).set_slice(2, 5).params().set("max", 10);
    keep_short(kept);
    BOOST_TEST(!kept.skipped(0));
    BOOST_TEST(kept.output_text(1) == "slice 2 of 5\n");
    BOOST_TEST(kept.counters().value("kept") == 1);
    BOOST_TEST(kept.counters().value("dropped") == 0);

    steppar::testing::FakePartitionContext dropped("b");
    dropped.add_input("far too long for it").set_outputs(2).params().set("max", 10);
    keep_short(dropped);
    BOOST_TEST(dropped.skipped(0));
    BOOST_TEST(dropped.skipped(1));
    BOOST_TEST((dropped.counters().values() == std::map<std::string, long long>{{"dropped", 1}}));

    // The host's rule for counter names holds on the fakes too.
    BOOST_TEST(steppar::is_counter_name("rows.read-2_x"));
    for (const char* bad : {"", "two words", "rows/s", "é"}) {
        BOOST_TEST(!steppar::is_counter_name(bad), bad);
        BOOST_CHECK_THROW(dropped.count(bad, 1), std::invalid_argument);
    }
    BOOST_TEST(!steppar::is_counter_name(std::string(65, 'x')));

    steppar::testing::FakeSliceContext slice("orders", 1, 3);
    slice.params().set("dsn", "postgres://db");
    open_for_slice(slice);
    BOOST_TEST(opened_for == "orders 1/3 postgres://db");
    BOOST_TEST(slice.step() == "orders-slice-1");
    BOOST_TEST(slice.logged().at(0).message == "opened");
}

BOOST_AUTO_TEST_SUITE_END()
