// Nothing passes as done without proof: only a step's own success marker for the current plan
// vouches for it, on every path (run-slice as cluster jobs and exec'd steps call it, the
// barrier, status); a whole-function node always knows what it wrote last, even after a failed
// or damaged marker; ledger damage is an error or a safe re-plan, never a silent wrong answer.
// Outputs are compared with a clean sequential run (`diff -r`).
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>

using namespace e2e;

namespace {

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// count (wc, 2 slices) -> total.
const char* counting = R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)";

Result host_ok(const std::vector<std::string>& args) {
    const Result r = host(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, args.front() + ": " + r.err);
    return r;
}

// The line of `status` about one step.
std::string status_of(const Workspace& ws, const std::string& step) {
    const Result r = host({"status", ws.pipeline.string()});
    std::size_t at = 0;
    while ((at = r.out.find('\t' + step + '\t', at)) != std::string::npos) {
        const std::size_t start = r.out.rfind('\n', at) + 1;  // npos + 1 == 0
        const std::string line = r.out.substr(start, r.out.find('\n', at) - start);
        if (line.rfind("unit:", 0) != 0) return line;
        ++at;
    }
    return "(no line for " + step + " in: " + r.out + ")";
}

// steppar-host with a failing syncfs, fsync or unlink on paths ending with `path_end`
// (tests/fixtures/failing_io.cpp): `variable` is STEPPAR_TEST_FAIL_SYNCFS, _FSYNC or _UNLINK.
Result host_with_failing_io(const std::string& variable, const std::string& path_end, const std::vector<std::string>& args) {
    const char* asan = std::getenv("ASAN_OPTIONS");
    std::string line = "env LD_PRELOAD=" + quote(fixture("steppar_failing_io")) + " " + variable + "=" + quote(path_end) +
                       // under AddressSanitizer its runtime must come first: told not to mind
                       " ASAN_OPTIONS=" + quote(std::string(asan ? asan : "") + ":verify_asan_link_order=0") + " " + quote(host_program());
    for (const auto& a : args) line += " " + quote(a);
    return shell(line);
}

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proof)

// A marker of another slice or of an earlier plan sits where slice 0's should be: status says
// slice 0 has not run, run-slice (what cluster jobs and exec'd steps call) runs it instead of
// skipping it, and the barrier refuses until it has; then the run equals a clean one.
BOOST_AUTO_TEST_CASE(a_marker_of_another_slice_or_plan_vouches_for_nothing) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 6);
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const fs::path markers = ws.dir / ".steppar/units/count/markers";
    const std::string old_plan_marker = read_file(markers / "slice-0.json");
    write_file(ws.dir / "data/docs/a-new.txt", "one two three\n");
    write_file(ws.dir / "data/docs/z-new.txt", "four five\n");
    const std::string p = ws.pipeline.string();
    host_ok({"run-slicer", p, "--node", "count"});  // a new plan: one new partition per slice
    host_ok({"run-slice", p, "--node", "count", "--slice", "1"});

    // Slice 1's marker (this plan, success) copied over slice 0's.
    fs::copy_file(markers / "slice-1.json", markers / "slice-0.json", fs::copy_options::overwrite_existing);
    BOOST_TEST(has(status_of(ws, "count-slice-0"), "not run"), status_of(ws, "count-slice-0"));
    BOOST_TEST(has(status_of(ws, "count-slice-1"), "done"), status_of(ws, "count-slice-1"));
    Result barrier = host({"check-barrier", p, "--node", "count"});
    BOOST_TEST(barrier.exit_code == 1);
    BOOST_TEST(has(barrier.err, "slice 0: its marker belongs to another unit, slice or plan"), barrier.err);

    // The earlier plan's success marker for slice 0.
    write_file(markers / "slice-0.json", old_plan_marker);
    BOOST_TEST(has(status_of(ws, "count-slice-0"), "not run"), status_of(ws, "count-slice-0"));
    barrier = host({"check-barrier", p, "--node", "count"});
    BOOST_TEST(barrier.exit_code == 1);
    BOOST_TEST(has(barrier.err, "slice 0: its marker belongs to another unit, slice or plan"), barrier.err);
    const Result slice = host_ok({"run-slice", p, "--node", "count", "--slice", "0"});
    BOOST_TEST(!has(slice.err, "already done"), slice.err);
    BOOST_TEST(fs::exists(ws.dir / "out/counts/a-new.json"));
    BOOST_TEST(has(status_of(ws, "count-slice-0"), "done"), status_of(ws, "count-slice-0"));
    host_ok({"check-barrier", p, "--node", "count"});
    // Now it is done: run-slice skips it.
    BOOST_TEST(has(host_ok({"run-slice", p, "--node", "count", "--slice", "0"}).err, "already done for this plan, skipped"));
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// A whole-function node wrote a, b, c; then it failed; then it succeeded writing a and b: c is
// retracted (the failed marker kept the list of what the last success wrote), as in a clean run.
BOOST_AUTO_TEST_CASE(a_whole_node_retracts_what_it_wrote_before_a_failed_attempt) {
    Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  list:  {type: file, path: data/list.txt}
  parts: {type: partitioned, path: out/parts, suffix: .txt}
nodes:
  - {name: fan, func: test.fan_out, inputs: [list], outputs: [parts]}
)");
    write_file(ws.dir / "data/list.txt", "a\nb\nc\n");
    BOOST_REQUIRE(ws.run().exit_code == 0);
    BOOST_REQUIRE(fs::exists(ws.dir / "out/parts/c.txt"));
    write_file(ws.dir / "data/list.txt", "a\nb\n!fail\n");
    const Result failed = ws.run();
    BOOST_TEST(failed.exit_code == 1);
    BOOST_TEST(has(failed.err, "the list asks for a failure"), failed.err);
    write_file(ws.dir / "data/list.txt", "a\nb\n");
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(!fs::exists(ws.dir / "out/parts/c.txt"));
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// A damaged marker of a whole-function node cannot say which files the node wrote: the run
// stops with how to repair, touching no output; after the repair it runs and equals a clean run.
BOOST_AUTO_TEST_CASE(a_damaged_whole_node_marker_is_an_error_with_its_repair) {
    Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  list:  {type: file, path: data/list.txt}
  parts: {type: partitioned, path: out/parts, suffix: .txt}
nodes:
  - {name: fan, func: test.fan_out, inputs: [list], outputs: [parts]}
)");
    write_file(ws.dir / "data/list.txt", "a\nb\nc\n");
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const fs::path marker = ws.dir / ".steppar/units/fan/markers/node.json";
    std::string text = read_file(marker);
    text.replace(text.find("\"pid\": "), 7, "\"pid\":0");  // same size, seal broken
    write_file(marker, text);
    write_file(ws.dir / "data/list.txt", "a\nb\n");
    const auto before = snapshot(ws.dir / "out");
    const Result r = ws.run();
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, "cannot tell which files node 'fan' wrote last time"), r.err);
    BOOST_TEST(has(r.err, "node.previous.json' to run it anyway"), r.err);
    BOOST_TEST((snapshot(ws.dir / "out") == before));
    fs::remove(ws.dir / ".steppar/units/fan/markers/node.previous.json");
    fs::remove(ws.dir / "out/parts/c.txt");  // the repair: what the user checked by hand
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// The filesystem reports a failed write-back when a slice syncs its outputs and records: the
// slice fails naming the error, writes no marker and drops its ledger records; the rerun on a
// healthy filesystem redoes it and equals a clean run.
BOOST_AUTO_TEST_CASE(a_failed_sync_fails_the_slice_and_nothing_vouches_for_it) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 6);
    const std::string p = ws.pipeline.string();
    const Result r = host_with_failing_io("STEPPAR_TEST_FAIL_SYNCFS", "/units/count/ledger", {"run", p, "--runner", "sequential"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, "cannot sync the filesystem holding"), r.err);
    BOOST_TEST(has(r.err, "Input/output error"), r.err);
    BOOST_TEST(has(r.err, "nothing vouches for them"), r.err);
    const fs::path unit = ws.dir / ".steppar/units/count";
    BOOST_TEST(files_in(unit / "markers").empty(), "markers: " + join_names(files_in(unit / "markers")));
    for (const auto& name : files_in(unit / "ledger")) BOOST_TEST(name.find("-s") == std::string::npos, "a slice's records stayed: " + name);
    const Result again = ws.run();
    BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
    BOOST_TEST(has(again.err, "count: 6 new, 0 changed, 0 up to date"), again.err);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// The folder holding a marker cannot be synced after the marker's rename: the marker is taken
// back (it might vanish at a power cut), the slice fails, and the barrier does not pass.
BOOST_AUTO_TEST_CASE(a_marker_whose_folder_cannot_be_synced_is_taken_back) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 6);
    const std::string p = ws.pipeline.string();
    const Result r = host_with_failing_io("STEPPAR_TEST_FAIL_FSYNC", "/units/count/markers", {"run", p, "--runner", "sequential"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, "cannot sync the folder of"), r.err);
    BOOST_TEST(files_in(ws.dir / ".steppar/units/count/markers").empty());
    BOOST_TEST(!fs::exists(ws.dir / "out/total.json"));
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// An output of a partition whose input is gone cannot be removed: the run fails naming it, the
// partition is not recorded as retracted, and the next run retracts it.
BOOST_AUTO_TEST_CASE(a_failed_removal_is_not_recorded_as_retracted) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 6);
    BOOST_REQUIRE(ws.run().exit_code == 0);
    BOOST_REQUIRE(fs::exists(ws.dir / "out/counts/doc-0003.json"));
    fs::remove(ws.dir / "data/docs/doc-0003.txt");
    const std::string p = ws.pipeline.string();
    const Result r = host_with_failing_io("STEPPAR_TEST_FAIL_UNLINK", "/out/counts/doc-0003.json", {"run", p});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, "could not be removed"), r.err);
    BOOST_TEST(has(r.err, "doc-0003.json': Permission denied"), r.err);
    BOOST_TEST(fs::exists(ws.dir / "out/counts/doc-0003.json"));
    const Result again = ws.run();
    BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
    BOOST_TEST(has(again.err, "count: retracted 1 partition(s)"), again.err);
    BOOST_TEST(!fs::exists(ws.dir / "out/counts/doc-0003.json"));
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// The barrier passes only with every slice's own marker and, for every partition of the plan, a
// ledger record of this run: a slice that never ran, or whose records are gone, is named.
BOOST_AUTO_TEST_CASE(the_barrier_names_a_slice_without_marker_or_without_ledger_records) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 6);
    const std::string p = ws.pipeline.string();
    host_ok({"run-slicer", p, "--node", "count"});
    host_ok({"run-slice", p, "--node", "count", "--slice", "1"});
    Result barrier = host({"check-barrier", p, "--node", "count"});
    BOOST_TEST(barrier.exit_code == 1);
    BOOST_TEST(has(barrier.err, "count-barrier: 1 of 2 slice(s) did not succeed: slice 0: no marker (the slice did not finish)"), barrier.err);

    host_ok({"run-slice", p, "--node", "count", "--slice", "0"});
    // Slice 0's records gone (a disk that lost them): its marker alone vouches for no output.
    for (const auto& e : fs::directory_iterator(ws.dir / ".steppar/units/count/ledger"))
        if (e.path().filename().string().find("-s0.tsv") != std::string::npos) fs::remove(e.path());
    barrier = host({"check-barrier", p, "--node", "count"});
    BOOST_TEST(barrier.exit_code == 1);
    BOOST_TEST(has(barrier.err, "slice 0: 3 partition(s) of its plan have no ledger record of this run"), barrier.err);
    BOOST_REQUIRE(ws.run().exit_code == 0);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);
}

// An unknown option is one line, exit 2, with the close name when there is one.
BOOST_AUTO_TEST_CASE(an_unknown_option_gets_a_did_you_mean) {
    Workspace ws(counting);
    Result r = host({"run", ws.pipeline.string(), "--fial-fast"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err == "steppar-host: error: run: unrecognised option '--fial-fast' (did you mean '--fail-fast'?); see 'steppar-host run --help'\n");
    r = host({"status", ws.pipeline.string(), "--formt=json"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "unrecognised option '--formt' (did you mean '--format'?)"), r.err);
    r = host({"status", ws.pipeline.string(), "--zzzzzz"});
    BOOST_TEST(r.err == "steppar-host: error: status: unrecognised option '--zzzzzz'; see 'steppar-host status --help'\n");
}

// --runner slurm refuses the local runners' options it cannot honour, before anything is
// submitted (exit 2, naming the option and what to do instead).
BOOST_AUTO_TEST_CASE(the_slurm_runner_refuses_options_it_cannot_honour) {
    Workspace ws(counting);
    make_docs(ws.dir / "data/docs", 2);
    const std::string p = ws.pipeline.string();
    Result r = host({"run", p, "--runner", "slurm", "--retries", "2"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "--retries is for the local runners: on Slurm, rerun to run a failed slice again"), r.err);
    r = host({"run", p, "--runner", "slurm", "--launch", "exec"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "--launch is for the local runners"), r.err);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar/slurm"));
}

BOOST_AUTO_TEST_SUITE_END()
