#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include "steppar/error.hpp"
#include "steppar/spec.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

const fs::path pipeline_path = "/proj/pipelines/pipeline.yaml";
const fs::path state = "/proj/pipelines/.steppar/data";

steppar::PipelineFile parse(const std::string& text) { return steppar::parse_pipeline_text(text, pipeline_path, state); }

std::string spec_error(const std::string& text) {
    return error_of<steppar::SpecError>([&] { parse(text); });
}

const char* kind_name(steppar::UnitKind kind) {
    switch (kind) {
        case steppar::UnitKind::node: return "node";
        case steppar::UnitKind::multinode: return "multinode";
        case steppar::UnitKind::multipipeline: return "multipipeline";
    }
    return "?";
}

// Everything the parser decides, except line numbers (which differ between the two spellings).
std::string describe(const steppar::PipelineFile& f) {
    std::ostringstream out;
    for (const auto& p : f.plugins) out << "plugin " << p.alias << "=" << p.reference << "\n";
    for (const auto& [name, d] : f.pipeline.catalog().all())
        out << "dataset " << name << " " << (d.partitioned() ? "partitioned" : "file") << " " << d.path.string() << " '"
            << d.suffix << "' " << d.intermediate << "\n";
    for (const auto& [name, value] : f.pipeline.params()) out << "param " << name << "=" << value << "\n";
    for (const auto& u : f.pipeline.units()) {
        out << "unit " << kind_name(u.kind) << " " << u.name << " slices " << u.slices.count << "/" << u.slices.per_core
            << "\n";
        for (const auto& n : u.nodes) {
            out << "  node " << n.name << " " << n.function.text() << " in";
            for (const auto& i : n.inputs) out << " " << i;
            out << " out";
            for (const auto& o : n.outputs) out << " " << o;
            out << "\n";
        }
    }
    return out.str();
}

const std::string yaml_pipeline = R"(# the demo pipeline
plugins:
  builtin: steppar_builtin
  mine: ./plugins/libmine.so
catalog:
  docs: {type: partitioned, path: data/docs, suffix: .txt}
  lookup: {type: file, path: ../shared/lookup.csv}
  archive: {path: /srv/archive}
  total: {type: file, path: out/total.json}
params:
  min_length: 3
  label: "long words"
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 4}
  - name: sum
    func: builtin.wc_total
    inputs: [counts, "params:min_length"]
    outputs: [total]
  - multipipeline:
      name: clean
      slices: auto
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs, lookup], outputs: [lower_docs]}
        - {name: hash, func: mine.sha256, inputs: [lower_docs], outputs: [digests]}
)";

const std::string json_pipeline = R"({
  "plugins": {"builtin": "steppar_builtin", "mine": "./plugins/libmine.so"},
  "catalog": {
    "docs": {"type": "partitioned", "path": "data/docs", "suffix": ".txt"},
    "lookup": {"type": "file", "path": "../shared/lookup.csv"},
    "archive": {"path": "/srv/archive"},
    "total": {"type": "file", "path": "out/total.json"}
  },
  "params": {"min_length": 3, "label": "long words"},
  "nodes": [
    {"name": "count", "func": "builtin.wc", "inputs": ["docs"], "outputs": ["counts"], "slices": 4},
    {"name": "sum", "func": "builtin.wc_total", "inputs": ["counts", "params:min_length"], "outputs": ["total"]},
    {"multipipeline": {"name": "clean", "slices": "auto", "nodes": [
      {"name": "lower", "func": "builtin.lowercase", "inputs": ["docs", "lookup"], "outputs": ["lower_docs"]},
      {"name": "hash", "func": "mine.sha256", "inputs": ["lower_docs"], "outputs": ["digests"]}
    ]}}
  ]
}
)";

// A minimal valid node list to append to catalog/params snippets.
const std::string one_node = "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts]}\n";

std::string json_error(const std::string& text) {
    return error_of<steppar::SpecError>([&] { steppar::parse_pipeline_text(text, "/proj/pipelines/pipeline.json", state); });
}

// Parses and validates, every function a partition function (with `docs` in the catalog).
void validate(const std::string& text) {
    auto f = parse(text + "catalog:\n  docs: {path: data/docs}\n");
    f.pipeline.validate([](const steppar::Node&) { return steppar::NodeKind::partition; });
}

std::string validation_error(const std::string& text) {
    return error_of<steppar::SpecError>([&] { validate(text); });
}

// "params:\n  a: &a [x, x, ...]\n  b: &b [*a, *a, ...]" ... : `width`^`levels` values from a few
// hundred bytes.
std::string alias_bomb(int levels, int width) {
    std::string text = "params:\n";
    for (int level = 0; level < levels; ++level) {
        const std::string name(1, static_cast<char>('a' + level));
        text += "  " + name + ": &" + name + " [";
        for (int i = 0; i < width; ++i)
            text += (i ? ", " : "") + (level == 0 ? std::string("lol") : "*" + std::string(1, static_cast<char>('a' + level - 1)));
        text += "]\n";
    }
    return text;
}

std::string repeated(const std::string& piece, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += piece;
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string param(const std::string& params_yaml, const std::string& name) {
    const auto f = parse("params:\n" + params_yaml + one_node);
    const auto& params = f.pipeline.params();
    const auto it = params.find(name);
    BOOST_TEST_REQUIRE((it != params.end()), "no param " << name);
    return it->second;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spec)

BOOST_AUTO_TEST_CASE(yaml_pipeline_parses_into_the_expected_structure) {
    const auto f = parse(yaml_pipeline);
    BOOST_TEST(f.path == pipeline_path);
    BOOST_TEST_REQUIRE(f.plugins.size() == 2u);
    BOOST_TEST(f.plugins[0].alias == "builtin");
    BOOST_TEST(f.plugins[0].reference == "steppar_builtin");
    BOOST_TEST(f.plugins[0].line == 3);
    BOOST_TEST(f.plugins[1].reference == "./plugins/libmine.so");

    const auto& catalog = f.pipeline.catalog();
    BOOST_TEST(catalog.all().size() == 4u);
    BOOST_TEST(catalog.at("docs").partitioned());
    BOOST_TEST(catalog.at("docs").suffix == ".txt");
    BOOST_TEST(catalog.at("docs").line == 6);
    BOOST_TEST(!catalog.at("total").partitioned());
    BOOST_TEST(catalog.at("archive").partitioned());  // the default type
    BOOST_TEST(catalog.at("archive").suffix == "");

    const auto& units = f.pipeline.units();
    BOOST_TEST_REQUIRE(units.size() == 3u);
    BOOST_TEST(kind_name(units[0].kind) == std::string("multinode"));
    BOOST_TEST(units[0].name == "count");
    BOOST_TEST(units[0].slices.count == 4);
    BOOST_TEST(!units[0].slices.per_core);
    BOOST_TEST(units[0].line == 14);
    BOOST_TEST(kind_name(units[1].kind) == std::string("node"));
    BOOST_TEST_REQUIRE(units[1].nodes.size() == 1u);
    BOOST_TEST(units[1].nodes[0].function.plugin == "builtin");
    BOOST_TEST(units[1].nodes[0].function.function == "wc_total");
    BOOST_TEST(units[1].nodes[0].inputs == (std::vector<std::string>{"counts", "params:min_length"}),
               boost::test_tools::per_element());
    BOOST_TEST(units[1].nodes[0].outputs == std::vector<std::string>{"total"}, boost::test_tools::per_element());
    BOOST_TEST(units[1].nodes[0].line == 15);
    BOOST_TEST(kind_name(units[2].kind) == std::string("multipipeline"));
    BOOST_TEST(units[2].name == "clean");
}

BOOST_AUTO_TEST_CASE(json_and_yaml_spellings_give_the_same_pipeline) {
    const std::string from_yaml = describe(parse(yaml_pipeline));
    const std::string from_json = describe(parse(json_pipeline));
    BOOST_TEST(from_yaml == from_json);
    BOOST_CHECK(contains(from_yaml, "unit multipipeline clean"));  // not two empty descriptions
}

BOOST_AUTO_TEST_CASE(relative_catalog_paths_resolve_against_the_pipeline_folder) {
    const auto f = parse(yaml_pipeline);
    const auto& catalog = f.pipeline.catalog();
    BOOST_TEST(catalog.at("docs").path == fs::path("/proj/pipelines/data/docs"));
    BOOST_TEST(catalog.at("total").path == fs::path("/proj/pipelines/out/total.json"));
    BOOST_TEST(catalog.at("lookup").path == fs::path("/proj/shared/lookup.csv"));  // ".." normalised away
}

BOOST_AUTO_TEST_CASE(absolute_catalog_paths_are_kept) {
    BOOST_TEST(parse(yaml_pipeline).pipeline.catalog().at("archive").path == fs::path("/srv/archive"));
}

BOOST_AUTO_TEST_CASE(datasets_from_the_file_are_not_intermediate) {
    const auto f = parse(yaml_pipeline);
    for (const auto& [name, d] : f.pipeline.catalog().all()) BOOST_TEST(!d.intermediate, name);
}

BOOST_AUTO_TEST_CASE(quoted_number_param_stays_a_string) {
    BOOST_TEST(param("  n: \"1\"\n", "n") == "\"1\"");
    BOOST_TEST(param("  n: '1'\n", "n") == "\"1\"");
}

BOOST_AUTO_TEST_CASE(plain_number_param_becomes_a_number) {
    BOOST_TEST(param("  n: 1\n", "n") == "1");
    BOOST_TEST(param("  n: -42\n", "n") == "-42");
    BOOST_TEST(param("  n: 0.5\n", "n") == "0.5");
}

BOOST_AUTO_TEST_CASE(boolean_params_become_json_booleans) {
    BOOST_TEST(param("  flag: true\n", "flag") == "true");
    BOOST_TEST(param("  flag: false\n", "flag") == "false");
    BOOST_TEST(param("  flag: 'true'\n", "flag") == "\"true\"");  // quoted: a string
}

BOOST_AUTO_TEST_CASE(plain_word_param_becomes_a_json_string) {
    BOOST_TEST(param("  word: hello world\n", "word") == "\"hello world\"");
}

BOOST_AUTO_TEST_CASE(null_param_becomes_json_null) {
    BOOST_TEST(param("  nothing: ~\n", "nothing") == "null");
    BOOST_TEST(param("  nothing:\n", "nothing") == "null");
}

BOOST_AUTO_TEST_CASE(list_param_becomes_a_json_array) {
    BOOST_TEST(param("  list: [1, \"two\", three, true]\n", "list") == R"([1,"two","three",true])");
}

BOOST_AUTO_TEST_CASE(map_param_becomes_a_json_object) {
    BOOST_TEST(param("  map: {a: 1, b: [x, \"2\"], c: {d: false}}\n", "map") == R"({"a":1,"b":["x","2"],"c":{"d":false}})");
}

BOOST_AUTO_TEST_CASE(plain_words_spelled_like_non_finite_floats_stay_strings) {
    // JSON has no infinity or NaN; a plain word must not silently become null.
    BOOST_TEST(param("  mode: inf\n", "mode") == "\"inf\"");
    BOOST_TEST(param("  mode: nan\n", "mode") == "\"nan\"");
    BOOST_TEST(param("  mode: infinity\n", "mode") == "\"infinity\"");
}

BOOST_AUTO_TEST_CASE(plain_yaml_numbers_in_other_spellings_become_json_numbers) {
    BOOST_TEST(param("  n: 1e3\n", "n") == "1000.0");
    // YAML 1.2 core schema: ".5" is the float 0.5 and "0x10" the integer 16 (so Params::integer() accepts it).
    BOOST_TEST(param("  n: .5\n", "n") == "0.5");
    BOOST_TEST(param("  n: 0x10\n", "n") == "16");
}

BOOST_AUTO_TEST_CASE(json_params_keep_their_types) {
    const auto f = parse(R"({"params": {"s": "1", "n": 1, "b": true, "l": [1, "a"]},
                           "nodes": [{"name": "c", "func": "p.f", "inputs": "docs", "outputs": "o"}]})");
    const auto& params = f.pipeline.params();
    BOOST_TEST(params.at("s") == "\"1\"");
    BOOST_TEST(params.at("n") == "1");
    BOOST_TEST(params.at("b") == "true");
    BOOST_TEST(params.at("l") == R"([1,"a"])");
}

BOOST_AUTO_TEST_CASE(slices_auto_is_one_slice_per_core) {
    const auto f = parse("nodes:\n  - {name: c, func: builtin.wc, inputs: [docs], outputs: [o], slices: auto}\n");
    const auto& u = f.pipeline.units().at(0);
    BOOST_TEST(kind_name(u.kind) == std::string("multinode"));
    BOOST_TEST(u.slices.per_core == steppar::Slices::automatic().per_core);
    BOOST_TEST(u.slices.count == steppar::Slices::automatic().count);
    BOOST_TEST(u.slices.per_core);
}

BOOST_AUTO_TEST_CASE(node_without_slices_is_a_plain_node) {
    const auto f = parse(one_node);
    BOOST_TEST(kind_name(f.pipeline.units().at(0).kind) == std::string("node"));
    BOOST_TEST(!f.pipeline.units().at(0).replicated());
}

BOOST_AUTO_TEST_CASE(balance_is_count_unless_size_is_asked_for) {
    const auto base = std::string(one_node);
    BOOST_TEST((parse(base).pipeline.units().at(0).options.balance == steppar::Balance::count));
    const std::string sized = "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2, balance: size}\n";
    BOOST_TEST((parse(sized).pipeline.units().at(0).options.balance == steppar::Balance::size));
    const auto message = spec_error("nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2,\n     balance: bytes}\n");
    BOOST_CHECK(contains(message, pipeline_path.string() + ":3:"));
    BOOST_CHECK(contains(message, "balance must be 'count'"));
    BOOST_CHECK(contains(message, "got 'bytes'"));
}

BOOST_AUTO_TEST_CASE(unknown_node_key_names_file_line_and_suggestion) {
    const std::string text =
        "nodes:\n"
        "  - name: count\n"
        "    func: builtin.wc\n"
        "    outptus: [counts]\n"
        "    inputs: [docs]\n";
    const auto message = spec_error(text);
    BOOST_CHECK(contains(message, pipeline_path.string()));
    BOOST_CHECK(contains(message, pipeline_path.string() + ":4:"));
    BOOST_CHECK(contains(message, "outptus"));
    BOOST_CHECK(contains(message, "did you mean 'outputs'"));
}

BOOST_AUTO_TEST_CASE(unknown_top_level_key_suggests_the_nearest) {
    const auto message = spec_error("catalog: {}\nndoes: []\n");
    BOOST_CHECK(contains(message, pipeline_path.string() + ":2:"));
    BOOST_CHECK(contains(message, "did you mean 'nodes'"));
}

BOOST_AUTO_TEST_CASE(unknown_dataset_key_suggests_the_nearest) {
    const auto message = spec_error("catalog:\n  docs: {path: d, sufix: .txt}\n" + one_node);
    BOOST_CHECK(contains(message, ":2:"));
    BOOST_CHECK(contains(message, "did you mean 'suffix'"));
}

BOOST_AUTO_TEST_CASE(unknown_key_in_a_multipipeline_node_is_reported) {
    const std::string text =
        "nodes:\n"
        "  - multipipeline:\n"
        "      name: mp\n"
        "      slices: 2\n"
        "      nodes:\n"
        "        - {name: a, func: p.f, inputs: [docs], outputs: [x], slices: 3}\n";
    const auto message = spec_error(text);  // slices belong to the multipipeline, not its nodes
    BOOST_CHECK(contains(message, ":6:"));
    BOOST_CHECK(contains(message, "'slices'"));
}

BOOST_AUTO_TEST_CASE(malformed_yaml_names_file_and_line) {
    const std::string text =
        "catalog:\n"
        "  docs: {path: data/docs}\n"
        "nodes:\n"
        "  - name: a: b\n";
    const auto message = spec_error(text);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":4:"));
}

BOOST_AUTO_TEST_CASE(unclosed_json_is_a_spec_error_naming_the_file) {
    const auto message = spec_error("{\"nodes\": [\n  {\"name\": \"a\"\n");
    BOOST_CHECK(contains(message, pipeline_path.string() + ":"));
    BOOST_CHECK(contains(message, "malformed"));
}

BOOST_AUTO_TEST_CASE(non_numeric_slices_is_an_error) {
    const auto message = spec_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: abc}\n");
    BOOST_CHECK(contains(message, ":2:"));
    BOOST_CHECK(contains(message, "abc"));
    BOOST_CHECK(contains(message, "auto"));
}

BOOST_AUTO_TEST_CASE(slices_with_trailing_garbage_is_an_error) {
    const auto message = spec_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 3x}\n");
    BOOST_CHECK(contains(message, "3x"));
}

BOOST_AUTO_TEST_CASE(non_numeric_multipipeline_slices_is_an_error) {
    const std::string text =
        "nodes:\n"
        "  - multipipeline:\n"
        "      name: mp\n"
        "      slices: many\n"
        "      nodes: [{name: a, func: p.f, inputs: [docs], outputs: [x]}]\n";
    const auto message = spec_error(text);
    BOOST_CHECK(contains(message, ":4:"));
    BOOST_CHECK(contains(message, "many"));
}

BOOST_AUTO_TEST_CASE(multipipeline_parses_into_one_unit_with_its_nodes) {
    const auto f = parse(yaml_pipeline);
    const auto& mp = f.pipeline.units().at(2);
    BOOST_TEST(kind_name(mp.kind) == std::string("multipipeline"));
    BOOST_TEST(mp.replicated());
    BOOST_TEST(mp.name == "clean");
    BOOST_TEST(mp.slices.per_core);
    BOOST_TEST(mp.line == 19);
    BOOST_TEST_REQUIRE(mp.nodes.size() == 2u);
    BOOST_TEST(mp.nodes[0].name == "lower");
    BOOST_TEST(mp.nodes[0].inputs == (std::vector<std::string>{"docs", "lookup"}), boost::test_tools::per_element());
    BOOST_TEST(mp.nodes[1].name == "hash");
    BOOST_TEST(mp.nodes[1].function.plugin == "mine");
    BOOST_TEST(mp.nodes[1].outputs == std::vector<std::string>{"digests"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(multipipeline_with_fixed_slices) {
    const std::string text =
        "nodes:\n"
        "  - multipipeline:\n"
        "      name: mp\n"
        "      slices: 3\n"
        "      nodes: [{name: a, func: p.f, inputs: [docs], outputs: [x]}]\n";
    const auto f = parse(text);
    const auto& mp = f.pipeline.units().at(0);
    BOOST_TEST(mp.slices.count == 3);
    BOOST_TEST(!mp.slices.per_core);
}

BOOST_AUTO_TEST_CASE(multipipeline_without_slices_is_an_error) {
    const auto message = spec_error("nodes:\n  - multipipeline: {name: mp, nodes: [{name: a, func: p.f, outputs: x}]}\n");
    BOOST_CHECK(contains(message, "'mp'"));
    BOOST_CHECK(contains(message, "slices"));
}

BOOST_AUTO_TEST_CASE(scalar_inputs_and_outputs_are_accepted) {
    const auto f = parse("nodes:\n  - {name: c, func: p.f, inputs: docs, outputs: counts}\n");
    const auto& n = f.pipeline.units().at(0).nodes.at(0);
    BOOST_TEST(n.inputs == std::vector<std::string>{"docs"}, boost::test_tools::per_element());
    BOOST_TEST(n.outputs == std::vector<std::string>{"counts"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(inputs_as_a_mapping_is_an_error) {
    const auto message = spec_error("nodes:\n  - {name: c, func: p.f, inputs: {a: b}, outputs: counts}\n");
    BOOST_CHECK(contains(message, "inputs"));
}

BOOST_AUTO_TEST_CASE(function_without_a_plugin_is_an_error) {
    const auto message = spec_error("nodes:\n  - {name: c, func: wc, inputs: docs, outputs: counts}\n");
    BOOST_CHECK(contains(message, ":2:"));
    BOOST_CHECK(contains(message, "PLUGIN.FUNCTION"));
}

BOOST_AUTO_TEST_CASE(missing_nodes_is_an_error) {
    BOOST_CHECK(contains(spec_error("catalog:\n  docs: {path: d}\n"), "nodes"));
}

BOOST_AUTO_TEST_CASE(top_level_list_is_an_error) {
    BOOST_CHECK(contains(spec_error("- a\n- b\n"), pipeline_path.string()));
}

BOOST_AUTO_TEST_CASE(unknown_dataset_type_is_an_error) {
    const auto message = spec_error("catalog:\n  docs: {type: folder, path: d}\n" + one_node);
    BOOST_CHECK(contains(message, ":2:"));
    BOOST_CHECK(contains(message, "folder"));
}

BOOST_AUTO_TEST_CASE(dataset_without_path_is_an_error) {
    BOOST_CHECK(contains(spec_error("catalog:\n  docs: {type: partitioned}\n" + one_node), "path"));
}

BOOST_AUTO_TEST_CASE(suffix_on_a_file_dataset_is_an_error) {
    BOOST_CHECK(contains(spec_error("catalog:\n  t: {type: file, path: t.json, suffix: .json}\n" + one_node), "suffix"));
}

BOOST_AUTO_TEST_CASE(node_without_func_is_an_error) {
    const auto message = spec_error("nodes:\n  - {name: c, inputs: docs, outputs: counts}\n");
    BOOST_CHECK(contains(message, "'c'"));
    BOOST_CHECK(contains(message, "func"));
}

BOOST_AUTO_TEST_CASE(spec_errors_exit_with_code_two) {
    try {
        parse("nodes: 5\n");
        BOOST_ERROR("no exception");
    } catch (const steppar::Error& e) {
        BOOST_TEST(e.exit_code() == 2);
        BOOST_CHECK(contains(e.what(), "list"));
    }
}

BOOST_AUTO_TEST_CASE(intermediates_of_a_parsed_pipeline_go_under_the_intermediate_root) {
    auto f = parse(yaml_pipeline);
    f.pipeline.validate([](const steppar::Node& n) {
        return n.function.function == "wc_total" ? steppar::NodeKind::whole : steppar::NodeKind::partition;
    });
    const auto& catalog = f.pipeline.catalog();
    BOOST_TEST_REQUIRE(catalog.contains("counts"));
    BOOST_TEST(catalog.at("counts").path == state / "counts");
    BOOST_TEST(catalog.at("counts").intermediate);
    BOOST_TEST(catalog.at("digests").path == state / "digests");
}

// --- Files that hang or lie are refused quickly, with one line naming where ---

BOOST_AUTO_TEST_CASE(alias_bomb_is_refused_quickly_naming_the_line) {
    // 6 levels of 9 expand to 9^6 = 531,441 values, more than the 100,000 a file may hold.
    const auto start = std::chrono::steady_clock::now();
    const auto message = spec_error(alias_bomb(6, 9) + one_node);
    BOOST_TEST(seconds_since(start) < 1.0);
    BOOST_TEST_REQUIRE(!message.empty());  // else the next one would take minutes and gigabytes
    BOOST_CHECK(contains(message, pipeline_path.string() + ":7:"));  // 'f', whose first '*e' (9^5 values) passes the budget
    BOOST_CHECK(contains(message, "the file expands to more than 100,000 values (an alias bomb?)"));
    BOOST_CHECK(contains(message, "'*e' here stands for 66,430"));
    // The billion laughs itself (9 levels) is refused just as fast, never expanded.
    const auto again = std::chrono::steady_clock::now();
    BOOST_CHECK(contains(spec_error(alias_bomb(9, 9) + one_node), "alias bomb?"));
    BOOST_TEST(seconds_since(again) < 1.0);
    // Aliases as such are fine, and expand as before.
    BOOST_TEST(param("  a: &a [1, 2]\n  b: [*a, *a]\n", "b") == "[[1,2],[1,2]]");
    BOOST_TEST(param(alias_bomb(4, 9).substr(std::string("params:\n").size()), "d").size() > 6561 * 5);  // 9^4: within
}

BOOST_AUTO_TEST_CASE(more_values_than_the_budget_are_refused_before_the_tree_is_built) {
    // 100,001 written out: too many for a pipeline file (a YAML tree costs ~500 bytes a value).
    const auto message = spec_error("params:\n  big: [" + repeated("1,", 99997) + "1]\n" + one_node);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":2: the file holds more than 100,000 values"));
    BOOST_CHECK(contains(message, "keep large data in a dataset"));
    // The mapping, 'params', its mapping, 'big', the list, 99,982 numbers and one_node's 13: 100,000.
    BOOST_TEST(param("  big: [" + repeated("1,", 99981) + "1]\n", "big").size() == 2 * 99982u + 1);
    BOOST_CHECK(contains(spec_error("params:\n  big: [" + repeated("1,", 99982) + "1]\n" + one_node), "more than 100,000 values"));
}

BOOST_AUTO_TEST_CASE(alias_inside_its_own_anchor_is_refused) {
    // yaml-cpp knows '&a' from its start, so this node would contain itself (endless recursion).
    const auto message = spec_error("params:\n  x: &a [1,\n    *a]\n" + one_node);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":3:"));
    BOOST_CHECK(contains(message, "alias '*a' is used inside the node it names"));
    BOOST_CHECK(contains(spec_error("params:\n  x: &m {k: *m}\n" + one_node), "alias '*m'"));
}

BOOST_AUTO_TEST_CASE(key_given_twice_names_the_key_and_both_lines) {
    const auto flow = spec_error("nodes:\n  - {name: a, func: p.f, name: b, inputs: [docs], outputs: [o]}\n");
    BOOST_CHECK(contains(flow, pipeline_path.string() + ":2:"));
    BOOST_CHECK(contains(flow, "key 'name' is given twice"));
    BOOST_CHECK(contains(flow, "both on line 2"));
    const auto block = spec_error("nodes:\n  - name: a\n    func: p.f\n    outputs: [o]\n    name: b\n");
    BOOST_CHECK(contains(block, pipeline_path.string() + ":5:"));
    BOOST_CHECK(contains(block, "key 'name' is given twice in one mapping (lines 2 and 5)"));
    const auto top = spec_error(one_node + "params: {n: 1}\n" + one_node);
    BOOST_CHECK(contains(top, pipeline_path.string() + ":4:"));
    BOOST_CHECK(contains(top, "key 'nodes' is given twice in one mapping (lines 1 and 4)"));
    // Inside params too (JSON would keep the last, a lookup the first).
    BOOST_CHECK(contains(spec_error("params:\n  n: 1\n  m: {x: 1,\n      x: 2}\n" + one_node), ":4: key 'x' is given twice"));
    // The same key in different mappings is fine.
    BOOST_TEST(param("  a: {x: 1}\n  b: {x: 2}\n", "b") == R"({"x":2})");
}

BOOST_AUTO_TEST_CASE(second_yaml_document_is_refused) {
    const auto message = spec_error(one_node + "---\n" + one_node);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":3:"));
    BOOST_CHECK(contains(message, "a second YAML document"));
    BOOST_CHECK(contains(spec_error(one_node + "---\n"), "a second YAML document"));
    BOOST_TEST(parse("---\n" + one_node).pipeline.units().size() == 1u);  // one document may start with ---
    BOOST_TEST(parse(one_node + "...\n").pipeline.units().size() == 1u);  // or end with ...
}

BOOST_AUTO_TEST_CASE(json_key_given_twice_names_the_key_and_both_lines) {
    const auto message = json_error("{\"nodes\": [{\"name\": \"a\", \"func\": \"p.f\",\n"
                                    "  \"outputs\": [\"o\"],\n"
                                    "  \"name\": \"b\"}]}\n");
    BOOST_CHECK(contains(message, "pipeline.json:3:"));
    BOOST_CHECK(contains(message, "key 'name' is given twice in one object (lines 1 and 3)"));
    BOOST_CHECK(contains(json_error("{\"nodes\": [],\n \"nodes\": []}"), "pipeline.json:2: key 'nodes' is given twice"));
    // Objects inside arrays and objects have their own keys.
    BOOST_TEST(steppar::parse_pipeline_text(R"({"params": {"a": {"x": 1}, "b": [{"x": 1}, {"x": 2}]},
        "nodes": [{"name": "c", "func": "p.f", "inputs": "docs", "outputs": "o"}]})",
                                            "/proj/pipelines/pipeline.json", state)
                   .pipeline.params()
                   .at("b") == R"([{"x":1},{"x":2}])");
}

BOOST_AUTO_TEST_CASE(slices_above_the_limit_are_refused_naming_the_variable) {
    const auto message = validation_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 1000000}\n");
    BOOST_CHECK(contains(message, pipeline_path.string() + ":2:"));
    BOOST_CHECK(contains(message, "'c' has 1,000,000 slices, more than the limit of 10,000"));
    BOOST_CHECK(contains(message, "STEPPAR_MAX_SLICES=1000000"));
    validate("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 10000}\n");  // the limit itself is fine
}

BOOST_AUTO_TEST_CASE(max_simultaneous_steps_respects_the_slice_limit) {
    const std::string chain =
        "      nodes:\n"
        "        - {name: a, func: p.f, inputs: [docs], outputs: [x]}\n"
        "        - {name: b, func: p.f, inputs: [docs], outputs: [y]}\n";
    const auto message = validation_error("nodes:\n  - multipipeline:\n      name: mp\n      max_simultaneous_steps: 50000\n" + chain);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":2:"));
    BOOST_CHECK(contains(message, "'mp' has 25,000 slices (max_simultaneous_steps 50000 over a widest layer of 2)"));
    BOOST_CHECK(contains(message, "lower max_simultaneous_steps, or raise the limit with STEPPAR_MAX_SLICES=25000"));
    validate("nodes:\n  - multipipeline:\n      name: mp\n      max_simultaneous_steps: 20000\n" + chain);  // 10,000 slices
}

BOOST_AUTO_TEST_CASE(expanded_steps_above_the_limit_are_refused_naming_the_variable) {
    // Ten units of 10,000 slices (and a slicer and a barrier each) are 100,020 steps.
    std::string text = "nodes:\n";
    for (int i = 0; i < 10; ++i)
        text += "  - {name: n" + std::to_string(i) + ", func: p.f, inputs: [docs], outputs: [o" + std::to_string(i) + "], slices: 10000}\n";
    const auto message = validation_error(text);
    BOOST_CHECK(contains(message, pipeline_path.string() + ":11:"));  // the tenth passes the limit
    BOOST_CHECK(contains(message, "the pipeline expands to 100,020 steps"));
    BOOST_CHECK(contains(message, "'n9' passes the limit"));
    BOOST_CHECK(contains(message, "more than the limit of 100,000"));
    BOOST_CHECK(contains(message, "STEPPAR_MAX_STEPS=100020"));
}

BOOST_AUTO_TEST_CASE(non_finite_and_huge_timeouts_are_refused) {
    const auto timeout = [](const std::string& value) {
        return spec_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2,\n     timeout: " + value + "}\n");
    };
    for (const char* value : {"inf", "1e308h", "2592001", "43201m", "721h"}) {
        const auto message = timeout(value);
        BOOST_CHECK(contains(message, pipeline_path.string() + ":3:"));
        BOOST_CHECK(contains(message, "'c': timeout must be at most 30 days (720h), got '" + std::string(value) + "'"));
    }
    for (const char* value : {"nan", "-inf", "0", "-5"}) BOOST_CHECK(contains(timeout(value), "timeout must be a positive duration"));
    const auto f = parse("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2, timeout: 720h}\n");
    BOOST_TEST(f.pipeline.units().at(0).options.timeout_seconds == 30.0 * 24 * 3600);
}

BOOST_AUTO_TEST_CASE(resources_are_parsed_and_bad_ones_refused) {
    const auto f = parse("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2,\n     resources: {cpus: 4, mem: 8G, time: 90m}}\n");
    const auto& r = f.pipeline.units().at(0).options.resources;
    BOOST_TEST(r.cpus == 4);
    BOOST_TEST(r.mem_bytes == 8ull << 30);
    BOOST_TEST(r.time_seconds == 5400.0);
    BOOST_TEST(parse("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], resources: {mem: 512Mi}}\n")
                   .pipeline.units().at(0).options.resources.mem_bytes == 512ull << 20);
    const auto error = [](const std::string& value) {
        return spec_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2,\n     resources: " + value + "}\n");
    };
    BOOST_CHECK(contains(error("{cpus: 0}"), "'c': resources cpus must be a whole number from 1 to 4096, got '0'"));
    BOOST_CHECK(contains(error("{cpus: 2.5}"), "resources cpus must be a whole number"));
    BOOST_CHECK(contains(error("{mem: 8 gigs}"), "'c': resources mem must be a size from 1M to 1024T like 512M or 8G, got '8 gigs'"));
    BOOST_CHECK(contains(error("{mem: 100}"), "resources mem must be a size from 1M"));
    BOOST_CHECK(contains(error("{time: forever}"), "'c': resources time must be a positive duration"));
    BOOST_CHECK(contains(error("{cores: 4}"), "cores"));
    BOOST_CHECK(contains(error("4"), "resources is a mapping"));
}

BOOST_AUTO_TEST_CASE(absurd_retries_are_refused) {
    const auto retries = [](const std::string& value) {
        return spec_error("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2,\n     retries: " + value + "}\n");
    };
    for (const char* value : {"1001", "2147483647", "100000000000", "99999999999999999999999"}) {
        const auto message = retries(value);
        BOOST_CHECK(contains(message, pipeline_path.string() + ":3:"));
        BOOST_CHECK(contains(message, "'c': retries must be at most 1000, got '" + std::string(value) + "'"));
    }
    BOOST_CHECK(contains(retries("-1"), "retries must be a whole number >= 0"));
    BOOST_TEST(parse("nodes:\n  - {name: c, func: p.f, inputs: [docs], outputs: [o], slices: 2, retries: 1000}\n")
                   .pipeline.units().at(0).options.retries == 1000);
}

BOOST_AUTO_TEST_CASE(pipeline_text_above_the_size_limit_is_refused_before_parsing) {
    std::string text = one_node;
    text.resize((2u << 20) + 1, '#');  // a valid pipeline and a comment: 2 MiB and one byte
    text.back() = '\n';
    const auto start = std::chrono::steady_clock::now();
    const auto message = spec_error(text);
    BOOST_TEST(seconds_since(start) < 0.5);
    BOOST_CHECK(contains(message, pipeline_path.string() + ": the pipeline file is 2.0 MiB (2,097,153 bytes)"));
    BOOST_CHECK(contains(message, "more than the limit of 2 MiB (2,097,152 bytes)"));
    text.resize(2u << 20);  // the limit itself is fine
    text.back() = '\n';
    BOOST_TEST(parse(text).pipeline.units().size() == 1u);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_naming_the_line_not_crashing) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    for (const auto& message : {spec_error("params:\n  x: " + deep + "\n" + one_node),
                                spec_error("params:\n  x: " + std::string(300000, '{') + "\n"),  // unclosed, too
                                json_error("{\"params\":\n {\"x\": " + deep + "}, \"nodes\": []}"),
                                json_error("{\"params\":\n {\"x\": " + repeated("{\"a\": ", 100000))}) {
        BOOST_CHECK(contains(message, ":2: nesting deeper than 100 levels"));
    }
    std::string block = "params:\n";  // indentation nests too
    for (int level = 0; level < 120; ++level) block += std::string(2 * level + 2, ' ') + "k:\n";
    BOOST_CHECK(contains(spec_error(block + one_node), pipeline_path.string() + ":101: nesting deeper than 100 levels"));
    std::string dashes = "params:\n  x:\n    ";
    for (int level = 0; level < 3000; ++level) dashes += "- ";
    BOOST_CHECK(contains(spec_error(dashes + "x\n" + one_node), ":3: nesting deeper than 100 levels"));
    // Through aliases: 60 levels used 60 levels down.
    const std::string sixty = std::string(60, '[') + std::string(60, ']');
    BOOST_CHECK(contains(spec_error("params:\n  a: &a " + sixty + "\n  b: " + std::string(60, '[') + "*a" + std::string(60, ']') + "\n" + one_node),
                         ":3: nesting deeper than 100 levels through alias '*a'"));
    // 99 levels inside the top-level mapping are fine, in both spellings.
    const std::string ok = std::string(98, '[') + std::string(98, ']');
    BOOST_TEST(param("  x: " + ok + "\n", "x").size() == 2 * 98u);
    BOOST_TEST(steppar::parse_pipeline_text("{\"params\": {\"x\": " + ok + "}, \"nodes\": [{\"name\": \"c\", \"func\": \"p.f\", \"outputs\": \"o\"}]}",
                                            "/proj/pipelines/pipeline.json", state)
                   .pipeline.params()
                   .size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
