// Bad input: one clear line naming the file (and line, node, plugin...), exit code 2, and
// nothing written: no output folder, no state folder.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include <chrono>

using namespace e2e;

namespace {

const char* header = R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
)";

// What "refused quickly" allows, process start included (sanitizers slow everything down).
const double quickly = host_is_sanitized() ? 5.0 : 1.0;

// Runs `spec` (`steppar-host COMMAND FILE`, with `env` such as "STEPPAR_MAX_SLICES=3" before it)
// and checks: exit code 2, one line on stderr containing every `expected` piece, and nothing
// created besides the input. Returns how long steppar-host took.
double expect_rejected(const std::string& spec, const std::vector<std::string>& expected,
                       const std::string& file_name = "pipeline.yml", const std::string& env = "",
                       const std::string& command = "run") {
    TempDir dir;
    write_file(dir / "docs/a.txt", "hello\n");
    write_file(dir / file_name, spec);
    const auto start = std::chrono::steady_clock::now();
    // A bound, so a pipeline that hangs fails the test instead of the suite.
    const Result r = shell(env + " timeout -k 5 30 " + quote(host_program()) + " " + command + " " + quote((dir / file_name).string()));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, "expected one line, got: " << r.err);
    BOOST_TEST(r.err.find((dir / file_name).string()) != std::string::npos, "file not named: " << r.err);
    for (const auto& piece : expected) BOOST_TEST(r.err.find(piece) != std::string::npos, "'" << piece << "' not in: " << r.err);
    BOOST_TEST(!fs::exists(dir / "out"), "output folder created despite the error");
    BOOST_TEST(!fs::exists(dir / ".steppar"), "state folder created despite the error");
    return seconds;
}

const char* count_node = "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts]}\n";

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

// Several producers are for partitioned datasets written by partition functions of different
// units (see incremental_test.cpp); anything else is refused before anything runs.
BOOST_AUTO_TEST_CASE(two_producers_of_one_dataset) {
    expect_rejected(std::string(header) + R"(nodes:
  - {name: one, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: two, func: builtin.wc_total, inputs: [docs], outputs: [counts]}
)", {"'counts' is written by two nodes", "'one'", "'two'", "each a partition function"});
    expect_rejected(std::string(header) + R"(nodes:
  - multipipeline:
      name: both
      slices: 2
      nodes:
        - {name: one, func: builtin.wc, inputs: [docs], outputs: [counts]}
        - {name: two, func: builtin.sha256, inputs: [docs], outputs: [counts]}
)", {"'counts' is written twice in 'both', by 'one' and 'two'"});
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
                    {"SDK ABI 999", "needs ABI 5", "rebuild the plugin"});
    // A plugin of the export format before the descriptor (SDK ABI 4) is named as such.
    expect_rejected(std::string("plugins: {old: ") + fixture("steppar_abi4") +
                        "}\ncatalog: {docs: {path: docs, suffix: .txt}}\nnodes:\n  - {name: n, func: old.identity, inputs: [docs], outputs: [o]}\n",
                    {"steppar_abi4.so) was built against steppar SDK ABI 4, this steppar-host needs ABI 5", "rebuild the plugin"});
    expect_rejected(std::string("plugins: {gone: ./missing.so}\ncatalog: {docs: {path: docs, suffix: .txt}}\n"
                                "nodes:\n  - {name: n, func: gone.x, inputs: [docs], outputs: [o]}\n"),
                    {"missing.so", "does not exist"});
}

// A partition whose output name would exceed 255 bytes (a longer output suffix, or the ".d" of a
// multipipeline's intermediate folders) is refused at slicing, exit 2, before any partition runs.
BOOST_AUTO_TEST_CASE(an_output_name_too_long_is_refused_at_slicing) {
    TempDir dir;
    const std::string name(251, 'n');  // + ".t" is 253 bytes: a valid input; + ".json" is 256
    write_file(dir / ("docs/" + name + ".t"), "long\n");
    write_file(dir / "docs/short.t", "short\n");
    write_file(dir / "p.yml", "plugins: {builtin: steppar_builtin}\ncatalog:\n  docs: {type: partitioned, path: docs, suffix: .t}\n"
                              "  counts: {type: partitioned, path: out, suffix: .json}\nnodes:\n"
                              "  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}\n");
    const Result r = host({"run", (dir / "p.yml").string()});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(r.err.find("partition '" + name + "' would be written to dataset 'counts' as a file name of 256 bytes") != std::string::npos, r.err);
    BOOST_TEST(!fs::exists(dir / "out/short.json"));  // nothing ran
}

BOOST_AUTO_TEST_CASE(bad_command_lines) {
    TempDir dir;
    const Result missing = host({"run", (dir / "absent.yml").string()});
    BOOST_TEST(missing.exit_code == 2);
    BOOST_TEST(missing.err.find("absent.yml: pipeline file does not exist") != std::string::npos, missing.err);
    // Not a file one can read a pipeline from: said as what it is, not as missing.
    fs::create_directories(dir / "folder.yml");
    BOOST_REQUIRE(shell("mkfifo " + quote((dir / "fifo.yml").string())).exit_code == 0);
    for (const auto& [path, said] : std::vector<std::pair<std::string, std::string>>{
             {(dir / "folder.yml").string(), "is a folder, not a pipeline file"},
             {(dir / "fifo.yml").string(), "is not a regular file (a device, a FIFO or a socket)"},
             {"/dev/zero", "is not a regular file"}}) {
        const Result r = host({"run", path});  // a FIFO opened for reading would block: it must not be opened
        BOOST_TEST(r.exit_code == 2, path);
        BOOST_TEST(r.err.find(path + ": " + said) != std::string::npos, r.err);
    }
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
    // No command is bad usage: the usage goes to stderr (nothing on stdout), exit 2; --help
    // prints the same text on stdout, exit 0. Both list every command of the table.
    const Result bare = host({});
    BOOST_TEST(bare.exit_code == 2);
    BOOST_TEST(bare.out.empty(), bare.out);
    const Result usage = host({"--help"});
    BOOST_TEST(usage.exit_code == 0);
    BOOST_TEST(usage.out == bare.err);
    for (const char* name : {"run", "run-slice", "run-node", "run-slicer", "check-barrier", "export", "graph", "plan", "validate", "status",
                             "clean", "nodes", "new-plugin"})
        BOOST_TEST(usage.out.find("\n  " + std::string(name) + " ") != std::string::npos, name);
    // Errors found while reading the command line follow --log-format json too: one JSON event.
    for (const std::vector<std::string>& args : {std::vector<std::string>{"run", (dir / "p.yml").string(), "--bogus", "--log-format", "json"},
                                                 {"run", "--log-format=json"}}) {
        const Result r = host(args);
        BOOST_TEST(r.exit_code == 2);
        BOOST_TEST(r.err.rfind("{\"time\":", 0) == 0, r.err);
        BOOST_TEST(r.err.find("\"event\":\"error\"") != std::string::npos, r.err);
        BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
    }
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

// --- Files that hang or lie: refused quickly, one line, nothing written ---

BOOST_AUTO_TEST_CASE(alias_bomb_is_refused_within_a_second) {
    // "Billion laughs": 9 levels of 9 aliases, 387,420,489 values from under 600 bytes.
    std::string bomb = "params:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (char level = 'b'; level <= 'i'; ++level) {
        bomb += std::string("  ") + level + ": &" + level + " [";
        for (int i = 0; i < 9; ++i) bomb += std::string(i ? ", *" : "*") + static_cast<char>(level - 1);
        bomb += "]\n";
    }
    for (const char* command : {"run", "validate"}) {
        const double seconds = expect_rejected(std::string(header) + bomb + count_node,
                                               {":12:", "the file expands to more than 100,000 values (an alias bomb?)", "'*e'"},
                                               "pipeline.yml", "", command);
        BOOST_TEST(seconds < quickly);
    }
}

BOOST_AUTO_TEST_CASE(keys_given_twice_and_second_documents_are_refused) {
    expect_rejected(std::string(header) + "nodes:\n  - {name: a, name: b, func: builtin.wc, inputs: [docs], outputs: [counts]}\n",
                    {":7:", "key 'name' is given twice in one mapping (both on line 7); keep one of them"});
    expect_rejected(std::string(header) + count_node + "nodes:\n  - {name: b, func: builtin.sha256, inputs: [docs], outputs: [sums]}\n",
                    {":8:", "key 'nodes' is given twice in one mapping (lines 6 and 8)"});
    expect_rejected(std::string(header) + count_node + "---\n" + header + count_node,
                    {":8:", "a second YAML document starts here ('---')"});
    expect_rejected("{\"plugins\": {\"builtin\": \"steppar_builtin\"},\n"
                    " \"catalog\": {\"docs\": {\"path\": \"docs\", \"suffix\": \".txt\"}},\n"
                    " \"nodes\": [{\"name\": \"a\", \"func\": \"builtin.wc\",\n"
                    "            \"inputs\": [\"docs\"], \"outputs\": [\"counts\"], \"name\": \"b\"}]}\n",
                    {":4:", "key 'name' is given twice in one object (lines 3 and 4)"}, "pipeline.json");
}

BOOST_AUTO_TEST_CASE(slice_and_step_limits_are_refused_and_can_be_raised) {
    const auto sliced = [](const std::string& slices) {
        return std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: " + slices + "}\n";
    };
    // Today's typo would write 524,288 plan files; now nothing is written.
    BOOST_TEST(expect_rejected(sliced("1000000"), {":7:", "'count' has 1,000,000 slices, more than the limit of 10,000",
                                                   "raise the limit with STEPPAR_MAX_SLICES=1000000"}) < quickly);
    expect_rejected(sliced("4"), {"'count' has 4 slices, more than the limit of 3", "STEPPAR_MAX_SLICES=4"}, "pipeline.yml",
                    "STEPPAR_MAX_SLICES=3");
    expect_rejected(sliced("4"), {"the pipeline expands to 6 steps", "more than the limit of 5", "STEPPAR_MAX_STEPS=6"},
                    "pipeline.yml", "STEPPAR_MAX_STEPS=5");
    expect_rejected(sliced("1000000"), {"1,000,002 steps", "limit of 100,000", "STEPPAR_MAX_STEPS=1000002"}, "pipeline.yml",
                    "STEPPAR_MAX_SLICES=1000000");
    expect_rejected(std::string(header) + R"(nodes:
  - multipipeline:
      name: mp
      max_simultaneous_steps: 1000000
      nodes: [{name: lower, func: builtin.lowercase, inputs: [docs], outputs: [counts]}]
)",
                    {":7:", "'mp' has 1,000,000 slices (max_simultaneous_steps 1000000", "lower max_simultaneous_steps",
                     "STEPPAR_MAX_SLICES=1000000"});
    // Raised, the same file is valid; a variable that is not a number is a usage error.
    TempDir dir;
    write_file(dir / "docs/a.txt", "hello\n");
    write_file(dir / "pipeline.yml", sliced("10001"));
    const auto validate = [&](const std::string& env) {
        return shell(env + " " + quote(host_program()) + " validate " + quote((dir / "pipeline.yml").string()));
    };
    const Result raised = validate("STEPPAR_MAX_SLICES=10001");
    BOOST_TEST(raised.exit_code == 0, raised.err);
    BOOST_TEST(raised.out.find("10003 steps") != std::string::npos, raised.out);
    const Result garbled = validate("STEPPAR_MAX_SLICES=lots");
    BOOST_TEST(garbled.exit_code == 2);
    BOOST_TEST(garbled.err.find("STEPPAR_MAX_SLICES must be a whole number from 1 to 2147483647, got 'lots'") != std::string::npos,
               garbled.err);
}

BOOST_AUTO_TEST_CASE(infinite_timeouts_and_absurd_retries_are_refused) {
    const auto with = [](const std::string& option) {
        return std::string(header) + "nodes:\n  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2, " + option + "}\n";
    };
    for (const char* timeout : {"inf", "1e308h"})
        expect_rejected(with(std::string("timeout: ") + timeout),
                        {":7:", "'count': timeout must be at most 30 days (720h), got '" + std::string(timeout) + "'"});
    expect_rejected(with("timeout: nan"), {":7:", "'count': timeout must be a positive duration", "got 'nan'"});
    expect_rejected(with("retries: 2147483647"), {":7:", "'count': retries must be at most 1000, got '2147483647'"});
}

BOOST_AUTO_TEST_CASE(oversized_pipeline_file_is_refused_before_it_is_read) {
    // A valid pipeline and 3 MiB of parameters: today it is parsed, in seconds and gigabytes.
    std::string big = std::string(header) + count_node + "params:\n  table: [";
    while (big.size() < (3u << 20)) big += "12345678901234567890, ";
    big += "0]\n";
    const double seconds = expect_rejected(big, {"the pipeline file is 3.0 MiB", "more than the limit of 2 MiB (2,097,152 bytes)"});
    BOOST_TEST(seconds < quickly);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_without_crashing) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    BOOST_TEST(expect_rejected(std::string(header) + count_node + "params:\n  x: " + deep + "\n",
                               {":9:", "nesting deeper than 100 levels"}) < quickly);
    expect_rejected(std::string(header) + count_node + "params:\n  x: " + std::string(100000, '{') + "\n", {":9:", "nesting deeper than 100 levels"});
    BOOST_TEST(expect_rejected("{\"plugins\": {\"builtin\": \"steppar_builtin\"},\n \"params\": {\"x\": " + deep + "}}\n",
                               {":2:", "nesting deeper than 100 levels"}, "pipeline.json") < quickly);
    std::string objects = "{\"params\":\n {\"x\": ";
    for (int i = 0; i < 100000; ++i) objects += "{\"a\": ";
    expect_rejected(objects, {":2:", "nesting deeper than 100 levels"}, "pipeline.json");
}

BOOST_AUTO_TEST_SUITE_END()
