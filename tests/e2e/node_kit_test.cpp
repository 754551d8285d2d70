// The node author's kit end to end: the plugin's setup and teardown once per slice process
// under every local launcher, after node failures too; skipped output partitions; counters in
// markers, JSON events and `status`. Every change is judged against a clean sequential run.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

using namespace e2e;

namespace {

// A multinode of three slices and a whole node after it, both from the plugin with a lifecycle.
std::string lifecycle_pipeline(const fs::path& dir, const std::string& bad = "none", bool fail_setup = false, bool fail_teardown = false) {
    return "plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  total:  {type: file, path: out/total.txt}
params: {lifecycle_dir: )" + dir.string() + ", bad: " + bad + ", fail_setup: " + (fail_setup ? "true" : "false") +
           ", fail_teardown: " + (fail_teardown ? "true" : "false") + R"(}
nodes:
  - {name: copy, func: test.lifecycle_copy, inputs: [docs, params:lifecycle_dir, params:bad, params:fail_setup, params:fail_teardown],
     outputs: [copies], slices: 3}
  - {name: total, func: test.lifecycle_total, inputs: [copies, params:lifecycle_dir], outputs: [total]}
)";
}

std::vector<std::string> lines_of(const fs::path& file) {
    std::vector<std::string> lines;
    if (!fs::exists(file)) return lines;
    std::istringstream in(read_file(file));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// How many partitions the teardown lines of the copy slices report in all.
long calls_in_teardowns(const fs::path& dir) {
    long calls = 0;
    for (int slice = 0; slice < 3; ++slice)
        for (const auto& line : lines_of(dir / ("teardown.copy-slice-" + std::to_string(slice)))) calls += std::stol(line.substr(6));
    return calls;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node_kit)

// Setup once before a slice's first call and teardown once after its last, in the slice's own
// process, whether the fork server forks it or `steppar-host run-slice` is exec'd; a plain
// node is a step of one slice.
BOOST_AUTO_TEST_CASE(setup_and_teardown_run_once_per_slice_under_fork_and_exec) {
    for (const std::string launch : {"fork", "exec"}) {
        BOOST_TEST_CONTEXT("--launch " << launch) {
            TempDir life;
            Workspace ws(lifecycle_pipeline(life.path()));
            make_docs(ws.dir / "data/docs", 20);
            const Result r = ws.run({"--runner", "parallel", "-j", "2", "--launch", launch, "--log-format", "plain"});
            BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
            for (int slice = 0; slice < 3; ++slice) {
                const std::string step = "copy-slice-" + std::to_string(slice);
                BOOST_TEST(lines_of(life / ("setup." + step)) == std::vector<std::string>{"slice " + std::to_string(slice) + " of 3 in copy"},
                           step);
                BOOST_TEST(lines_of(life / ("teardown." + step)).size() == 1u, step);
            }
            BOOST_TEST(calls_in_teardowns(life.path()) == 20);
            BOOST_TEST(lines_of(life / "setup.total") == std::vector<std::string>{"slice 0 of 1 in total"});
            BOOST_TEST(lines_of(life / "teardown.total") == std::vector<std::string>{"calls 1"});
            BOOST_TEST(r.err.find("connection open") != std::string::npos, r.err);  // setup's log line
            // Up to date: no step runs, so nothing is set up.
            const Result again = ws.run({"--runner", "parallel", "--launch", launch});
            BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
            BOOST_TEST(lines_of(life / "setup.copy-slice-0").size() == 1u);
            const std::string differences = differences_from_clean_run(ws);  // (its own steps add lines to `life`)
            BOOST_TEST(differences.empty(), differences);
        }
    }
}

// A node that throws stops its slice, and teardown still runs before the failed marker; a
// teardown that throws fails its slice (and so holds everything downstream); a setup that
// throws fails the slice before any node runs, and nothing is torn down.
BOOST_AUTO_TEST_CASE(teardown_runs_after_a_node_failure_and_a_failing_setup_or_teardown_fails_the_slice) {
    TempDir life;
    Workspace ws(lifecycle_pipeline(life.path(), "doc-0004"));
    make_docs(ws.dir / "data/docs", 12);
    Result r = ws.run({"--runner", "sequential", "--log-format", "plain"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(r.err.find("refusing partition doc-0004") != std::string::npos, r.err);
    BOOST_TEST(lines_of(life / "teardown.copy-slice-0").size() == 1u, "teardown after the node threw");
    BOOST_TEST(!fs::exists(ws.dir / "out/total.txt"));

    write_file(ws.pipeline, lifecycle_pipeline(life.path(), "none", false, true));
    r = ws.run({"--runner", "parallel", "--log-format", "plain"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(r.err.find("teardown of plugin 'test' failed: cannot close the connection") != std::string::npos, r.err);
    BOOST_TEST(!fs::exists(ws.dir / "out/total.txt"), "a slice whose teardown failed holds what comes after it");

    write_file(ws.pipeline, lifecycle_pipeline(life.path()));
    r = ws.run({"--runner", "parallel"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);

    TempDir life2;
    Workspace failing(lifecycle_pipeline(life2.path(), "none", true));
    make_docs(failing.dir / "data/docs", 4);
    r = failing.run({"--runner", "parallel", "--log-format", "plain"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(r.err.find("setup of plugin 'test' failed: no database today") != std::string::npos, r.err);
    BOOST_TEST(fs::exists(life2 / "setup.copy-slice-0"));
    BOOST_TEST(!fs::exists(life2 / "teardown.copy-slice-0"), "a setup that failed is not torn down");
    BOOST_TEST(!fs::exists(failing.dir / "out/copies/doc-0000.txt"));
}

namespace {
// keep_unless drops partitions containing DROP; a multinode reads what it kept, and a
// multipipeline chains the same filter with a copy in one slice.
std::string filter_pipeline() {
    return "plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:    {type: partitioned, path: data/docs, suffix: .txt}
  kept:    {type: partitioned, path: out/kept, suffix: .txt}
  again:   {type: partitioned, path: out/again, suffix: .txt}
  chained: {type: partitioned, path: out/chained, suffix: .txt}
params: {drop: DROP, bad: none}
nodes:
  - {name: keep, func: test.keep_unless, inputs: [docs, params:drop], outputs: [kept], slices: 2}
  - {name: reread, func: test.fail_on, inputs: [kept, params:bad], outputs: [again], slices: 2}
  - multipipeline:
      name: chain
      slices: 2
      nodes:
        - {name: filter, func: test.keep_unless, inputs: [docs, params:drop], outputs: [filtered]}
        - {name: copy,   func: test.fail_on,     inputs: [filtered, params:bad], outputs: [chained]}
)";
}

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> names;
    if (!fs::exists(dir)) return names;
    for (const auto& f : fs::directory_iterator(dir)) names.insert(f.path().stem().string());
    return names;
}
}  // namespace

// A node that skips an output partition leaves no file, not even one an earlier run made; the
// partition is recorded, so a rerun does nothing until its input changes; downstream (another
// unit, or the next node of a chain) does not see it. Counters land in the events and `status`.
BOOST_AUTO_TEST_CASE(skipped_partitions_and_counters) {
    Workspace ws(filter_pipeline());
    for (const auto& [name, text] : std::map<std::string, std::string>{
             {"a", "alpha\n"}, {"b", "beta DROP\n"}, {"c", "gamma\n"}, {"d", "delta\n"}, {"e", "DROP epsilon\n"}, {"f", "phi\n"}})
        write_file(ws.dir / ("data/docs/" + name + ".txt"), text);
    Result r = ws.run({"--runner", "parallel", "--log-format", "json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::set<std::string> four = {"a", "c", "d", "f"};
    BOOST_TEST(names_in(ws.dir / "out/kept") == four);
    BOOST_TEST(names_in(ws.dir / "out/again") == four);
    BOOST_TEST(names_in(ws.dir / "out/chained") == four);
    BOOST_TEST(names_in(ws.dir / ".steppar/data/filtered") == four);
    // The JSON events: each keep slice's end carries its counters and skipped outputs.
    long long kept = 0, dropped = 0, skipped = 0;
    std::istringstream events(r.err);
    for (std::string line; std::getline(events, line);) {
        const auto j = nlohmann::json::parse(line);
        if (j.value("event", "") != "step_end" || j.value("unit", "") != "keep" || j.value("kind", "") != "slice") continue;
        if (j.contains("metrics")) {
            kept += j["metrics"].value("kept", 0LL);
            dropped += j["metrics"].value("dropped", 0LL);
        }
        skipped += j.value("skipped", 0LL);
    }
    BOOST_TEST(kept == 4);
    BOOST_TEST(dropped == 2);
    BOOST_TEST(skipped == 2);
    // status: the unit's line sums its slices' counters.
    const Result status = host({"status", ws.pipeline.string()});
    BOOST_REQUIRE_MESSAGE(status.exit_code == 0, status.err);
    BOOST_TEST(status.out.find("keep\t") != std::string::npos, status.out);
    BOOST_TEST(status.out.find("last run: dropped=2, kept=4; 2 output partition(s) skipped") != std::string::npos, status.out);
    std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);

    // Nothing changed: nothing runs, skipped partitions included.
    r = ws.run({"--runner", "parallel", "--log-format", "plain"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("slice-0 done") == std::string::npos, r.err);
    BOOST_TEST(r.err.find("slice-1 done") == std::string::npos, r.err);

    // b is kept now, c is dropped now: b appears everywhere, c disappears everywhere.
    write_file(ws.dir / "data/docs/b.txt", "beta\n");
    write_file(ws.dir / "data/docs/c.txt", "gamma DROP\n");
    r = ws.run({"--runner", "parallel", "--log-format", "plain"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::set<std::string> now = {"a", "b", "d", "f"};
    BOOST_TEST(names_in(ws.dir / "out/kept") == now);
    BOOST_TEST(names_in(ws.dir / "out/again") == now);
    BOOST_TEST(names_in(ws.dir / "out/chained") == now);
    differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

BOOST_AUTO_TEST_SUITE_END()
