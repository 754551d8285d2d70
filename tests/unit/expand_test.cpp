#include <boost/test/unit_test.hpp>

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/step_selection.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using steppar::Catalog;
using steppar::Dataset;
using steppar::DatasetKind;
using steppar::ExpandedGraph;
using steppar::Fragment;
using steppar::Node;
using steppar::NodeKind;
using steppar::Pipeline;
using steppar::Slices;
using steppar::Step;
using steppar::StepKind;
using steppar::multinode;
using steppar::multipipeline;
using steppar::node;

namespace {

using indices = std::vector<std::size_t>;
using names = std::vector<std::string>;

NodeKind expand_kind_of(const Node& n) {
    if (n.function.function == "total" || n.function.function == "concat") return NodeKind::whole;
    if (n.function.plugin == "builtin") return NodeKind::partition;
    throw steppar::PluginError("unknown plugin '" + n.function.plugin + "'");
}

Pipeline validated_fragment(Fragment fragment) {
    Catalog c;
    Dataset docs;
    docs.name = "docs";
    docs.path = "/data/docs";
    docs.suffix = ".txt";
    c.add(docs);
    Dataset other = docs;
    other.name = "other";
    other.path = "/data/other";
    c.add(other);
    Pipeline p(std::move(c), {}, std::move(fragment), "/proj/pipeline.yaml", "/proj/.steppar/data");
    p.validate(expand_kind_of);
    return p;
}

names step_names(const ExpandedGraph& g) {
    names out;
    for (const auto& s : g.steps) out.push_back(s.name);
    return out;
}

std::size_t index_of(const ExpandedGraph& g, const std::string& name) {
    for (std::size_t i = 0; i < g.steps.size(); ++i)
        if (g.steps[i].name == name) return i;
    BOOST_FAIL("no step named " + name);
    return 0;
}

const Step& step(const ExpandedGraph& g, const std::string& name) { return g.steps[index_of(g, name)]; }

indices sorted(indices v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Every step comes after everything it depends on, and depends only on existing steps.
void check_dependency_order(const ExpandedGraph& g) {
    for (std::size_t i = 0; i < g.steps.size(); ++i)
        for (auto d : g.steps[i].depends_on)
            BOOST_TEST(d < i, "step " << g.steps[i].name << " (" << i << ") depends on later step " << d);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(expand)

BOOST_AUTO_TEST_CASE(step_names_follow_the_unit_name) {
    BOOST_TEST(steppar::slicer_name("count") == "count-slicer");
    BOOST_TEST(steppar::slice_name("count", 0) == "count-slice-0");
    BOOST_TEST(steppar::slice_name("count", 12) == "count-slice-12");
    BOOST_TEST(steppar::barrier_name("count") == "count-barrier");
}

BOOST_AUTO_TEST_CASE(step_kinds_have_names) {
    BOOST_TEST(steppar::to_string(StepKind::slicer) == std::string("slicer"));
    BOOST_TEST(steppar::to_string(StepKind::slice) == std::string("slice"));
    BOOST_TEST(steppar::to_string(StepKind::barrier) == std::string("barrier"));
    BOOST_TEST(steppar::to_string(StepKind::node) == std::string("node"));
}

BOOST_AUTO_TEST_CASE(multinode_becomes_slicer_slices_and_barrier) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(3))));
    BOOST_TEST(step_names(g) == (names{"count-slicer", "count-slice-0", "count-slice-1", "count-slice-2", "count-barrier"}),
               boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(g.steps.size() == 5u);
    BOOST_TEST((g.steps[0].kind == StepKind::slicer));
    BOOST_TEST(g.steps[0].depends_on.empty());
    for (int i = 0; i < 3; ++i) {
        const Step& s = g.steps[static_cast<std::size_t>(1 + i)];
        BOOST_TEST((s.kind == StepKind::slice));
        BOOST_TEST(s.slice == i);
        BOOST_TEST(s.unit == 0u);
        BOOST_TEST(s.depends_on == indices{0}, boost::test_tools::per_element());
    }
    BOOST_TEST((g.steps[4].kind == StepKind::barrier));
    BOOST_TEST(sorted(g.steps[4].depends_on) == (indices{1, 2, 3}), boost::test_tools::per_element());
    BOOST_TEST(g.steps[0].slice == -1);
    BOOST_TEST(g.steps[4].slice == -1);
}

BOOST_AUTO_TEST_CASE(fixed_three_slices_gives_three_slice_steps) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(3))));
    BOOST_TEST(std::count_if(g.steps.begin(), g.steps.end(), [](const Step& s) { return s.kind == StepKind::slice; }) == 3);
}

BOOST_AUTO_TEST_CASE(one_slice_gives_one_slice_step) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(1))));
    BOOST_TEST(step_names(g) == (names{"count-slicer", "count-slice-0", "count-barrier"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(automatic_slices_give_one_slice_step_per_core) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::automatic())));
    const auto slices = std::count_if(g.steps.begin(), g.steps.end(), [](const Step& s) { return s.kind == StepKind::slice; });
    BOOST_TEST(slices == Slices::automatic().resolve());
    BOOST_TEST(slices >= 1);
}

BOOST_AUTO_TEST_CASE(node_downstream_of_a_multinode_depends_on_its_barrier) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2)) +
                                             node({"sum", "builtin.total", {"counts"}, {"summary"}})));
    const Step& sum = step(g, "sum");
    BOOST_TEST((sum.kind == StepKind::node));
    BOOST_TEST(sum.slice == -1);
    BOOST_TEST(sum.depends_on == indices{index_of(g, "count-barrier")}, boost::test_tools::per_element());
    check_dependency_order(g);
}

BOOST_AUTO_TEST_CASE(multinode_downstream_of_a_multinode_starts_its_slicer_after_the_barrier) {
    const auto g = steppar::expand(validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2)) +
                                             multinode({"square", "builtin.wc", {"counts"}, {"squares"}}, Slices::fixed(2))));
    BOOST_TEST(step(g, "square-slicer").depends_on == indices{index_of(g, "count-barrier")}, boost::test_tools::per_element());
    // Slices of the second unit wait only for their own slicer.
    BOOST_TEST(step(g, "square-slice-1").depends_on == indices{index_of(g, "square-slicer")}, boost::test_tools::per_element());
    check_dependency_order(g);
}

BOOST_AUTO_TEST_CASE(multipipeline_expands_under_its_own_name) {
    const auto g = steppar::expand(validated_fragment(multipipeline(
        "clean", {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}, {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
        Slices::fixed(2))));
    BOOST_TEST(step_names(g) == (names{"clean-slicer", "clean-slice-0", "clean-slice-1", "clean-barrier"}),
               boost::test_tools::per_element());
    for (const auto& s : g.steps) BOOST_TEST(s.unit == 0u);
    // The chain's internal data flow adds no extra steps or dependencies.
    BOOST_TEST(step(g, "clean-slicer").depends_on.empty());
    BOOST_TEST(sorted(step(g, "clean-barrier").depends_on) == (indices{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reader_of_a_multipipeline_inner_dataset_depends_on_its_barrier) {
    const auto g = steppar::expand(validated_fragment(
        node({"peek", "builtin.wc", {"lower_docs"}, {"peeked"}}) +
        multipipeline("clean",
                      {{"lower", "builtin.lowercase", {"docs"}, {"lower_docs"}}, {"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}},
                      Slices::fixed(2))));
    BOOST_TEST(step(g, "peek").depends_on == indices{index_of(g, "clean-barrier")}, boost::test_tools::per_element());
    check_dependency_order(g);
}

BOOST_AUTO_TEST_CASE(plain_node_after_plain_node) {
    const auto g = steppar::expand(validated_fragment(node({"second", "builtin.wc", {"first_out"}, {"second_out"}}) +
                                             node({"first", "builtin.wc", {"docs"}, {"first_out"}})));
    BOOST_TEST(step_names(g) == (names{"first", "second"}), boost::test_tools::per_element());
    BOOST_TEST((g.steps[0].kind == StepKind::node));
    BOOST_TEST((g.steps[1].kind == StepKind::node));
    BOOST_TEST(g.steps[0].depends_on.empty());
    BOOST_TEST(g.steps[1].depends_on == indices{0}, boost::test_tools::per_element());
    BOOST_TEST(g.steps[0].unit == 0u);
    BOOST_TEST(g.steps[1].unit == 1u);
}

BOOST_AUTO_TEST_CASE(independent_nodes_do_not_depend_on_each_other) {
    const auto g = steppar::expand(validated_fragment(node({"a", "builtin.wc", {"docs"}, {"a_out"}}) +
                                             node({"b", "builtin.wc", {"other"}, {"b_out"}})));
    BOOST_TEST(g.steps.size() == 2u);
    for (const auto& s : g.steps) BOOST_TEST(s.depends_on.empty(), s.name);
}

BOOST_AUTO_TEST_CASE(reading_two_outputs_of_one_unit_gives_one_dependency) {
    const auto g = steppar::expand(validated_fragment(multinode({"split", "builtin.wc", {"docs"}, {"left", "right"}}, Slices::fixed(2)) +
                                             node({"join", "builtin.zip", {"left", "right"}, {"joined"}})));
    BOOST_TEST(step(g, "join").depends_on == indices{index_of(g, "split-barrier")}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(node_reading_two_units_depends_on_both) {
    const auto g = steppar::expand(validated_fragment(multinode({"a", "builtin.wc", {"docs"}, {"a_out"}}, Slices::fixed(2)) +
                                             node({"b", "builtin.wc", {"other"}, {"b_out"}}) +
                                             node({"c", "builtin.zip", {"a_out", "b_out"}, {"c_out"}})));
    BOOST_TEST(sorted(step(g, "c").depends_on) == sorted({index_of(g, "a-barrier"), index_of(g, "b")}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(steps_come_in_dependency_order_for_a_scrambled_pipeline) {
    // Listed backwards: sum <- count <- clean <- first, plus a side branch.
    const auto g = steppar::expand(validated_fragment(
        node({"sum", "builtin.total", {"counts", "side_out"}, {"summary"}}) +
        multinode({"count", "builtin.wc", {"digests"}, {"counts"}}, Slices::fixed(3)) +
        multipipeline("clean",
                      {{"hash", "builtin.sha256", {"lower_docs"}, {"digests"}}, {"lower", "builtin.lowercase", {"first_out"}, {"lower_docs"}}},
                      Slices::fixed(2)) +
        multinode({"side", "builtin.wc", {"other"}, {"side_out"}}, Slices::fixed(4)) +
        node({"first", "builtin.wc", {"docs"}, {"first_out"}})));
    // 1 + (1+3+1) + (1+2+1) + (1+4+1) + 1 steps.
    BOOST_TEST(g.steps.size() == 17u);
    check_dependency_order(g);
    BOOST_TEST(index_of(g, "first") < index_of(g, "clean-slicer"));
    BOOST_TEST(step(g, "clean-slicer").depends_on == indices{index_of(g, "first")}, boost::test_tools::per_element());
    BOOST_TEST(step(g, "count-slicer").depends_on == indices{index_of(g, "clean-barrier")}, boost::test_tools::per_element());
    BOOST_TEST(sorted(step(g, "sum").depends_on) == sorted({index_of(g, "count-barrier"), index_of(g, "side-barrier")}),
               boost::test_tools::per_element());
    // Every step name is unique.
    auto all = step_names(g);
    std::sort(all.begin(), all.end());
    BOOST_TEST((std::adjacent_find(all.begin(), all.end()) == all.end()));
}

BOOST_AUTO_TEST_CASE(steps_refer_to_their_unit) {
    const Pipeline p = validated_fragment(node({"first", "builtin.wc", {"docs"}, {"first_out"}}) +
                                 multinode({"count", "builtin.wc", {"first_out"}, {"counts"}}, Slices::fixed(2)));
    const auto g = steppar::expand(p);
    for (const auto& s : g.steps) {
        BOOST_TEST_REQUIRE(s.unit < p.units().size());
        const std::string& unit = p.units()[s.unit].name;
        BOOST_TEST(s.name.rfind(unit, 0) == 0u, s.name << " does not belong to " << unit);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// Step selection (step_selection.hpp): --nodes, --tags, --from-nodes and --to-nodes as flags per step.
BOOST_AUTO_TEST_SUITE(step_selection)

namespace {

// count (2 slices, tagged nightly) -> total; lower (2 slices) on its own.
std::pair<Pipeline, ExpandedGraph> selection_graph() {
    steppar::UnitOptions nightly;
    nightly.tags = {"nightly"};
    Pipeline p = validated_fragment(multinode({"count", "builtin.wc", {"docs"}, {"counts"}}, Slices::fixed(2), nightly) +
                           node({"total", "builtin.total", {"counts"}, {"sum"}}) +
                           multinode({"lower", "builtin.lowercase", {"other"}, {"lowered"}}, Slices::fixed(2)));
    ExpandedGraph g = steppar::expand(p);
    return {std::move(p), std::move(g)};
}

names chosen_names(const ExpandedGraph& g, const std::vector<bool>& chosen) {
    names out;
    for (std::size_t i = 0; i < g.steps.size(); ++i)
        if (chosen[i]) out.push_back(g.steps[i].name);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(nodes_tags_and_the_graph_cuts_choose_steps) {
    const auto [p, g] = selection_graph();
    auto pick = [&](steppar::StepSelection s) { return chosen_names(g, steppar::select_steps(p, g, s)); };
    BOOST_TEST(pick({}).size() == g.steps.size());
    // One slice: that slice and its unit's plan, never the barrier.
    BOOST_TEST(pick({{"count-slice-1"}, {}, {}, {}}) == (names{"count-slice-1", "count-slicer"}));
    BOOST_TEST(pick({{}, {"nightly"}, {}, {}}) == (names{"count-barrier", "count-slice-0", "count-slice-1", "count-slicer"}));
    const names count_and_total = {"count-barrier", "count-slice-0", "count-slice-1", "count-slicer", "total"};
    BOOST_TEST(pick({{}, {}, {"count"}, {}}) == count_and_total);
    BOOST_TEST(pick({{}, {}, {}, {"total"}}) == count_and_total);
    BOOST_TEST(pick({{}, {}, {"count"}, {"count"}}) == (names{"count-barrier", "count-slice-0", "count-slice-1", "count-slicer"}));
    BOOST_TEST(pick({{"lower"}, {}, {"count"}, {}}).empty());  // both cuts apply
}

BOOST_AUTO_TEST_CASE(a_name_that_matches_nothing_is_refused_with_a_suggestion) {
    const auto [p, g] = selection_graph();
    for (const auto& [selection, expected] : std::vector<std::pair<steppar::StepSelection, std::string>>{
             {{{"cuont"}, {}, {}, {}}, "--nodes: no step, node or multinode named 'cuont'"},
             {{{}, {"nigthly"}, {}, {}}, "--tags: no unit is tagged 'nigthly'"},
             {{{}, {}, {"totl"}, {}}, "--from-nodes: no node or multinode named 'totl'"}}) {
        try {
            steppar::select_steps(p, g, selection);
            BOOST_ERROR("expected a UsageError for " << expected);
        } catch (const steppar::UsageError& e) {
            BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
            BOOST_TEST(std::string(e.what()).find("did you mean") != std::string::npos, e.what());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
