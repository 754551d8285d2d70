// `steppar-host new-plugin NAME [--dir D]`: writes a ready out-of-tree plugin project that
// builds against the installed steppar (find_package) and runs as written: a partition node, a
// whole node, a pipeline with sample data, and a CTest test that runs the pipeline for real.
#include "command_line.hpp"
#include "commands.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/error.hpp>
#include <steppar/sdk.hpp>

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <vector>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace steppar::cli {
namespace {

struct Template {
    const char* path;  // relative to the project folder; @NAME@ is replaced
    const char* text;
};

const Template files[] = {
    {"CMakeLists.txt", R"~(# @NAME@: a steppar node plugin.
#   cmake -S . -B build -DCMAKE_PREFIX_PATH=<steppar's install prefix>
#   cmake --build build
#   steppar-host run pipeline.yml
#   ctest --test-dir build --output-on-failure
cmake_minimum_required(VERSION 3.25)
project(@NAME@ VERSION 0.1.0 LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()

find_package(steppar 0.1 REQUIRED)
# build/@NAME@.so, the file pipeline.yml names.
steppar_add_plugin(@NAME@ SOURCES src/@NAME@.cpp OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

enable_testing()
# Unit tests of the nodes as plain functions, on steppar/testing.hpp's fake contexts.
add_executable(@NAME@_nodes_test test/nodes_test.cpp src/@NAME@.cpp)
target_link_libraries(@NAME@_nodes_test PRIVATE steppar::sdk)
add_test(NAME @NAME@_nodes COMMAND @NAME@_nodes_test)

# The pipeline test runs pipeline.yml on the sample data with the real steppar-host and checks
# the files.
add_test(NAME @NAME@_pipeline
         COMMAND ${CMAKE_COMMAND} -DHOST=$<TARGET_FILE:steppar::steppar-host> -DPLUGIN=$<TARGET_FILE:@NAME@>
                 -DSOURCE=${CMAKE_SOURCE_DIR} -DWORK=${CMAKE_BINARY_DIR}/test-run
                 -P ${CMAKE_SOURCE_DIR}/test/run_pipeline.cmake)
)~"},
    {"src/@NAME@.cpp", R"~(// @NAME@: steppar nodes. steppar replicates `upper` over slices of the input dataset and
// runs `line_total` once every slice is done; see pipeline.yml.
#include <steppar/io.hpp>
#include <steppar/sdk.hpp>

#include <algorithm>
#include <cctype>
#include <string>

// A partition node: called once per partition (one input file); writes the same-named output
// partition. Whatever it writes appears only when it returns; a throw fails just this
// partition, with the node, slice and partition in the message. ctx.count() adds to a counter
// that `steppar-host status` and the run's events show.
void upper(steppar::PartitionContext& ctx) {
    std::string text = ctx.input().read_text();
    if (text.empty()) ctx.warn("empty input");
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    ctx.count("bytes", static_cast<long long>(text.size()));
    ctx.output().write(text);
}
STEPPAR_NODE(upper)

// A whole node: called once, with every partition of its input; `params:label` comes from the
// pipeline file (or --param label=...). steppar::io::lines streams a file line by line.
void line_total(steppar::WholeContext& ctx) {
    const auto& partitions = ctx.input().partitions();
    std::size_t lines = 0;
    for (const auto& part : partitions)
        for ([[maybe_unused]] const std::string_view line : steppar::io::lines(part.file)) ++lines;
    ctx.log("counted " + std::to_string(lines) + " lines");
    ctx.output().write(ctx.params().text("label") + ": " + std::to_string(partitions.size()) + " partitions, " +
                       std::to_string(lines) + " lines\n");
}
STEPPAR_NODE(line_total)
)~"},
    {"pipeline.yml", R"~(# @NAME@'s pipeline: uppercase every file of data/in in 2 slices, then count the lines.
# Paths are relative to this file.
plugins:
  @NAME@: build/@NAME@.so
catalog:
  texts: {type: partitioned, path: data/in, suffix: .txt}
  upper: {type: partitioned, path: out/upper, suffix: .txt}
  total: {type: file, path: out/total.txt}
params:
  label: total
nodes:
  - {name: upper, func: @NAME@.upper, inputs: [texts], outputs: [upper], slices: 2}
  - {name: line_total, func: @NAME@.line_total, inputs: [upper, params:label], outputs: [total]}
)~"},
    {"data/in/a.txt", "hello world\nsecond line\n"},
    {"data/in/b.txt", "steppar\n"},
    {"data/in/nested/c.txt", "a partition in a subfolder\n"},
    {"test/nodes_test.cpp", R"~(// Unit tests of @NAME@'s nodes as plain functions: steppar/testing.hpp's fake contexts take
// the inputs, params and configuration, and keep what a node writes and logs. No engine, no
// pipeline file. Add checks for every node you write; `ctest` runs them.
#include <steppar/testing.hpp>

#include <iostream>
#include <string>

void upper(steppar::PartitionContext& ctx);
void line_total(steppar::WholeContext& ctx);

namespace {
int failures = 0;
void expect(bool ok, const std::string& what) {
    if (ok) return;
    std::cerr << "FAILED: " << what << "\n";
    ++failures;
}
}  // namespace

int main() {
    {
        steppar::testing::FakePartitionContext ctx("a");
        ctx.add_input("hello world\n");
        upper(ctx);
        expect(ctx.output_text() == "HELLO WORLD\n", "upper uppercases its input");
        expect(ctx.logged().empty(), "upper says nothing about a non-empty input");
        expect(ctx.counters().value("bytes") == 12, "upper counts the bytes it wrote");
    }
    {
        steppar::testing::FakePartitionContext ctx("empty");
        ctx.add_input("");
        upper(ctx);
        expect(ctx.logged().size() == 1 && ctx.logged()[0].message == "empty input", "upper warns about an empty input");
    }
    {
        steppar::testing::FakeWholeContext ctx;
        ctx.add_partitioned_input("upper", {{"a", "ONE\nTWO\n"}, {"b", "THREE\n"}});
        ctx.params().set("label", "total");
        line_total(ctx);
        expect(ctx.output_text() == "total: 2 partitions, 3 lines\n", "line_total counts the lines of every partition");
    }
    if (failures == 0) std::cout << "every node test passed\n";
    return failures == 0 ? 0 : 1;
}
)~"},
    {"test/run_pipeline.cmake", R"~(# Runs pipeline.yml on a copy of the sample data with the real steppar-host and checks every
# output. Called by CTest with HOST, PLUGIN, SOURCE and WORK.
file(REMOVE_RECURSE ${WORK})
file(COPY ${SOURCE}/data DESTINATION ${WORK})
file(READ ${SOURCE}/pipeline.yml pipeline)
string(REPLACE "build/@NAME@.so" "${PLUGIN}" pipeline "${pipeline}")
file(WRITE ${WORK}/pipeline.yml "${pipeline}")

execute_process(COMMAND ${HOST} run ${WORK}/pipeline.yml --log-format plain
                RESULT_VARIABLE code ERROR_VARIABLE log)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "steppar-host run failed (${code}):\n${log}")
endif()

function(expect file content)
  file(READ ${WORK}/${file} actual)
  if(NOT actual STREQUAL content)
    message(FATAL_ERROR "${file}: expected '${content}', got '${actual}'")
  endif()
endfunction()
expect(out/upper/a.txt "HELLO WORLD\nSECOND LINE\n")
expect(out/upper/nested/c.txt "A PARTITION IN A SUBFOLDER\n")
expect(out/total.txt "total: 3 partitions, 4 lines\n")
if(NOT log MATCHES "node 'line_total': counted 4 lines")
  message(FATAL_ERROR "the node's log line is missing:\n${log}")
endif()

# A second run finds everything up to date.
execute_process(COMMAND ${HOST} run ${WORK}/pipeline.yml RESULT_VARIABLE code ERROR_VARIABLE log)
if(NOT code EQUAL 0 OR NOT log MATCHES "0 ran")
  message(FATAL_ERROR "the second run should skip everything:\n${log}")
endif()
)~"},
    {"README.md", R"~(# @NAME@

A steppar node plugin: `upper` (a partition node, run in 2 slices) and `line_total` (a whole
node, run after every slice is done).

    cmake -S . -B build -DCMAKE_PREFIX_PATH=@PREFIX@
    cmake --build build
    steppar-host run pipeline.yml          # writes out/upper/ and out/total.txt
    ctest --test-dir build --output-on-failure   # the node tests and the pipeline test

Add nodes to `src/@NAME@.cpp` (one `STEPPAR_NODE(function)` each) and use them in
`pipeline.yml`; `steppar-host validate pipeline.yml` checks the file and the plugin without
running anything, `steppar-host graph pipeline.yml --format svg -o graph.svg` draws it.
)~"},
    {".gitignore", "build/\nout/\n.steppar/\n"},
};

std::string fill(std::string text, const std::string& name, const std::string& prefix) {
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"@NAME@", name}, {"@PREFIX@", prefix}})
        for (std::size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
    return text;
}

// The prefix steppar-host is installed under (what find_package needs), or a hint when it runs
// from a build tree.
std::string install_prefix() {
    const fs::path prefix = fs::path(host_program()).parent_path().parent_path();
    std::error_code ec;
    for (const char* lib : {"lib", "lib64"})
        if (fs::exists(prefix / lib / "cmake/steppar/stepparConfig.cmake", ec)) return prefix.string();
    for (const auto& entry : fs::directory_iterator(prefix / "lib", ec))
        if (fs::exists(entry.path() / "cmake/steppar/stepparConfig.cmake", ec)) return prefix.string();
    return "<prefix of 'cmake --install' of steppar>";
}

// [A-Za-z_][A-Za-z0-9_]*: a C identifier, which a plugin name becomes in CMake and C++.
bool is_identifier(const std::string& name) {
    if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

}  // namespace

int new_plugin_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("dir", po::value<std::string>()->default_value("."),
                          "create the project as DIR/NAME")("help,h", po::bool_switch(), "show this help");
    po::options_description hidden;
    hidden.add_options()("name", po::value<std::string>());
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description positional;
    positional.add("name", 1);
    po::variables_map values;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), values);
    if (values["help"].as<bool>()) {
        std::cout << "Usage: steppar-host new-plugin NAME [--dir DIR]\n\nWrites DIR/NAME: an out-of-tree plugin project "
                     "(CMake with find_package(steppar), a partition node, a whole node, a pipeline with sample data and "
                     "a test) that builds and runs as written.\n\n"
                  << options;
        return 0;
    }
    po::notify(values);
    if (!values.count("name")) throw UsageError("new-plugin: missing NAME (the plugin's name, e.g. my_nodes)");
    const std::string name = values["name"].as<std::string>();
    if (!is_identifier(name))
        throw UsageError("new-plugin: '" + name + "' is not a valid plugin name: use letters, digits and _ (like my_nodes), not starting with a digit");
    const fs::path project = fs::path(values["dir"].as<std::string>()) / name;
    std::error_code ec;
    if (fs::exists(project, ec) && !fs::is_empty(project, ec))
        throw UsageError("new-plugin: '" + project.string() + "' already exists and is not empty; choose another --dir or NAME (nothing was written)");

    const std::string prefix = install_prefix();
    for (const auto& file : files) {
        const fs::path path = project / fill(file.path, name, prefix);
        fs::create_directories(path.parent_path(), ec);
        if (ec) throw StateError("cannot create '" + path.parent_path().string() + "': " + ec.message());
        AtomicFile out(path);
        out.stream() << fill(file.text, name, prefix);
        out.commit();
    }
    std::cout << "Created " << project.string() << ": a steppar plugin with nodes 'upper' (partition) and 'line_total' (whole).\n"
              << "  cd " << project.string() << "\n"
              << "  cmake -S . -B build -DCMAKE_PREFIX_PATH=" << prefix << "\n"
              << "  cmake --build build\n"
              << "  " << host_program() << " run pipeline.yml\n"
              << "  ctest --test-dir build --output-on-failure\n";
    return 0;
}

}  // namespace steppar::cli
