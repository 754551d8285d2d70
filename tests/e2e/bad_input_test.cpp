// Bad input: one clear line naming the file (and line, node, plugin...), exit code 2, and
// nothing written: no output folder, no state folder.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

using namespace e2e;

namespace {

const char* header = R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
)";

// Runs `spec` and checks: exit code 2, one line on stderr containing every `expected` piece,
// and nothing created besides the input.
void expect_rejected(const std::string& spec, const std::vector<std::string>& expected,
                     const std::string& file_name = "pipeline.yml") {
    TempDir dir;
    write_file(dir / "docs/a.txt", "hello\n");
    write_file(dir / file_name, spec);
    const Result r = host({"run", (dir / file_name).string()});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, "expected one line, got: " << r.err);
    BOOST_TEST(r.err.find((dir / file_name).string()) != std::string::npos, "file not named: " << r.err);
    for (const auto& piece : expected) BOOST_TEST(r.err.find(piece) != std::string::npos, "'" << piece << "' not in: " << r.err);
    BOOST_TEST(!fs::exists(dir / "out"), "output folder created despite the error");
    BOOST_TEST(!fs::exists(dir / ".steppar"), "state folder created despite the error");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(malformed_yaml_names_the_line) {
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs\n", {"malformed", ":8"});
}

BOOST_AUTO_TEST_CASE(malformed_json_names_the_line) {
    expect_rejected("{\"plugins\": {\"builtin\": \"steppar_builtin\"},\n \"nodes\": [\n  {\"name\": \"x\",, }\n]}\n",
                    {"malformed JSON", ":3"}, "pipeline.json");
}

BOOST_AUTO_TEST_CASE(unknown_key_suggests_the_nearest) {
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outptus: [counts]}\n",
                    {":7", "unknown key 'outptus'", "did you mean 'outputs'"});
    expect_rejected(std::string(header) + "node:\n  - {name: count}\n", {"unknown key 'node'", "did you mean 'nodes'"});
}

BOOST_AUTO_TEST_CASE(unknown_dataset_plugin_and_function_list_what_exists) {
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [dcos], outputs: [counts]}\n",
                    {"unknown dataset 'dcos'", "did you mean 'docs'"});
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: nope.wc, inputs: [docs], outputs: [counts]}\n",
                    {"unknown plugin 'nope'", "builtin"});
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wordcount, inputs: [docs], outputs: [counts]}\n",
                    {"has no function 'wordcount'", "lowercase", "sha256", "wc"});
}

BOOST_AUTO_TEST_CASE(cycle_is_named) {
    expect_rejected(std::string(header) + R"(nodes:
  - {name: a, func: builtin.lowercase, inputs: [docs, c_out], outputs: [a_out]}
  - {name: b, func: builtin.lowercase, inputs: [a_out], outputs: [b_out]}
  - {name: c, func: builtin.lowercase, inputs: [b_out], outputs: [c_out]}
)", {"cycle", "a -> ", "b", "c"});
}

BOOST_AUTO_TEST_CASE(two_producers_of_one_dataset) {
    expect_rejected(std::string(header) + R"(nodes:
  - {name: one, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: two, func: builtin.sha256, inputs: [docs], outputs: [counts]}
)", {"'counts' is written by two nodes", "'one'", "'two'"});
}

BOOST_AUTO_TEST_CASE(output_inside_an_input_folder) {
    expect_rejected(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: docs/counts, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts]}
)", {"output 'counts'", "inside the folder of dataset 'docs'"});
    expect_rejected(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  same:   {type: partitioned, path: ./docs/, suffix: .txt}
nodes:
  - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [same], slices: 2}
)", {"output 'same'", "inside the folder of dataset 'docs'"});
}

BOOST_AUTO_TEST_CASE(missing_input_folder) {
    expect_rejected(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: nowhere, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
)", {":3", "input dataset 'docs'", "nowhere", "does not exist"});
}

BOOST_AUTO_TEST_CASE(zero_negative_and_non_numeric_slices) {
    for (const char* slices : {"0", "-3"})
        expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: " +
                            slices + "}\n",
                        {"'count': slices must be at least 1", std::string("got ") + slices});
    expect_rejected(std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: many}\n",
                    {"slices must be a whole number or 'auto'"});
}

BOOST_AUTO_TEST_CASE(whole_function_cannot_be_sliced) {
    expect_rejected(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: total, func: builtin.wc_total, inputs: [docs], outputs: [total], slices: 2}
)", {"whole function", "only partition functions can be sliced"});
}

BOOST_AUTO_TEST_CASE(broken_plugins_are_refused) {
    TempDir junk;
    write_file(junk / "junk.so", "this is not an ELF file\n");
    expect_rejected(std::string("plugins: {bad: ") + (junk / "junk.so").string() +
                        "}\ncatalog: {docs: {path: docs, suffix: .txt}}\nnodes:\n  - {name: n, func: bad.x, inputs: [docs], outputs: [o]}\n",
                    {"is not a shared library"});
    expect_rejected(std::string("plugins: {empty: ") + fixture("steppar_no_nodes") +
                        "}\ncatalog: {docs: {path: docs, suffix: .txt}}\nnodes:\n  - {name: n, func: empty.x, inputs: [docs], outputs: [o]}\n",
                    {"exports no steppar nodes"});
    expect_rejected(std::string("plugins: {old: ") + fixture("steppar_wrong_abi") +
                        "}\ncatalog: {docs: {path: docs, suffix: .txt}}\nnodes:\n  - {name: n, func: old.identity, inputs: [docs], outputs: [o]}\n",
                    {"SDK ABI 999", "needs ABI 3", "rebuild the plugin"});
    expect_rejected(std::string("plugins: {gone: ./missing.so}\ncatalog: {docs: {path: docs, suffix: .txt}}\n"
                                "nodes:\n  - {name: n, func: gone.x, inputs: [docs], outputs: [o]}\n"),
                    {"missing.so", "does not exist"});
}

BOOST_AUTO_TEST_CASE(bad_command_lines) {
    TempDir dir;
    const Result missing = host({"run", (dir / "absent.yml").string()});
    BOOST_TEST(missing.exit_code == 2);
    BOOST_TEST(missing.err.find("absent.yml: pipeline file does not exist") != std::string::npos, missing.err);
    const Result command = host({"rnu", "x.yml"});
    BOOST_TEST(command.exit_code == 2);
    BOOST_TEST(command.err.find("did you mean 'run'") != std::string::npos, command.err);
    write_file(dir / "docs/a.txt", "a\n");
    write_file(dir / "p.yml", std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}\n");
    const Result runner = host({"run", (dir / "p.yml").string(), "--runner", "paralel"});
    BOOST_TEST(runner.exit_code == 2);
    BOOST_TEST(runner.err.find("did you mean 'parallel'") != std::string::npos, runner.err);
    const Result option = host({"run", (dir / "p.yml").string(), "--max-wrokers", "2"});
    BOOST_TEST(option.exit_code == 2);
    BOOST_TEST(option.err.find("max-wrokers") != std::string::npos, option.err);
    const Result node = host({"run-slice", (dir / "p.yml").string(), "--node", "cuont", "--slice", "0"});
    BOOST_TEST(node.exit_code == 2);
    BOOST_TEST(node.err.find("did you mean 'count'") != std::string::npos, node.err);
    const Result help = host({"run", "--help"});
    BOOST_TEST(help.exit_code == 0);
    BOOST_TEST(help.out.find("--max-workers") != std::string::npos);
    const Result slice_help = host({"run-slice", "--help"});
    BOOST_TEST(slice_help.exit_code == 0, slice_help.err);
    BOOST_TEST(slice_help.out.find("--slice") != std::string::npos);
}

// new-plugin refuses a bad name and never writes into a folder that has something in it.
BOOST_AUTO_TEST_CASE(new_plugin_refuses_bad_names_and_existing_folders) {
    TempDir dir;
    const Result bad = host({"new-plugin", "9lives", "--dir", dir.path().string()});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("'9lives' is not a valid plugin name") != std::string::npos, bad.err);
    write_file(dir / "mine/notes.txt", "keep me");
    const Result taken = host({"new-plugin", "mine", "--dir", dir.path().string()});
    BOOST_TEST(taken.exit_code == 2);
    BOOST_TEST(taken.err.find("already exists and is not empty") != std::string::npos, taken.err);
    BOOST_TEST((snapshot(dir / "mine") == std::map<std::string, std::string>{{"notes.txt", "keep me"}}));
    const Result made = host({"new-plugin", "ok_nodes", "--dir", dir.path().string()});
    BOOST_TEST_REQUIRE(made.exit_code == 0, made.err);
    // The generated pipeline names the generated functions.
    const std::string source = read_file(dir / "ok_nodes/src/ok_nodes.cpp");
    const std::string pipeline = read_file(dir / "ok_nodes/pipeline.yml");
    for (const char* node : {"upper", "line_total"}) {
        BOOST_TEST(source.find(std::string("STEPPAR_NODE(") + node + ")") != std::string::npos);
        BOOST_TEST(pipeline.find(std::string("func: ok_nodes.") + node) != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
