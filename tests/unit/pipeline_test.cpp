#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/error.hpp"
#include "steppar/pipeline.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using steppar_test::contains;
using steppar_test::error_of;

using steppar::Catalog;
using steppar::Dataset;
using steppar::DatasetKind;
using steppar::Fragment;
using steppar::Node;
using steppar::NodeKind;
using steppar::Pipeline;
using steppar::Slices;
using steppar::multinode;
using steppar::multipipeline;
using steppar::node;

namespace {

const fs::path source = "/proj/pipeline.yaml";
const fs::path intermediate_root = "/proj/.steppar/data";

NodeKind builtin_kind_of(const Node& n) {
    static const std::map<std::string, NodeKind> kinds = {
        {"builtin.wc", NodeKind::partition},         {"builtin.lowercase", NodeKind::partition},
        {"builtin.sha256", NodeKind::partition},     {"builtin.zip", NodeKind::partition},
        {"builtin.wc_total", NodeKind::whole},       {"builtin.concat", NodeKind::whole}};
    const auto it = kinds.find(n.function.text());
    if (it == kinds.end())
        throw steppar::PluginError("plugin '" + n.function.plugin + "' has no function '" + n.function.function + "'");
    return it->second;
}

Dataset partitioned(std::string name, fs::path path, std::string suffix = ".txt") {
    Dataset d;
    d.name = std::move(name);
    d.kind = DatasetKind::partitioned;
    d.path = std::move(path);
    d.suffix = std::move(suffix);
    return d;
}

Dataset file(std::string name, fs::path path) {
    Dataset d;
    d.name = std::move(name);
    d.kind = DatasetKind::file;
    d.path = std::move(path);
    return d;
}

Catalog catalog(std::vector<Dataset> extra = {}) {
    Catalog c;
    c.add(partitioned("docs", "/data/docs"));
    c.add(partitioned("docs2", "/data/docs2"));
    c.add(file("lookup", "/data/lookup.csv"));
    c.add(file("total", "/out/total.json"));
    for (auto& d : extra) c.add(std::move(d));
    return c;
}

Pipeline make(Fragment fragment, Catalog c = catalog()) {
    return Pipeline(std::move(c), {{"min_length", "3"}, {"label", "\"x\""}}, std::move(fragment), source,
                    intermediate_root);
}

Pipeline validated(Fragment fragment, Catalog c = catalog()) {
    Pipeline p = make(std::move(fragment), std::move(c));
    p.validate(builtin_kind_of);
    return p;
}

std::string validation_error(Fragment fragment, Catalog c = catalog()) {
    Pipeline p = make(std::move(fragment), std::move(c));
    return error_of<steppar::SpecError>([&] { p.validate(builtin_kind_of); });
}

std::vector<std::string> unit_names(const Pipeline& p) {
    std::vector<std::string> names;
    for (const auto& u : p.units()) names.push_back(u.name);
    return names;
}

std::vector<std::string> node_names(const steppar::Unit& u) {
    std::vector<std::string> names;
    for (const auto& n : u.nodes) names.push_back(n.name);
    return names;
}

using names = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(pipeline)

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(function_ref_splits_plugin_and_function) {
    const auto f = steppar::FunctionRef::parse("builtin.wc_total");
    BOOST_TEST(f.plugin == "builtin");
    BOOST_TEST(f.function == "wc_total");
    BOOST_TEST(f.text() == "builtin.wc_total");
}

BOOST_AUTO_TEST_CASE(function_ref_without_a_dot_or_part_is_rejected) {
    BOOST_CHECK_THROW(steppar::FunctionRef::parse("wc"), std::invalid_argument);
    BOOST_CHECK_THROW(steppar::FunctionRef::parse(".wc"), std::invalid_argument);
    BOOST_CHECK_THROW(steppar::FunctionRef::parse("builtin."), std::invalid_argument);
    BOOST_CHECK_THROW(Node("n", "nodot", {}, {}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(params_inputs_are_recognised) {
    BOOST_TEST(Node::is_param("params:min_length"));
    BOOST_TEST(!Node::is_param("docs"));
    BOOST_TEST(!Node::is_param("my_params:x"));
    BOOST_TEST(Node::param_name("params:min_length") == "min_length");
}

BOOST_AUTO_TEST_CASE(fragments_add_up_in_order) {
    const Fragment f = node({"a", "builtin.wc", {"docs"}, {"x"}}) + multinode({"b", "builtin.wc", {"x"}, {"y"}}, Slices::fixed(2)) +
                       multipipeline("c", {{"c1", "builtin.wc", {"y"}, {"z"}}}, Slices::automatic());
    BOOST_TEST_REQUIRE(f.units.size() == 3u);
    BOOST_TEST(f.units[0].name == "a");
    BOOST_TEST(!f.units[0].replicated());
    BOOST_TEST(f.units[1].name == "b");
    BOOST_TEST(f.units[1].slices.count == 2);
    BOOST_TEST((f.units[1].kind == steppar::UnitKind::multinode));
    BOOST_TEST((f.units[2].kind == steppar::UnitKind::multipipeline));
    BOOST_TEST(f.units[2].slices.per_core);
}

BOOST_AUTO_TEST_CASE(automatic_slices_resolve_to_at_least_one) {
    BOOST_TEST(Slices::automatic().resolve() >= 1);
    BOOST_TEST(Slices::fixed(5).resolve() == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validate)

BOOST_AUTO_TEST_CASE(a_valid_pipeline_passes) {
    const Pipeline p = validated(multinode({"count", "builtin.wc", {"docs", "params:min_length"}, {"counts"}}, Slices::fixed(4)) +
                                 node({"sum", "builtin.wc_total", {"counts", "lookup"}, {"total"}}));
    BOOST_TEST(p.units().size() == 2u);
    BOOST_TEST((p.kind(p.units()[0].nodes[0]) == NodeKind::partition));
    BOOST_TEST((p.kind(p.units()[1].nodes[0]) == NodeKind::whole));
}

BOOST_AUTO_TEST_CASE(kind_before_validate_is_a_logic_error) {
    const Pipeline p = make(node({"count", "builtin.wc", {"docs"}, {"counts"}}));
    BOOST_CHECK_THROW(p.kind(p.units()[0].nodes[0]), std::logic_error);
}

BOOST_AUTO_TEST_CASE(empty_pipeline_is_an_error) {
    BOOST_CHECK(contains(validation_error(Fragment{}), "no nodes"));
}

BOOST_AUTO_TEST_CASE(unknown_dataset_names_it_and_suggests_the_nearest) {
    const auto message = validation_error(node({"count", "builtin.wc", {"doc"}, {"counts"}, 7}));
    BOOST_CHECK(contains(message, source.string() + ":7:"));
    BOOST_CHECK(contains(message, "unknown dataset 'doc'"));
    BOOST_CHECK(contains(message, "did you mean 'docs'"));
    BOOST_CHECK(contains(message, "'count'"));
}

BOOST_AUTO_TEST_CASE(unknown_dataset_without_a_close_name_lists_the_valid_ones) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs", "zzzzzzzz"}, {"counts"}}));
    BOOST_CHECK(contains(message, "'zzzzzzzz'"));
    BOOST_CHECK(contains(message, "valid:"));
    BOOST_CHECK(contains(message, "lookup"));
}

BOOST_AUTO_TEST_CASE(unknown_param_names_it_and_suggests_the_nearest) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs", "params:min_lenght"}, {"counts"}, 3}));
    BOOST_CHECK(contains(message, ":3:"));
    BOOST_CHECK(contains(message, "min_lenght"));
    BOOST_CHECK(contains(message, "did you mean 'min_length'"));
}

BOOST_AUTO_TEST_CASE(unknown_function_is_a_spec_error_naming_the_node) {
    const auto message = validation_error(node({"count", "builtin.nope", {"docs"}, {"counts"}, 5}));
    BOOST_CHECK(contains(message, ":5:"));
    BOOST_CHECK(contains(message, "'count'"));
    BOOST_CHECK(contains(message, "nope"));
}

BOOST_AUTO_TEST_CASE(two_producers_of_one_dataset_name_both_nodes) {
    const auto message = validation_error(node({"first_writer", "builtin.wc", {"docs"}, {"counts"}}) +
                                          node({"second_writer", "builtin.wc_total", {"docs2"}, {"counts"}}));
    BOOST_CHECK(contains(message, "'counts'"));
    BOOST_CHECK(contains(message, "first_writer"));
    BOOST_CHECK(contains(message, "second_writer"));
}

// Partition functions of different units may share a partitioned output; what reads it waits
// for all of them, and each waits for what the others read (their slicers compare partitions).
BOOST_AUTO_TEST_CASE(several_producers_of_a_partitioned_dataset) {
    const Pipeline p = validated(node({"sum", "builtin.wc_total", {"counts"}, {"total"}}) +
                                 multinode({"early", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2)) +
                                 node({"prepare", "builtin.lowercase", {"docs2"}, {"lowered"}}) +
                                 node({"late", "builtin.wc", {"lowered"}, {"counts"}}));
    auto index = [&](const std::string& name) {
        for (std::size_t u = 0; u < p.units().size(); ++u)
            if (p.units()[u].name == name) return u;
        return p.units().size();
    };
    const auto& producers = p.producers("counts");
    BOOST_TEST(producers.size() == 2u);
    const auto& sum = p.upstream(index("sum"));
    BOOST_TEST((std::count(sum.begin(), sum.end(), index("early")) == 1 && std::count(sum.begin(), sum.end(), index("late")) == 1));
    const auto& early = p.upstream(index("early"));
    BOOST_TEST(std::count(early.begin(), early.end(), index("prepare")) == 1, "early waits for what late reads");
    BOOST_TEST(index("prepare") < index("early"));
}

BOOST_AUTO_TEST_CASE(two_producers_inside_a_multipipeline_are_an_error) {
    const auto message = validation_error(multipipeline(
        "mp", {{"first_writer", "builtin.wc", {"docs"}, {"x"}}, {"second_writer", "builtin.wc", {"docs"}, {"x"}}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "first_writer"));
    BOOST_CHECK(contains(message, "second_writer"));
}

BOOST_AUTO_TEST_CASE(cycle_between_nodes_is_an_error_naming_them) {
    const auto message = validation_error(node({"downstream", "builtin.wc", {"x"}, {"t"}, 2}) +
                                          node({"alpha", "builtin.wc", {"docs", "y"}, {"x"}, 3}) +
                                          node({"beta", "builtin.wc", {"x"}, {"y"}, 4}));
    BOOST_CHECK(contains(message, "cycle"));
    BOOST_CHECK(contains(message, "alpha"));
    BOOST_CHECK(contains(message, "beta"));
    BOOST_TEST(message.find("downstream") == std::string::npos, message);  // not part of the cycle
}

BOOST_AUTO_TEST_CASE(cycle_through_a_multinode_is_an_error) {
    const auto message = validation_error(multinode({"alpha", "builtin.wc", {"docs", "y"}, {"x"}}, Slices::fixed(2)) +
                                          multinode({"beta", "builtin.wc", {"x"}, {"y"}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "cycle"));
    BOOST_CHECK(contains(message, "alpha"));
    BOOST_CHECK(contains(message, "beta"));
}

BOOST_AUTO_TEST_CASE(node_reading_its_own_output_is_a_cycle) {
    const auto message = validation_error(node({"loop", "builtin.wc", {"docs", "x"}, {"x"}}));
    BOOST_CHECK(contains(message, "cycle"));
    BOOST_CHECK(contains(message, "loop"));
}

BOOST_AUTO_TEST_CASE(cycle_inside_a_multipipeline_is_an_error_naming_it) {
    const auto message = validation_error(multipipeline(
        "mp", {{"alpha", "builtin.wc", {"docs", "y"}, {"x"}}, {"beta", "builtin.wc", {"x"}, {"y"}}}, Slices::fixed(2), {}, 9));
    BOOST_CHECK(contains(message, source.string() + ":9:"));
    BOOST_CHECK(contains(message, "cycle"));
    BOOST_CHECK(contains(message, "'mp'"));
    BOOST_CHECK(contains(message, "alpha"));
    BOOST_CHECK(contains(message, "beta"));
}

BOOST_AUTO_TEST_CASE(zero_slices_is_an_error) {
    const auto message = validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(0)));
    BOOST_CHECK(contains(message, "'count'"));
    BOOST_CHECK(contains(message, "slices"));
    BOOST_CHECK(contains(message, "got 0"));
}

BOOST_AUTO_TEST_CASE(negative_slices_is_an_error) {
    const auto message = validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(-3)));
    BOOST_CHECK(contains(message, "got -3"));
}

BOOST_AUTO_TEST_CASE(zero_slices_in_a_multipipeline_is_an_error) {
    const auto message = validation_error(multipipeline("mp", {{"a", "builtin.wc", {"docs"}, {"x"}}}, Slices::fixed(0)));
    BOOST_CHECK(contains(message, "'mp'"));
    BOOST_CHECK(contains(message, "slices"));
}

BOOST_AUTO_TEST_CASE(one_slice_and_automatic_slices_are_valid) {
    BOOST_CHECK_NO_THROW(validated(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(1))));
    BOOST_CHECK_NO_THROW(validated(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::automatic())));
}

BOOST_AUTO_TEST_CASE(whole_function_in_a_multinode_is_an_error) {
    const auto message = validation_error(multinode({"sum", "builtin.wc_total", {"docs"}, {"total"}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "'sum'"));
    BOOST_CHECK(contains(message, "whole function"));
}

BOOST_AUTO_TEST_CASE(whole_function_in_a_multipipeline_is_an_error) {
    const auto message = validation_error(multipipeline(
        "mp", {{"lower", "builtin.lowercase", {"docs"}, {"x"}}, {"sum", "builtin.wc_total", {"x"}, {"total"}}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "'sum'"));
    BOOST_CHECK(contains(message, "whole function"));
}

BOOST_AUTO_TEST_CASE(whole_function_as_a_plain_node_is_valid) {
    BOOST_CHECK_NO_THROW(validated(node({"sum", "builtin.wc_total", {"docs"}, {"total"}})));
}

BOOST_AUTO_TEST_CASE(output_folder_equal_to_an_input_folder_is_an_error) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                          catalog({partitioned("counts", "/data/docs")}));
    BOOST_CHECK(contains(message, "'counts'"));
    BOOST_CHECK(contains(message, "'docs'"));
    BOOST_CHECK(contains(message, "inside"));
}

BOOST_AUTO_TEST_CASE(output_folder_inside_an_input_folder_is_an_error) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                          catalog({partitioned("counts", "/data/docs/counts")}));
    BOOST_CHECK(contains(message, "'counts'"));
    BOOST_CHECK(contains(message, "'docs'"));
}

BOOST_AUTO_TEST_CASE(output_folder_deep_inside_an_input_folder_is_an_error) {
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                          catalog({partitioned("counts", "/data/docs/a/b/c")})),
                         "'docs'"));
}

BOOST_AUTO_TEST_CASE(output_folder_reaching_an_input_through_dot_dot_is_an_error) {
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                          catalog({partitioned("counts", "/data/other/../docs/counts")})),
                         "'docs'"));
}

BOOST_AUTO_TEST_CASE(output_folder_inside_an_input_folder_with_a_trailing_slash_is_an_error) {
    Catalog c;
    c.add(partitioned("in", "/data/in/"));
    c.add(partitioned("out", "/data/in/out"));
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"in"}, {"out"}}), std::move(c)), "'in'"));
}

BOOST_AUTO_TEST_CASE(file_output_inside_an_input_folder_is_an_error) {
    Catalog c;
    c.add(partitioned("docs", "/data/docs"));
    c.add(file("total", "/data/docs/total.json"));
    BOOST_CHECK(contains(validation_error(node({"sum", "builtin.wc_total", {"docs"}, {"total"}}), std::move(c)), "'total'"));
}

BOOST_AUTO_TEST_CASE(output_folder_sharing_only_a_name_prefix_with_an_input_is_valid) {
    // "/data/docs_out" starts with the characters of "/data/docs" but is not inside it.
    BOOST_CHECK_NO_THROW(validated(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                   catalog({partitioned("counts", "/data/docs_out")})));
    BOOST_CHECK_NO_THROW(validated(node({"count", "builtin.wc", {"docs"}, {"counts"}}),
                                   catalog({partitioned("counts", "/data/counts")})));
}

BOOST_AUTO_TEST_CASE(partition_function_writing_a_file_dataset_is_an_error) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs"}, {"total"}}));
    BOOST_CHECK(contains(message, "'count'"));
    BOOST_CHECK(contains(message, "file dataset 'total'"));
}

BOOST_AUTO_TEST_CASE(partition_function_without_a_partitioned_input_is_an_error) {
    const auto message = validation_error(node({"count", "builtin.wc", {"lookup", "params:min_length"}, {"counts"}}));
    BOOST_CHECK(contains(message, "'count'"));
    BOOST_CHECK(contains(message, "no partitioned input"));
}

BOOST_AUTO_TEST_CASE(node_without_outputs_is_an_error) {
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {}})), "no outputs"));
}

BOOST_AUTO_TEST_CASE(params_as_outputs_are_an_error) {
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {"params:min_length"}})), "params"));
}

BOOST_AUTO_TEST_CASE(duplicate_node_names_are_an_error) {
    const auto message = validation_error(node({"count", "builtin.wc", {"docs"}, {"a"}, 2}) +
                                          node({"count", "builtin.wc", {"docs"}, {"b"}, 5}));
    BOOST_CHECK(contains(message, "'count'"));
    BOOST_CHECK(contains(message, "twice"));
    BOOST_CHECK(contains(message, "line 2"));
}

BOOST_AUTO_TEST_CASE(multipipeline_named_like_a_node_is_an_error) {
    const auto message = validation_error(node({"clean", "builtin.wc", {"docs"}, {"a"}}) +
                                          multipipeline("clean", {{"lower", "builtin.wc", {"docs"}, {"b"}}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "'clean'"));
    BOOST_CHECK(contains(message, "twice"));
}

BOOST_AUTO_TEST_CASE(node_inside_a_multipipeline_named_like_another_node_is_an_error) {
    const auto message = validation_error(node({"lower", "builtin.wc", {"docs"}, {"a"}}) +
                                          multipipeline("clean", {{"lower", "builtin.wc", {"docs"}, {"b"}}}, Slices::fixed(2)));
    BOOST_CHECK(contains(message, "'lower'"));
}

BOOST_AUTO_TEST_CASE(node_names_unusable_as_file_names_are_an_error) {
    BOOST_CHECK(contains(validation_error(node({"a/b", "builtin.wc", {"docs"}, {"x"}})), "not valid"));
    BOOST_CHECK(contains(validation_error(node({"..", "builtin.wc", {"docs"}, {"x"}})), "not valid"));
    BOOST_CHECK(contains(validation_error(node({"", "builtin.wc", {"docs"}, {"x"}})), "not valid"));
}

BOOST_AUTO_TEST_CASE(empty_multipipeline_is_an_error) {
    BOOST_CHECK(contains(validation_error(multipipeline("mp", {}, Slices::fixed(2))), "no nodes"));
}

BOOST_AUTO_TEST_CASE(intermediate_of_a_partition_function_is_a_partitioned_dataset_under_the_root) {
    const Pipeline p = validated(node({"count", "builtin.wc", {"docs"}, {"counts"}, 4}));
    BOOST_TEST_REQUIRE(p.catalog().contains("counts"));
    const Dataset& d = p.catalog().at("counts");
    BOOST_TEST(d.partitioned());
    BOOST_TEST(d.intermediate);
    BOOST_TEST(d.path == intermediate_root / "counts");
    BOOST_TEST(d.line == 4);
}

BOOST_AUTO_TEST_CASE(intermediate_of_a_whole_function_is_a_file_dataset_under_the_root) {
    const Pipeline p = validated(node({"sum", "builtin.wc_total", {"docs"}, {"summary"}}));
    BOOST_TEST_REQUIRE(p.catalog().contains("summary"));
    const Dataset& d = p.catalog().at("summary");
    BOOST_TEST(!d.partitioned());
    BOOST_TEST(d.intermediate);
    BOOST_TEST(d.path == intermediate_root / "summary");
}

BOOST_AUTO_TEST_CASE(catalog_outputs_are_not_made_intermediate) {
    const Pipeline p = validated(node({"sum", "builtin.wc_total", {"docs"}, {"total"}}));
    BOOST_TEST(!p.catalog().at("total").intermediate);
    BOOST_TEST(p.catalog().at("total").path == fs::path("/out/total.json"));
    BOOST_TEST(p.catalog().all().size() == 4u);  // nothing added
}

BOOST_AUTO_TEST_CASE(intermediates_inside_a_multipipeline_are_added) {
    const Pipeline p = validated(multipipeline(
        "mp", {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}, {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
        Slices::fixed(2)));
    BOOST_TEST(p.catalog().at("lower_docs").intermediate);
    BOOST_TEST(p.catalog().at("lower_docs").partitioned());
    BOOST_TEST(p.catalog().at("digests").path == intermediate_root / "digests");
}

BOOST_AUTO_TEST_CASE(multipipeline_chain_in_reverse_order_is_reordered_by_data_flow) {
    const Pipeline p = validated(multipipeline(
        "mp", {{"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}, {"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}},
        Slices::fixed(2)));
    BOOST_TEST(node_names(p.units().at(0)) == (names{"lower", "hash"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(multipipeline_chain_of_four_in_scrambled_order_is_reordered) {
    const Pipeline p = validated(multipipeline("mp",
                                               {{"c", "builtin.wc", {"b_out"}, {"c_out"}},
                                                {"a", "builtin.wc", {"docs"}, {"a_out"}},
                                                {"d", "builtin.wc", {"c_out", "a_out"}, {"d_out"}},
                                                {"b", "builtin.wc", {"a_out"}, {"b_out"}}},
                                               Slices::fixed(2)));
    BOOST_TEST(node_names(p.units().at(0)) == (names{"a", "b", "c", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(multipipeline_chain_already_in_order_is_kept) {
    const Pipeline p = validated(multipipeline(
        "mp", {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}, {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
        Slices::fixed(2)));
    BOOST_TEST(node_names(p.units().at(0)) == (names{"lower", "hash"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(units_are_reordered_topologically) {
    const Pipeline p = validated(node({"sum", "builtin.wc_total", {"counts"}, {"total"}}) +
                                 multinode({"count", "builtin.wc", {"lower_docs"}, {"counts"}}, Slices::fixed(3)) +
                                 multipipeline("clean", {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}}, Slices::fixed(2)));
    BOOST_TEST(unit_names(p) == (names{"clean", "count", "sum"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unit_order_puts_every_producer_before_its_readers) {
    // A diamond, listed leaves first: top -> (left, right) -> bottom.
    const Pipeline p = validated(node({"bottom", "builtin.zip", {"l", "r"}, {"b"}}) +
                                 node({"right", "builtin.wc", {"t"}, {"r"}}) + node({"left", "builtin.wc", {"t"}, {"l"}}) +
                                 node({"top", "builtin.wc", {"docs"}, {"t"}}));
    const auto order = unit_names(p);
    auto at = [&](const std::string& name) { return std::find(order.begin(), order.end(), name) - order.begin(); };
    BOOST_TEST(order.size() == 4u);
    BOOST_TEST(at("top") < at("left"));
    BOOST_TEST(at("top") < at("right"));
    BOOST_TEST(at("left") < at("bottom"));
    BOOST_TEST(at("right") < at("bottom"));
}

BOOST_AUTO_TEST_CASE(producers_give_the_unit_index_after_reordering) {
    const Pipeline p = validated(node({"sum", "builtin.wc_total", {"counts"}, {"total"}}) +
                                 multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(3)));
    BOOST_TEST_REQUIRE(unit_names(p) == (names{"count", "sum"}), boost::test_tools::per_element());
    BOOST_TEST((p.producers("counts") == std::vector<int>{0}));
    BOOST_TEST((p.producers("total") == std::vector<int>{1}));
}

BOOST_AUTO_TEST_CASE(a_source_dataset_has_no_producers) {
    const Pipeline p = validated(node({"count", "builtin.wc", {"docs"}, {"counts"}}));
    BOOST_TEST(p.producers("docs").empty());
    BOOST_TEST(p.producers("no_such_dataset").empty());
}

BOOST_AUTO_TEST_CASE(the_producer_of_a_multipipeline_inner_dataset_is_the_multipipeline) {
    const Pipeline p = validated(node({"first", "builtin.wc", {"docs"}, {"f"}}) +
                                 multipipeline("mp",
                                               {{"lower", "builtin.lowercase", {"f"}, {"lower_docs"}},
                                                {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
                                               Slices::fixed(2)));
    BOOST_TEST((p.producers("lower_docs") == std::vector<int>{1}));
    BOOST_TEST((p.producers("digests") == std::vector<int>{1}));
    BOOST_TEST((p.producers("f") == std::vector<int>{0}));
}

BOOST_AUTO_TEST_CASE(external_partitioned_inputs_of_a_multipipeline) {
    const Pipeline p = validated(multipipeline("mp",
                                               {{"lower", "builtin.lowercase", {"docs", "lookup", "params:min_length"}, {"lower_docs"}},
                                                {"zip", "builtin.zip", {"lower_docs", "docs2", "docs"}, {"zipped"}}},
                                               Slices::fixed(2)));
    // Not the chain's own lower_docs, not the file dataset, not the param, and docs only once.
    BOOST_TEST(p.external_partitioned_inputs(p.units().at(0)) == (names{"docs", "docs2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(external_partitioned_inputs_of_a_multinode) {
    const Pipeline p = validated(node({"first", "builtin.wc", {"docs"}, {"f"}}) +
                                 multinode({"count", "builtin.zip", {"f", "lookup", "docs2"}, {"counts"}}, Slices::fixed(2)));
    BOOST_TEST(p.external_partitioned_inputs(p.unit("count")) == (names{"f", "docs2"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unit_is_found_by_name) {
    const Pipeline p = validated(node({"count", "builtin.wc", {"docs"}, {"counts"}}) +
                                 multipipeline("clean", {{"lower", "builtin.wc", {"docs"}, {"x"}}}, Slices::fixed(2)));
    BOOST_TEST(p.unit("clean").name == "clean");
    BOOST_TEST(p.unit("count").nodes.at(0).name == "count");
}

BOOST_AUTO_TEST_CASE(unknown_unit_is_a_usage_error_with_a_suggestion) {
    const Pipeline p = validated(node({"count", "builtin.wc", {"docs"}, {"counts"}}));
    const auto message = error_of<steppar::UsageError>([&] { p.unit("cuont"); });
    BOOST_CHECK(contains(message, "'cuont'"));
    BOOST_CHECK(contains(message, "did you mean 'count'"));
}

BOOST_AUTO_TEST_CASE(errors_without_a_source_file_still_describe_the_problem) {
    Pipeline p(catalog(), {}, node({"count", "builtin.wc", {"doc"}, {"counts"}}));
    const auto message = error_of<steppar::SpecError>([&] { p.validate(builtin_kind_of); });
    BOOST_CHECK(contains(message, "unknown dataset 'doc'"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(unit_options)

BOOST_AUTO_TEST_CASE(namespace_prefixes_nodes_and_intermediates_so_a_block_can_be_used_twice) {
    auto block = [](const std::string& ns) {
        steppar::UnitOptions o;
        o.name_space = ns;
        return multipipeline("clean",
                             {{"lower", "builtin.lowercase", {"docs"}, {"lowered"}}, {"hash", "builtin.sha256", {"lowered"}, {"digests"}}},
                             Slices::fixed(2), o);
    };
    const Pipeline p = validated(block("a") + block("b"));
    BOOST_TEST(p.units().size() == 2u);
    BOOST_TEST(p.unit("a.clean").nodes.front().name == "a.lower");
    BOOST_TEST(p.unit("b.clean").nodes.back().outputs.front() == "b.digests");
    BOOST_TEST(p.catalog().at("a.lowered").path == intermediate_root / "a.lowered");
    BOOST_TEST(p.unit("b.clean").nodes.front().inputs.front() == "docs");  // catalog datasets keep their names
    // Without namespaces the same block twice clashes.
    BOOST_CHECK(contains(validation_error(block("") + block("")), "used twice"));
    // validate() completes the pipeline once: a second call is refused and changes nothing
    // (it used to prefix the namespace again: 'a.a.clean').
    Pipeline twice = validated(block("a"));
    BOOST_TEST(twice.validated());
    BOOST_CHECK_THROW(twice.validate(builtin_kind_of), std::logic_error);
    BOOST_TEST(twice.units().front().name == "a.clean");
    BOOST_TEST(twice.units().front().nodes.front().name == "a.lower");
}

BOOST_AUTO_TEST_CASE(max_simultaneous_steps_derives_the_slice_count_from_the_widest_layer) {
    steppar::UnitOptions o;
    o.max_simultaneous_steps = 7;
    // lower and hash2 read docs side by side (layer 0 is 2 wide), hash reads lower's output.
    const Pipeline p = validated(multipipeline("mp",
                                               {{"lower", "builtin.lowercase", {"docs"}, {"lowered"}},
                                                {"hash", "builtin.sha256", {"lowered"}, {"digests"}},
                                                {"hash2", "builtin.sha256", {"docs"}, {"digests2"}}},
                                               Slices::fixed(1), o));
    BOOST_TEST(p.unit("mp").slices.resolve() == 3);  // floor(7 / 2)
    o.max_simultaneous_steps = 1;
    const Pipeline q = validated(multipipeline("mp", {{"lower", "builtin.lowercase", {"docs"}, {"lowered"}},
                                                      {"hash2", "builtin.sha256", {"docs"}, {"digests2"}}},
                                               Slices::fixed(5), o));
    BOOST_TEST(q.unit("mp").slices.resolve() == 1);  // at least one slice
}

BOOST_AUTO_TEST_CASE(filters_configurators_and_tags_are_checked_up_front) {
    steppar::UnitOptions bad_regex;
    bad_regex.filter = {"(unclosed"};
    BOOST_CHECK(contains(validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), bad_regex)),
                         "not a valid regular expression"));
    steppar::UnitOptions missing;
    missing.configurator = "min_lenght";
    BOOST_CHECK(contains(validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), missing)),
                         "did you mean 'min_length'"));
    steppar::UnitOptions not_a_configurator;
    not_a_configurator.configurator = "min_length";
    BOOST_CHECK(contains(validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), not_a_configurator)),
                         "needs 'template' and 'configurators'"));
    // `params:NAME`, as kedro-partitioned writes it, names the same parameter.
    not_a_configurator.configurator = "params:min_length";
    BOOST_CHECK(contains(validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), not_a_configurator)),
                         "configurator parameter 'min_length': a configurator parameter needs 'template' and 'configurators'"));
    missing.configurator = "params:min_lenght";
    BOOST_CHECK(contains(validation_error(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), missing)),
                         "configurator parameter 'min_lenght' is not in 'params' (did you mean 'min_length'?)"));
    steppar::UnitOptions on_plain;
    on_plain.filter = {"a"};
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}, on_plain)), "need a multinode"));
    steppar::UnitOptions balanced_plain;
    balanced_plain.balance = steppar::Balance::size;
    BOOST_CHECK(contains(validation_error(node({"count", "builtin.wc", {"docs"}, {"counts"}}, balanced_plain)), "balance"));
    steppar::UnitOptions tagged;
    tagged.tags = {"nightly", "count"};
    const Pipeline p = validated(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), tagged));
    BOOST_TEST((Pipeline::tags(p.unit("count")) == std::vector<std::string>{"count", "nightly"}));
}

BOOST_AUTO_TEST_SUITE_END()
