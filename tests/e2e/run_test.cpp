// End-to-end runs through steppar-host: real plugins, real processes, real files.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <sstream>

using namespace e2e;

namespace {

const char* demo_pipeline = R"(plugins:
  builtin: steppar_builtin
catalog:
  docs:    {type: partitioned, path: data/docs, suffix: .txt}
  counts:  {type: partitioned, path: out/counts, suffix: .json}
  total:   {type: file, path: out/total.json}
  digests: {type: partitioned, path: out/digests, suffix: .sha256}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 4}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - multipipeline:
      name: clean_and_hash
      slices: 3
      nodes:
        - {name: hash,  func: builtin.sha256,    inputs: [lower_docs], outputs: [digests]}
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lower_docs]}
)";

std::string test_nodes_plugin() { return "  test: " + fixture("steppar_test_nodes") + "\n"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(runs)

BOOST_AUTO_TEST_CASE(thousand_files_parallel_equals_sequential_equals_coreutils) {
    Workspace par(demo_pipeline), seq(demo_pipeline);
    make_docs(par.dir / "data/docs", 1000);
    make_docs(seq.dir / "data/docs", 1000);

    const Result p = par.run({"--runner", "parallel", "--max-workers", "3"});
    BOOST_REQUIRE_MESSAGE(p.exit_code == 0, p.err);
    const Result s = seq.run({"--runner", "sequential"});
    BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.err);

    const auto outputs = snapshot(par.dir / "out");
    BOOST_TEST(outputs.size() == 1000u + 1000u + 1u);
    BOOST_TEST((outputs == snapshot(seq.dir / "out")), "parallel and sequential outputs differ");

    // Every count equals GNU wc in the C locale, every digest sha256sum of the lowercased file
    // (lowercased by sed's y/A-Z/a-z/ on a copy, like tr A-Z a-z: a handful of processes for the
    // thousand files, not five per file).
    const std::string docs = quote((par.dir / "data/docs").string()), lowered = quote((par.dir / "lowered").string());
    const Result wc = shell("cd " + docs + " && find . -name '*.txt' -exec env LC_ALL=C wc -l -w -c {} +");
    const Result sha = shell("cp -r " + docs + " " + lowered + " && cd " + lowered +
                             " && find . -name '*.txt' -exec env LC_ALL=C sed -i y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/ {} +"
                             " && find . -name '*.txt' -exec sha256sum {} +");
    BOOST_REQUIRE_EQUAL(wc.exit_code, 0);
    BOOST_REQUIRE_EQUAL(sha.exit_code, 0);
    std::map<std::string, std::string> digests;  // "./nested/deeper/doc-0005.txt" -> digest
    std::istringstream sha_lines(sha.out);
    for (std::string digest, file; sha_lines >> digest >> file;) digests[file] = digest;
    BOOST_TEST(digests.size() == 1000u);
    std::istringstream lines(wc.out);
    int checked = 0;
    unsigned long long sum[3] = {0, 0, 0};
    for (std::string l, w, b, file; lines >> l >> w >> b >> file;) {
        if (file == "total") continue;  // wc's sum line after each batch find hands it
        sum[0] += std::stoull(l), sum[1] += std::stoull(w), sum[2] += std::stoull(b);
        const std::string name = file.substr(2, file.size() - 2 - 4);  // strip "./" and ".txt"
        BOOST_TEST(outputs.at("counts/" + name + ".json") ==
                   R"({"lines":)" + l + R"(,"words":)" + w + R"(,"bytes":)" + b + "}\n");
        BOOST_TEST(outputs.at("digests/" + name + ".sha256") == digests.at(file) + "\n");
        ++checked;
    }
    BOOST_TEST(checked == 1000);
    // The total is the sum of the per-file counts (files are counted apart, not concatenated).
    BOOST_TEST(outputs.at("total.json") == R"({"files":1000,"lines":)" + std::to_string(sum[0]) + R"(,"words":)" +
                                               std::to_string(sum[1]) + R"(,"bytes":)" + std::to_string(sum[2]) + "}\n");

    // The plan gives each slice its own partitions; each marker was written by its own process.
    const std::string plan = read_file(par.dir / ".steppar/units/count/slices.json");
    BOOST_TEST(plan.find("\"slice_count\": 4") != std::string::npos);
    BOOST_TEST(plan.find("\"partition_count\": 1000") != std::string::npos);
    std::set<std::string> pids;
    for (int i = 0; i < 4; ++i) {
        const std::string marker = read_file(par.dir / (".steppar/units/count/markers/slice-" + std::to_string(i) + ".json"));
        BOOST_TEST(marker.find("\"status\": \"success\"") != std::string::npos);
        const auto at = marker.find("\"pid\": ");
        pids.insert(marker.substr(at, marker.find(',', at) - at));
    }
    BOOST_TEST(pids.size() == 4u, "each slice should run in its own process");
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(fs::exists(par.dir / (".steppar/units/clean_and_hash/markers/slice-" + std::to_string(i) + ".json")));
    // The multipipeline's intermediate lives under the state folder.
    BOOST_TEST(fs::exists(par.dir / ".steppar/data/lower_docs/doc-0001.p"));
}

BOOST_AUTO_TEST_CASE(wc_matches_gnu_wc_on_arbitrary_bytes) {
    Workspace ws(demo_pipeline);
    // Every byte value, control characters and whitespace runs in many mixes.
    for (int i = 0; i < 40; ++i) {
        std::string bytes;
        unsigned seed = 99u + static_cast<unsigned>(i);
        for (int k = 0; k < 300 + i * 37; ++k) {
            seed = seed * 1664525u + 1013904223u;
            const unsigned r = seed >> 24;
            bytes += static_cast<char>(r % 3 == 0 ? " \t\n\v\f\r"[r % 6] : r);
        }
        write_file(ws.dir / ("data/docs/bin" + std::to_string(i) + ".txt"), bytes);
    }
    const Result r = ws.run({"--runner", "sequential"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    for (int i = 0; i < 40; ++i) {
        const std::string name = "bin" + std::to_string(i);
        const Result wc = shell("LC_ALL=C wc -l -w -c < " + quote((ws.dir / ("data/docs/" + name + ".txt")).string()) +
                                " | awk '{printf \"{\\\"lines\\\":%s,\\\"words\\\":%s,\\\"bytes\\\":%s}\", $1, $2, $3}'");
        BOOST_TEST(read_file(ws.dir / ("out/counts/" + name + ".json")) == wc.out + "\n");
    }
}

BOOST_AUTO_TEST_CASE(more_slices_than_partitions_and_empty_input_succeed) {
    Workspace ws(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  empty:  {type: partitioned, path: empty, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  none:   {type: partitioned, path: out/none, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 8}
  - {name: count_empty, func: builtin.wc, inputs: [empty], outputs: [none], slices: 3}
  - {name: total, func: builtin.wc_total, inputs: [none], outputs: [total]}
)");
    write_file(ws.dir / "docs/a.txt", "one\n");
    write_file(ws.dir / "docs/b.txt", "two words\n");
    fs::create_directories(ws.dir / "empty");
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(snapshot(ws.dir / "out/counts").size() == 2u);
    // Slices with partitions leave a marker; the empty ones had nothing to do. The cut is
    // kedro-partitioned's, ceil(2 * i / 8): partitions in slices 0 and 4.
    for (int i = 0; i < 8; ++i)
        BOOST_TEST(fs::exists(ws.dir / (".steppar/units/count/markers/slice-" + std::to_string(i) + ".json")) == (i == 0 || i == 4));
    BOOST_TEST(r.err.find("count-slice-5: nothing to run") != std::string::npos, r.err);
    BOOST_TEST(fs::is_directory(ws.dir / "out/none"));
    BOOST_TEST(read_file(ws.dir / "out/total.json") == "{\"files\":0,\"lines\":0,\"words\":0,\"bytes\":0}\n");
}

// resources: {cpus: 2} makes a slice count as 2 of --max-workers: with -j 2 the two slices run
// one after the other; without it they overlap.
BOOST_AUTO_TEST_CASE(a_slice_needing_two_cores_counts_as_two_workers) {
    for (const bool two_cores : {true, false}) {
        Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
params: {mode: throw, bad: none, delay_ms: 300, flag: /nonexistent}
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies], slices: 2)" +
                     std::string(two_cores ? ", resources: {cpus: 2}" : "") + "}\n");
        write_file(ws.dir / "docs/a.txt", "a\n");
        write_file(ws.dir / "docs/b.txt", "b\n");
        const Result r = ws.run({"--max-workers", "2"});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        const auto first_done = std::min(r.err.find("copy-slice-0 done"), r.err.find("copy-slice-1 done"));
        const auto last_started = std::max(r.err.find("copy-slice-0 started"), r.err.find("copy-slice-1 started"));
        BOOST_REQUIRE(first_done != std::string::npos);
        BOOST_TEST((last_started > first_done) == two_cores, r.err);
    }
}

// A node written with steppar/io.hpp (map_lines over lazily read lines), run for real.
BOOST_AUTO_TEST_CASE(a_node_written_with_the_io_helpers) {
    Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:     {type: partitioned, path: docs, suffix: .txt}
  numbered: {type: partitioned, path: out/numbered, suffix: .txt}
nodes:
  - {name: number, func: test.numbered, inputs: [docs], outputs: [numbered], slices: 2}
)");
    write_file(ws.dir / "docs/a.txt", "first\r\nsecond\n\nlast");
    write_file(ws.dir / "docs/b.txt", "");
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(ws.dir / "out/numbered/a.txt") == "1: first\n2: second\n3: \n4: last\n");
    BOOST_TEST(read_file(ws.dir / "out/numbered/b.txt") == "");
}

BOOST_AUTO_TEST_CASE(partition_names_with_spaces_unicode_and_deep_folders) {
    Workspace ws(demo_pipeline);
    const std::vector<std::string> names = {"with space", "caf\xc3\xa9 \xe2\x98\x95", "a/b/c/d/e/deep", "x'quote\"s"};
    for (const auto& n : names) write_file(ws.dir / ("data/docs/" + n + ".txt"), "Some Text " + n + "\n");
    write_file(ws.dir / "data/docs/.hidden.txt", "never a partition\n");
    write_file(ws.dir / "data/docs/notes.md", "other suffix\n");
    const Result r = ws.run({"--runner", "parallel"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const auto out = snapshot(ws.dir / "out/counts");
    BOOST_TEST(out.size() == names.size());
    for (const auto& n : names) BOOST_TEST(out.count(n + ".json") == 1u, n);
}

// A legal file name of 250 bytes: its outputs (up to 255 bytes) and their temporaries fit.
BOOST_AUTO_TEST_CASE(a_250_byte_file_name_runs_on_every_run) {
    Workspace ws(demo_pipeline);
    const std::string name = std::string(246, 'n');  // + ".txt": 250 bytes
    write_file(ws.dir / ("data/docs/" + name + ".txt"), "Long Name\n");
    write_file(ws.dir / "data/docs/short.txt", "short\n");
    for (int run = 0; run < 2; ++run) {
        const Result r = ws.run();
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
    BOOST_TEST(read_file(ws.dir / ("out/counts/" + name + ".json")) == "{\"lines\":1,\"words\":2,\"bytes\":10}\n");
    BOOST_TEST(fs::exists(ws.dir / ("out/digests/" + name + ".sha256")));
}

// Data that cannot be taken as it is (a file name that is not UTF-8, folders that loop) stops
// the run before anything runs: one short line naming the file, exit code 2, said once.
BOOST_AUTO_TEST_CASE(bad_input_data_is_one_short_line_and_exit_code_2) {
    Workspace ws(demo_pipeline);
    write_file(ws.dir / "data/docs/good.txt", "fine\n");
    write_file(ws.dir / "data/docs/bad-\xff\xfe.txt", "not UTF-8\n");
    const Result r = ws.run();
    BOOST_TEST(r.exit_code == 2, r.err);
    const std::string message = "is not valid UTF-8; rename it";
    BOOST_TEST(r.err.find(message) != std::string::npos, r.err);
    BOOST_TEST(r.err.find(message) == r.err.rfind(message), "said once: " << r.err);  // two units read docs
    fs::remove(ws.dir / "data/docs/bad-\xff\xfe.txt");

    fs::create_directories(ws.dir / "data/docs/sub");
    fs::create_directory_symlink("..", ws.dir / "data/docs/sub/up");
    const Result loop = ws.run();
    BOOST_TEST(loop.exit_code == 2, loop.err);
    BOOST_TEST(loop.err.find("folders nest more than 256 deep under '" + (ws.dir / "data/docs/sub/up/sub/").string() + "...' (a symbolic link loop?)") !=
                   std::string::npos,
               loop.err);
    std::istringstream lines(loop.err);
    for (std::string line; std::getline(lines, line);) BOOST_TEST(line.size() < 400u, line.size() << " bytes: " << line.substr(0, 120));
}

// A plugin built with another C++ library ABI is refused before anything runs, naming the
// difference: it would pass std::string and exceptions the host cannot read.
BOOST_AUTO_TEST_CASE(a_plugin_built_with_another_cxx_library_abi_is_refused) {
    struct Case {
        const char* plugin;
        const char* difference;  // in the library's name
        const char* size;        // a size that differs too
    };
    for (const Case& c : {Case{"steppar_old_string_abi", "the old std::string ABI (_GLIBCXX_USE_CXX11_ABI=0)", "sizeof(std::string) 8 against 32"},
                          Case{"steppar_debug_containers", "debug containers (_GLIBCXX_DEBUG)", "sizeof(std::vector) "}}) {
        const std::string plugin = c.plugin, difference = c.difference;
        Workspace ws(std::string("plugins: {other: ") + fixture(plugin) + R"(}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
nodes:
  - {name: copy, func: other.identity, inputs: [docs], outputs: [copies]}
)");
        write_file(ws.dir / "data/docs/a.txt", "a\n");
        for (const char* command : {"validate", "run"}) {
            const Result r = host({command, ws.pipeline.string()});
            BOOST_TEST(r.exit_code == 2, command << ": " << r.err);
            BOOST_TEST(r.err.find("was built with libstdc++ with " + difference + " (GCC ") != std::string::npos, r.err);
            BOOST_TEST(r.err.find("this steppar-host with libstdc++ (GCC ") != std::string::npos, r.err);
            BOOST_TEST(r.err.find(c.size) != std::string::npos, r.err);
            BOOST_TEST(r.err.find("rebuild the plugin") != std::string::npos, r.err);
            BOOST_TEST(!fs::exists(ws.dir / "out"), "nothing may run");
        }
    }
}

// The command line's own numbers have the pipeline file's limits.
BOOST_AUTO_TEST_CASE(command_line_limits_match_the_pipeline_files) {
    Workspace ws(demo_pipeline);
    write_file(ws.dir / "data/docs/a.txt", "a\n");
    for (const std::vector<std::string>& bad : {std::vector<std::string>{"--slice-timeout", "inf"}, {"--slice-timeout", "1e300"}, {"--retries", "1000000"}}) {
        const Result r = ws.run(bad);
        BOOST_TEST(r.exit_code == 2, bad[0] << " " << bad[1] << ": " << r.err);
        BOOST_TEST(r.err.find("at most") != std::string::npos, r.err);
    }
    const Result slicer = host({"run-slicer", ws.pipeline.string(), "--node", "count", "--slices", "1000000"});
    BOOST_TEST(slicer.exit_code == 2, slicer.err);
    BOOST_TEST(slicer.err.find("STEPPAR_MAX_SLICES=1000000") != std::string::npos, slicer.err);
    BOOST_TEST(!fs::exists(ws.dir / ".steppar/units/count/slices"), "nothing written");
}

BOOST_AUTO_TEST_CASE(failing_node_names_slice_and_partition_and_keeps_other_outputs) {
    Workspace ws("plugins:\n" + test_nodes_plugin() + R"(  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
params: {bad: p07}
nodes:
  - {name: copy, func: test.fail_on, inputs: [docs, params:bad], outputs: [copies], slices: 4}
  - {name: count, func: builtin.wc, inputs: [copies], outputs: [counts]}
)");
    for (int i = 0; i < 12; ++i) write_file(ws.dir / ("docs/p" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".txt"), "x\n");
    // The first run: slices 0, 1 and 3 complete; slice 2 (p06 p07 p08) stops at p07 and keeps p06.
    // The rerun plans only what is not done (p07, p08): slice 0 gets p07 and fails again, slice 1
    // makes p08.
    for (const char* runner : {"parallel", "sequential"}) {
        const bool first = std::string(runner) == "parallel";
        const Result r = ws.run({"--runner", runner});
        BOOST_TEST(r.exit_code == 1, runner);
        BOOST_TEST(r.err.find("copy-barrier") != std::string::npos, r.err);
        BOOST_TEST(r.err.find(first ? "slice 2 failed on partition 'p07'" : "slice 0 failed on partition 'p07'") != std::string::npos, r.err);
        BOOST_TEST(r.err.find("refusing partition p07") != std::string::npos, r.err);
        if (!first) BOOST_TEST(r.err.find("copy: 2 new, 0 changed, 10 up to date") != std::string::npos, r.err);
        const auto copies = snapshot(ws.dir / "out/copies");
        BOOST_TEST(copies.size() == (first ? 10u : 11u));
        BOOST_TEST(copies.count("p06.txt") == 1u);
        BOOST_TEST(copies.count("p07.txt") == 0u);
        BOOST_TEST(copies.count("p08.txt") == (first ? 0u : 1u));
        BOOST_TEST(!fs::exists(ws.dir / "out/counts"), "the downstream node must not run");
        const std::string marker = read_file(ws.dir / (first ? ".steppar/units/copy/markers/slice-2.json" : ".steppar/units/copy/markers/slice-0.json"));
        BOOST_TEST(marker.find("\"status\": \"failed\"") != std::string::npos);
        BOOST_TEST(marker.find("\"partition\": \"p07\"") != std::string::npos);
        // No temporary file is left anywhere.
        BOOST_TEST(shell("find " + quote(ws.dir.path().string()) + " -name '*steppar-tmp*' | wc -l").out == "0\n");
    }
}

BOOST_AUTO_TEST_CASE(crashing_slice_is_reported_with_its_signal) {
    for (const char* launch : {"fork", "exec"}) {
        Workspace ws("plugins:\n" + test_nodes_plugin() + R"(catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
params: {bad: b}
nodes:
  - {name: copy, func: test.crash, inputs: [docs, params:bad], outputs: [copies], slices: 2}
)");
        for (const char* n : {"a", "b", "c", "d"}) write_file(ws.dir / (std::string("docs/") + n + ".txt"), n);
        const Result r = ws.run({"--runner", "parallel", "--launch", launch});
        BOOST_TEST(r.exit_code == 1, launch);
        BOOST_TEST(r.err.find("copy-slice-0 crashed: killed by SIGSEGV on partition 'b'") != std::string::npos, r.err);
        BOOST_TEST(r.err.find("slice 0: no marker") != std::string::npos, r.err);
        BOOST_TEST(fs::exists(ws.dir / "out/copies/c.txt"));
    }
}

// The fork server (default) and exec'ing steppar-host per step are two ways to start the same
// step processes: same outputs, one process per slice either way.
BOOST_AUTO_TEST_CASE(fork_server_and_exec_launch_give_the_same_outputs) {
    Workspace forked(demo_pipeline), execd(demo_pipeline);
    make_docs(forked.dir / "data/docs", 200);
    make_docs(execd.dir / "data/docs", 200);
    const Result f = forked.run({"--runner", "parallel", "-j", "2"});
    BOOST_REQUIRE_MESSAGE(f.exit_code == 0, f.err);
    const Result e = execd.run({"--runner", "parallel", "-j", "2", "--launch", "exec"});
    BOOST_REQUIRE_MESSAGE(e.exit_code == 0, e.err);
    BOOST_TEST((snapshot(forked.dir / "out") == snapshot(execd.dir / "out")), "fork and exec outputs differ");
    std::set<std::string> pids;
    for (int i = 0; i < 4; ++i) {
        const std::string marker = read_file(forked.dir / (".steppar/units/count/markers/slice-" + std::to_string(i) + ".json"));
        const auto at = marker.find("\"pid\": ");
        pids.insert(marker.substr(at, marker.find(',', at) - at));
    }
    BOOST_TEST(pids.size() == 4u, "each forked slice should be its own process");
    const Result bad = execd.run({"--launch", "spawn"});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("unknown --launch 'spawn'") != std::string::npos, bad.err);
}

// check-barrier --wait returns as soon as the last marker lands (inotify), or at the next scan
// when inotify is off; a timeout names the slices that never came.
BOOST_AUTO_TEST_CASE(check_barrier_waits_for_the_last_marker) {
    Workspace ws(demo_pipeline);
    make_docs(ws.dir / "data/docs", 40);
    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    const std::string pipeline = ws.pipeline.string();
    const fs::path markers = ws.dir / ".steppar/units/count/markers";
    for (const std::vector<std::string>& mode : {std::vector<std::string>{}, {"--no-inotify", "--scan-interval", "0.2"}}) {
        fs::remove(markers / "slice-1.json");
        fs::remove(markers / "slice-3.json");
        std::vector<std::string> args = {"check-barrier", pipeline, "--node", "count", "--wait", "--timeout", "30"};
        args.insert(args.end(), mode.begin(), mode.end());
        Background barrier(args);
        BOOST_TEST(barrier.wait(0.5).exit_code == -1, "the barrier must wait for slices 1 and 3");
        BOOST_REQUIRE_EQUAL(host({"run-slice", pipeline, "--node", "count", "--slice", "1", "-q"}).exit_code, 0);
        BOOST_TEST(barrier.wait(0.5).exit_code == -1, "the barrier must still wait for slice 3");
        BOOST_REQUIRE_EQUAL(host({"run-slice", pipeline, "--node", "count", "--slice", "3", "-q"}).exit_code, 0);
        const Result done = barrier.wait(2);
        BOOST_TEST(done.exit_code == 0, done.err);
        BOOST_TEST(done.err.find("count-barrier: all 4 slice(s) with work done") != std::string::npos, done.err);
    }
    fs::remove(markers / "slice-2.json");
    const Result late = host({"check-barrier", pipeline, "--node", "count", "--wait", "--timeout", "0.3"});
    BOOST_TEST(late.exit_code == 1);
    BOOST_TEST(late.err.find("1 of 4 slice(s) left no marker (2)") != std::string::npos, late.err);
}

// A damaged or missing part of the plan fails only its slice, and the next run re-slices.
BOOST_AUTO_TEST_CASE(a_damaged_plan_part_is_repaired_by_the_next_run) {
    Workspace ws(demo_pipeline);
    make_docs(ws.dir / "data/docs", 20);
    BOOST_REQUIRE_EQUAL(ws.run({"-q"}).exit_code, 0);
    const auto before = snapshot(ws.dir / "out");
    write_file(ws.dir / ".steppar/units/count/slices/slice-0.json", "garbage");
    fs::remove(ws.dir / ".steppar/units/count/markers/slice-0.json");
    fs::remove(ws.dir / ".steppar/units/count/slices/slice-2.json");
    const Result repaired = ws.run();
    BOOST_TEST(repaired.exit_code == 0, repaired.err);
    // Every run writes a new plan of what must run: here nothing.
    BOOST_TEST(repaired.err.find("count-slicer: nothing to run\n") != std::string::npos, repaired.err);
    BOOST_TEST((snapshot(ws.dir / "out") == before));
    BOOST_TEST(read_file(ws.dir / ".steppar/units/count/slices/slice-0.json").find("\"partitions\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(zipped_inputs_several_outputs_params_and_file_inputs) {
    Workspace ws("plugins:\n" + test_nodes_plugin() + R"(catalog:
  left:   {type: partitioned, path: left, suffix: .txt}
  right:  {type: partitioned, path: right, suffix: .dat}
  lookup: {type: file, path: lookup.csv}
  joined: {type: partitioned, path: out/joined, suffix: .txt}
  heads:  {type: partitioned, path: out/heads, suffix: .txt}
  tails:  {type: partitioned, path: out/tails, suffix: .txt}
  about:  {type: partitioned, path: out/about, suffix: .txt}
params:
  factor: 3
  label: "007"
  ratio: 0.5
  enabled: true
  nested: {a: [1, 2]}
nodes:
  - {name: join, func: test.concat, inputs: [left, right], outputs: [joined], slices: 2}
  - {name: split, func: test.split, inputs: [joined], outputs: [heads, tails], slices: 3}
  - {name: describe, func: test.describe, inputs: [left, lookup, params:factor, params:label, params:ratio, params:enabled, params:nested], outputs: [about], slices: 1}
)");
    for (const char* n : {"a", "b", "c", "only_left"}) write_file(ws.dir / (std::string("left/") + n + ".txt"), std::string("L-") + n + "\n");
    for (const char* n : {"a", "b", "c", "only_right"}) write_file(ws.dir / (std::string("right/") + n + ".dat"), std::string("R-") + n + "\n");
    write_file(ws.dir / "lookup.csv", "k,v\n");
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("1 partition(s) of 'left' left out") != std::string::npos, r.err);
    const auto joined = snapshot(ws.dir / "out/joined");
    BOOST_TEST(joined.size() == 3u);
    BOOST_TEST(joined.at("b.txt") == "L-b\nR-b\n");
    BOOST_TEST(read_file(ws.dir / "out/heads/c.txt") == "L-c\n");
    BOOST_TEST(read_file(ws.dir / "out/tails/c.txt") == "R-c\n");
    BOOST_TEST(read_file(ws.dir / "out/about/only_left.txt") ==
               "partition=only_left\nfactor=3\nlabel=007\nratio=0.5\nenabled=1\nnested={\"a\":[1,2]}\nlookup=k,v\n");
}

BOOST_AUTO_TEST_CASE(whole_node_writes_partitions_that_a_json_pipeline_slices) {
    Workspace ws("{\"plugins\": {\"test\": \"" + fixture("steppar_test_nodes") + R"(", "builtin": "steppar_builtin"},
 "catalog": {"names": {"type": "file", "path": "names.txt"},
             "generated": {"type": "partitioned", "path": "gen", "suffix": ".txt"},
             "counts": {"type": "partitioned", "path": "out/counts", "suffix": ".json"}},
 "nodes": [
   {"name": "fan", "func": "test.fan_out", "inputs": ["names"], "outputs": ["generated"]},
   {"name": "count", "func": "builtin.wc", "inputs": ["generated"], "outputs": ["counts"], "slices": "auto"}
 ]})", "pipeline.json");
    write_file(ws.dir / "names.txt", "one\ntwo\nsub/three\n");
    const Result graph = host({"graph", ws.pipeline.string()});
    BOOST_REQUIRE_MESSAGE(graph.exit_code == 0, graph.err);
    BOOST_TEST(graph.out.find("slicer\tcount-slicer\t<- fan") != std::string::npos, graph.out);
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(ws.dir / "out/counts/sub/three.json") == "{\"lines\":1,\"words\":1,\"bytes\":10}\n");
}

BOOST_AUTO_TEST_CASE(a_slice_can_be_run_by_hand_from_its_plan) {
    Workspace ws(demo_pipeline);
    make_docs(ws.dir / "data/docs", 40);
    BOOST_REQUIRE_EQUAL(ws.run().exit_code, 0);
    const auto before = snapshot(ws.dir / "out");
    const fs::path marker = ws.dir / ".steppar/units/count/markers/slice-1.json";
    const std::string old_marker = read_file(marker);
    fs::remove_all(ws.dir / "out/counts");
    fs::remove(marker);
    const Result r = host({"run-slice", ws.pipeline.string(), "--node", "count", "--slice", "1"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(fs::exists(marker));
    const auto again = snapshot(ws.dir / "out/counts");
    BOOST_TEST(again.size() == 10u);  // slice 1 of 4 over 40 partitions
    for (const auto& [name, content] : again) BOOST_TEST(before.at("counts/" + name) == content);
    const Result bad = host({"run-slice", ws.pipeline.string(), "--node", "count", "--slice", "4"});
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("there is no slice 4") != std::string::npos, bad.err);
}

BOOST_AUTO_TEST_CASE(state_dir_option_moves_plans_and_markers) {
    Workspace ws(demo_pipeline);
    make_docs(ws.dir / "data/docs", 5);
    const Result r = ws.run({"--state-dir", (ws.dir / "elsewhere").string(), "--runner", "sequential"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(fs::exists(ws.dir / "elsewhere/units/count/slices.json"));
    BOOST_TEST(!fs::exists(ws.dir / ".steppar"));
}

// The judge (judge_run): when the host under test is another build's (the sanitize run), the
// clean runs tests compare with are this build's, the plugins pointed at its twins (a fixture
// path, a copy beside the pipeline file); a plugin it has no twin of (edited by the test) keeps
// the host under test as the judge. Both write the same bytes.
BOOST_AUTO_TEST_CASE(the_judge_is_this_build_and_its_plugins_unless_a_plugin_has_no_twin) {
    const std::string spec = "plugins:\n  test: " + fixture("steppar_test_nodes") + "\n  builtin: ./builtin.so\n" + R"(catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  pairs:  {type: partitioned, path: out/pairs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
nodes:
  - {name: pair,  func: test.concat, inputs: [docs, docs], outputs: [pairs], slices: 2}
  - {name: count, func: builtin.wc, inputs: [pairs], outputs: [counts], slices: 2}
)";
    const fs::path builtin = fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so";
    const bool other_build = fs::path(host_program()) != fs::path(judge_host());
    Workspace ws(spec);
    fs::copy_file(builtin, ws.dir / "builtin.so");
    make_docs(ws.dir / "data/docs", 12);
    const Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::string differences = differences_from_clean_run(ws);
    BOOST_TEST(differences.empty(), differences);

    Workspace judged(spec);
    fs::copy_file(builtin, judged.dir / "builtin.so");
    BOOST_TEST(judge_program(judged.pipeline) == (other_build ? judge_host() : host_program()));
    BOOST_TEST((read_file(judged.pipeline).find(fixture("steppar_test_nodes")) == std::string::npos) == other_build);
    BOOST_TEST((read_file(judged.dir / "builtin.so") == read_file(builtin)) == !other_build);

    Workspace edited(spec);
    write_file(edited.dir / "builtin.so", read_file(builtin) + "edited");
    BOOST_TEST(judge_program(edited.pipeline) == host_program());
    BOOST_TEST(read_file(edited.pipeline) == read_file(ws.pipeline));
}

BOOST_AUTO_TEST_SUITE_END()
