// Fault injection: for each fault, run, inject it for real (exceptions, signals, hangs, killed
// hosts, concurrent runs, stale files), rerun, and compare the final outputs byte for byte with
// one clean sequential run. After every step: no process left, no temporary file left.
#include "harness.hpp"
#include "preconditions.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <random>
#include <sys/stat.h>
#include <csignal>
#include <thread>

using namespace e2e;

namespace {

constexpr int partitions = 20;

std::string name_of(int i) { return std::string("p") + (i < 10 ? "0" : "") + std::to_string(i); }

// copy (fault, 4 slices) -> counts (wc, 2 slices) -> total (whole)
struct FaultRun {
    TempDir dir;
    fs::path pipeline = dir / "pipeline.yml";
    fs::path flag = dir / "flag";

    explicit FaultRun(const std::string& mode = "throw", const std::string& bad = "p07", int delay_ms = 0,
                      const std::string& copy_keys = "") {
        write_file(pipeline, "plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
params:
  mode: )" + mode + "\n  bad: " + bad + "\n  delay_ms: " + std::to_string(delay_ms) + "\n  flag: " + flag.string() + R"(
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies], slices: 4)" +
                                 copy_keys + R"(}
  - {name: count, func: builtin.wc, inputs: [copies], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)");
        for (int i = 0; i < partitions; ++i) write_file(dir / ("docs/" + name_of(i) + ".txt"), std::string(static_cast<std::size_t>(i + 1), 'a' + i % 26) + " word\n");
    }
    void arm() const { write_file(flag, "armed\n"); }
    void disarm() const { fs::remove(flag); }
    Result run(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"run", pipeline.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return host(args);
    }
    // The reference: a clean sequential run by the judge (judge_run).
    Result clean_run() const { return judge_run(pipeline, {"--runner", "sequential", "-q"}); }
    std::vector<std::string> args(std::vector<std::string> extra = {}) const {
        std::vector<std::string> a = {"run", pipeline.string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    std::map<std::string, std::string> outputs() const { return snapshot(dir / "out"); }
    // Nothing a run may leave behind is there.
    void check_nothing_left() const {
        for (int waited = 0; waited < 100 && !processes_matching(dir.path().string()).empty(); ++waited)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // children dying of PDEATHSIG
        const auto left = processes_matching(dir.path().string());
        BOOST_TEST(left.empty(), "processes left: " << (left.empty() ? "" : left.front()));
        const auto temps = temporaries_under(dir.path());
        BOOST_TEST(temps.empty(), "temporary files left: " << (temps.empty() ? "" : temps.front()));
    }
};

// The outputs of one clean sequential run (same inputs, fault never armed).
const std::map<std::string, std::string>& clean_outputs() {
    static const auto outputs = [] {
        FaultRun clean;
        const Result r = clean.clean_run();
        if (r.exit_code != 0) throw std::runtime_error("clean run failed: " + r.err);
        return clean.outputs();
    }();
    return outputs;
}

int count(const std::string& text, const std::string& piece) {
    int n = 0;
    for (auto at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(exception_fails_one_slice_others_finish_rerun_resumes) {
    BOOST_REQUIRE_EQUAL(clean_outputs().size(), 2u * partitions + 1u);
    FaultRun f("throw", "p07");
    f.arm();
    const Result failed = f.run({"--runner", "parallel"});
    BOOST_TEST(failed.exit_code == 1);
    BOOST_TEST(failed.err.find("copy-barrier: 1 of 4 slice(s) did not succeed: slice 1 failed on partition 'p07'") != std::string::npos, failed.err);
    BOOST_TEST(failed.err.find("injected failure on p07") != std::string::npos, failed.err);
    for (int s : {0, 2, 3}) BOOST_TEST(read_file(f.dir / (".steppar/units/copy/markers/slice-" + std::to_string(s) + ".json")).find("success") != std::string::npos);
    f.check_nothing_left();

    f.disarm();
    const Result resumed = f.run({"--runner", "parallel"});
    BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
    // Only the partitions slice 1 had not finished (p07, p08, p09) run again.
    BOOST_TEST(resumed.err.find("copy: 3 new, 0 changed, 17 up to date") != std::string::npos, resumed.err);
    BOOST_TEST(resumed.err.find("count: 20 new, 0 changed, 0 up to date") != std::string::npos, resumed.err);  // never ran
    BOOST_TEST((f.outputs() == clean_outputs()));
    f.check_nothing_left();

    const Result again = f.run();
    BOOST_TEST(again.exit_code == 0);
    BOOST_TEST(again.err.find("(0 ran, 7 up to date)") != std::string::npos, again.err);  // 4 + 2 slices + total
}

BOOST_AUTO_TEST_CASE(fail_fast_stops_running_slices_at_the_first_failure) {
    FaultRun f("throw", "p00", 400);  // a slice needs 5 x 0.4 s when nobody stops it
    f.arm();
    const auto started = std::chrono::steady_clock::now();
    const Result r = f.run({"--fail-fast", "--max-workers", "4"});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("copy-slice-0 failed on partition 'p00'") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("--fail-fast: stopping 3 running step(s)") != std::string::npos, r.err);
    BOOST_TEST(seconds < 1.9, "slices were not stopped: " << seconds << " s");
    BOOST_TEST(!fs::exists(f.dir / "out/counts"));
    f.check_nothing_left();
    f.disarm();
    BOOST_REQUIRE_EQUAL(f.run().exit_code, 0);
    BOOST_TEST((f.outputs() == clean_outputs()));
}

BOOST_AUTO_TEST_CASE(crashes_are_reported_with_signal_and_partition) {
    const std::vector<std::pair<std::string, std::string>> crashes = {
        {"segv", "SIGSEGV"}, {"abort", "SIGABRT"}, {"kill9", "SIGKILL"}};
    for (const auto& [mode, signal] : crashes) {
        FaultRun f(mode, "p12");
        f.arm();
        for (const char* runner : {"parallel", "sequential"}) {
            // The first run cuts all 20 partitions (p12 in slice 2); the second only the three
            // slice 2 had not finished (p12 first, in slice 0): p10 and p11 are not redone.
            const bool first = std::string(runner) == "parallel";
            const Result r = f.run({"--runner", runner});
            BOOST_TEST(r.exit_code == 1, mode);
            BOOST_TEST(r.err.find(std::string(first ? "copy-slice-2" : "copy-slice-0") + " crashed: killed by " + signal + " on partition 'p12'") != std::string::npos, r.err);
            BOOST_TEST(r.err.find(first ? "slice 2: no marker" : "slice 0: no marker") != std::string::npos, r.err);
            if (!first) BOOST_TEST(r.err.find("copy: 3 new, 0 changed, 17 up to date") != std::string::npos, r.err);
            f.check_nothing_left();
        }
        f.disarm();
        const Result resumed = f.run();
        BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
        BOOST_TEST((f.outputs() == clean_outputs()), mode);
    }
}

BOOST_AUTO_TEST_CASE(timeout_kills_the_whole_process_group) {
    FaultRun f("hang", "p03", 0, ", timeout: 1");
    f.arm();
    const auto started = std::chrono::steady_clock::now();
    const Result r = f.run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("copy-slice-0 timed out after 1 s on partition 'p03' (killed with its process group)") != std::string::npos, r.err);
    BOOST_TEST(seconds < 10.0);
    BOOST_TEST(processes_matching("sleep 86399").empty(), "the slice's own child survived the timeout");
    f.check_nothing_left();
    BOOST_TEST(!fs::exists(f.dir / "out/copies/p03.txt"), "a partial output appeared");
    // The command-line timeout applies too.
    FaultRun g("hang", "p03");
    g.arm();
    const Result cli = g.run({"--slice-timeout", "0.5", "--runner", "sequential"});
    BOOST_TEST(cli.exit_code == 1);
    BOOST_TEST(cli.err.find("timed out after 0.5 s") != std::string::npos, cli.err);
    g.check_nothing_left();
    g.disarm();
    BOOST_REQUIRE_EQUAL(g.run().exit_code, 0);
    BOOST_TEST((g.outputs() == clean_outputs()));
}

BOOST_AUTO_TEST_CASE(retries_rerun_only_the_failed_slice) {
    FaultRun f("once", "p16", 0, ", retries: 2");
    f.arm();
    const Result r = f.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("copy-slice-3 failed (copy-slice-3 failed on partition 'p16': node 'copy': transient failure on p16); retrying, attempt 2 of 3") != std::string::npos, r.err);
    BOOST_TEST(count(r.err, "retrying") == 1);
    BOOST_TEST((f.outputs() == clean_outputs()));
    // Without retries the same transient failure fails the run; --retries on the command line.
    FaultRun g("once", "p16");
    g.arm();
    BOOST_TEST(g.run().exit_code == 1);
    g.arm();
    const Result cli = g.run({"--retries", "1"});
    BOOST_TEST(cli.exit_code == 0, cli.err);
    BOOST_TEST((g.outputs() == clean_outputs()));
}

BOOST_AUTO_TEST_CASE(changed_input_reruns_its_partition_force_reruns_all_new_partition_runs_alone) {
    FaultRun f;
    BOOST_REQUIRE_EQUAL(f.run().exit_code, 0);
    write_file(f.dir / "docs/p02.txt", "changed content\n");
    const Result changed = f.run();
    BOOST_REQUIRE_EQUAL(changed.exit_code, 0);
    BOOST_TEST(changed.err.find("copy: 0 new, 1 changed, 19 up to date") != std::string::npos, changed.err);
    BOOST_TEST(changed.err.find("count: 0 new, 1 changed, 19 up to date") != std::string::npos, changed.err);
    BOOST_TEST(read_file(f.dir / "out/copies/p02.txt") == "changed content\n");
    BOOST_TEST(read_file(f.dir / "out/counts/p02.json") == "{\"lines\":1,\"words\":2,\"bytes\":16}\n");

    const Result forced = f.run({"--force"});
    BOOST_TEST(forced.exit_code == 0);
    BOOST_TEST(forced.err.find("copy: 0 new, 20 changed, 0 up to date") != std::string::npos, forced.err);
    BOOST_TEST(count(forced.err, "nothing to run") == 0, forced.err);

    write_file(f.dir / "docs/p20.txt", "new partition\n");
    const Result added = f.run();
    BOOST_REQUIRE_EQUAL(added.exit_code, 0);
    BOOST_TEST(added.err.find("copy: 1 new, 0 changed, 20 up to date") != std::string::npos, added.err);
    BOOST_TEST(added.err.find("copy-slicer: 1 partition(s) of docs to run in 4 slices (0..1 each)\n") != std::string::npos, added.err);
    BOOST_TEST(read_file(f.dir / "out/total.json").find("\"files\":21") != std::string::npos);
}

// --only-missing adopts outputs made without a ledger (after `clean`, or by hand): partitions
// whose outputs exist and are newer than their inputs are recorded without running.
BOOST_AUTO_TEST_CASE(only_missing_adopts_existing_outputs_and_makes_just_the_missing_one) {
    FaultRun f;
    BOOST_REQUIRE_EQUAL(f.run().exit_code, 0);
    BOOST_REQUIRE_EQUAL(host({"clean", f.pipeline.string()}).exit_code, 0);
    const auto inode = fs::status(f.dir / "out/copies/p01.txt");
    struct stat before {};
    BOOST_REQUIRE(::stat((f.dir / "out/copies/p01.txt").c_str(), &before) == 0);
    fs::remove(f.dir / "out/copies/p00.txt");
    const Result r = f.run({"--only-missing"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("copy: 1 new, 0 changed, 0 up to date, 19 adopted") != std::string::npos, r.err);
    struct stat after {};
    BOOST_REQUIRE(::stat((f.dir / "out/copies/p01.txt").c_str(), &after) == 0);
    BOOST_TEST((after.st_ino == before.st_ino && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec), "an adopted partition was rewritten");
    BOOST_TEST((f.outputs() == clean_outputs()));
    const Result again = f.run();
    BOOST_TEST(again.err.find("copy: 0 new, 0 changed, 20 up to date") != std::string::npos, again.err);

    // After another clean, an input changed since its output was made, and the output's mtime
    // set into the future (touch -d tomorrow, a clock running ahead): make's rule would adopt the
    // stale output; it is made again, and said so.
    BOOST_REQUIRE_EQUAL(host({"clean", f.pipeline.string()}).exit_code, 0);
    write_file(f.dir / "docs/p02.txt", "changed after the output was made\n");
    set_mtime(f.dir / "out/copies/p02.txt", static_cast<long long>(::time(nullptr)) + 86400);
    const Result future = f.run({"--only-missing"});
    BOOST_REQUIRE_MESSAGE(future.exit_code == 0, future.err);
    BOOST_TEST(has(future.err, "copy: 1 new, 0 changed, 0 up to date, 19 adopted"), future.err);
    BOOST_TEST(has(future.err, "copy: 1 partition(s) not adopted (--only-missing): an output's modification time lies in the future"), future.err);
    BOOST_TEST(read_file(f.dir / "out/copies/p02.txt") == "changed after the output was made\n");
    BOOST_TEST(read_file(f.dir / "out/counts/p02.json") == "{\"lines\":1,\"words\":6,\"bytes\":34}\n");
}

BOOST_AUTO_TEST_CASE(sigint_and_sigterm_stop_every_child_and_the_next_run_resumes) {
    for (const int sig : {SIGINT, SIGTERM}) {
        FaultRun f("throw", "none", 100);
        Background run(f.args({"--max-workers", "2"}));
        BOOST_REQUIRE(wait_for_file(f.dir / "out/copies/p01.txt", 20));
        run.signal(sig);
        const Result r = run.wait(20);
        BOOST_TEST(r.exit_code == 128 + sig, r.err);
        BOOST_TEST(r.err.find("interrupted by SIG") != std::string::npos, r.err);
        BOOST_TEST(r.err.find("rerun the same command to resume") != std::string::npos, r.err);
        f.check_nothing_left();
        const Result resumed = f.run();
        BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
        BOOST_TEST((f.outputs() == clean_outputs()));
        f.check_nothing_left();
    }
}

BOOST_AUTO_TEST_CASE(host_killed_with_sigkill_leaves_nothing_a_rerun_cannot_recover) {
    FaultRun f("throw", "none", 100);
    Background run(f.args({"--max-workers", "2"}));
    BOOST_REQUIRE(wait_for_file(f.dir / "out/copies/p01.txt", 20));
    run.signal(SIGKILL);
    run.wait(10);
    f.check_nothing_left();  // children die with their host (PDEATHSIG), and clean up
    const Result resumed = f.run();
    BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
    BOOST_TEST((f.outputs() == clean_outputs()));
}

// kill -9 of the host at 20 moments spread over a whole run (slicing, slices, barriers, the
// whole node, the ledger's fold), while the inputs change between runs: after each, a rerun
// leaves no process and no temporary file, and its outputs equal a clean run of the same inputs.
BOOST_AUTO_TEST_CASE(host_killed_at_twenty_random_moments_each_rerun_equals_a_clean_run) {
    FaultRun f("throw", "none", 4);
    const auto started = std::chrono::steady_clock::now();
    BOOST_REQUIRE_EQUAL(f.run().exit_code, 0);
    const double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::mt19937 random(20261129);  // fixed: a failure can be replayed
    for (int round = 0; round < 20; ++round) {
        // A change for the run to work on: a new partition, an edited one, or one deleted.
        const std::string name = name_of(random() % 26);
        const fs::path doc = f.dir / ("docs/" + name + ".txt");
        if (round % 3 == 2 && fs::exists(doc)) fs::remove(doc);
        else write_file(doc, "round " + std::to_string(round) + " of " + name + "\n");
        const bool force = round % 5 == 4;  // sometimes everything runs, so the kill hits slices
        Background run(f.args(force ? std::vector<std::string>{"--force"} : std::vector<std::string>{}));
        const double at = std::uniform_real_distribution<double>(0, full * (force ? 1.0 : 0.4))(random);
        std::this_thread::sleep_for(std::chrono::duration<double>(at));
        run.signal(SIGKILL);
        run.wait(10);
        const Result resumed = f.run();
        BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, "round " << round << ": " << resumed.err);
        f.check_nothing_left();

        FaultRun clean;
        fs::remove_all(clean.dir / "docs");
        fs::copy(f.dir / "docs", clean.dir / "docs", fs::copy_options::recursive);
        BOOST_REQUIRE_EQUAL(clean.clean_run().exit_code, 0);
        const auto got = f.outputs(), want = clean.outputs();
        BOOST_TEST((got == want), "round " << round << " (killed after " << at << " s)");
        for (const auto& [path, content] : want)
            if (!got.count(path) || got.at(path) != content) BOOST_TEST_MESSAGE("differs: " << path);
        for (const auto& [path, content] : got)
            if (!want.count(path)) BOOST_TEST_MESSAGE("extra: " << path);
    }
}

BOOST_AUTO_TEST_CASE(second_run_of_the_same_pipeline_is_refused_while_the_first_runs) {
    FaultRun f("throw", "none", 60);
    Background first(f.args());
    BOOST_REQUIRE(wait_for_file(f.dir / "out/copies/p00.txt", 20));
    const Result second = f.run();
    BOOST_TEST(second.exit_code == 2);
    BOOST_TEST(second.err.find("already running (pid " + std::to_string(first.pid()) + ",") != std::string::npos, second.err);
    BOOST_TEST(first.wait(60).exit_code == 0);
    BOOST_TEST((f.outputs() == clean_outputs()));
    // A lock file left by a dead run (no flock held) is taken over.
    write_file(f.dir / ".steppar/lock", "999999\n");
    BOOST_TEST(f.run().exit_code == 0);
}

// The lock holds whatever happens to the state folder: removed during a run, or cleaned.
BOOST_AUTO_TEST_CASE(the_run_lock_survives_removing_the_state_folder_and_a_racing_clean) {
    // Slices of 5 x 0.3 s: the run outlives the removal of its state by more than a second, long
    // enough for two more steppar-host processes to meet its lock even under the sanitizers on a
    // busy machine (with 0.06 s it died first, and `clean` then rightly went ahead).
    FaultRun f("throw", "none", 300);
    Background first(f.args());
    BOOST_REQUIRE(wait_for_file(f.dir / "out/copies/p00.txt", 20));
    fs::remove_all(f.dir / ".steppar");
    const Result second = f.run();
    BOOST_TEST(second.exit_code == 2, second.err);
    BOOST_TEST(second.err.find("already running (pid " + std::to_string(first.pid()) + ",") != std::string::npos, second.err);
    const Result clean = host({"clean", f.pipeline.string()});
    BOOST_TEST(clean.exit_code == 2, clean.err);
    BOOST_TEST(clean.err.find("already running") != std::string::npos, clean.err);
    first.wait(60);  // it may fail: its state was taken from under it
    f.check_nothing_left();
    const Result rerun = f.run();
    BOOST_TEST(rerun.exit_code == 0, rerun.err);
    BOOST_TEST((f.outputs() == clean_outputs()));
}

// Stopping the host's process group (Ctrl-Z, SIGSTOP) and continuing it loses nothing.
BOOST_AUTO_TEST_CASE(sigstop_and_sigcont_of_the_hosts_group_change_nothing) {
    FaultRun f("throw", "none", 30);
    Background run(f.args());
    BOOST_REQUIRE(wait_for_file(f.dir / "out/copies/p00.txt", 20));
    ::kill(-run.pid(), SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(-run.pid(), SIGCONT);
    const Result r = run.wait(60);
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST((f.outputs() == clean_outputs()));
    f.check_nothing_left();
}

// A node that prints 100 MB: its output flows through, the run is not slowed to a crawl or
// blown up in memory, and the outputs are right.
BOOST_AUTO_TEST_CASE(a_node_printing_100_mb_to_stdout) {
    FaultRun f("flood", "p03");
    f.arm();
    const auto started = std::chrono::steady_clock::now();
    const Result r = shell(quote(host_program()) + " run " + quote(f.pipeline.string()) + " --log-format json 2>" +
                           quote((f.dir / "log.json").string()) + "; echo $?");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    BOOST_TEST(r.out == "0\n", r.out);
    BOOST_TEST(seconds < 60, seconds);
    BOOST_TEST(fs::file_size(f.dir / "log.json") > 100u * 1024 * 1024, "every line arrives as an output event");
    fs::remove(f.dir / "log.json");
    BOOST_TEST((f.outputs() == clean_outputs()));
}

// A full disk, under the outputs or under the state folder: the run fails naming the reason,
// leaves no half-written file, and a rerun with space makes exactly what a clean run makes.
BOOST_AUTO_TEST_CASE(no_space_left_on_the_output_or_the_state_folder, *boost::unit_test::precondition(needs("mount", /*root=*/true))) {
    for (const char* where : {"out", "state"}) {
        FaultRun f;
        for (int i = 0; i < partitions; ++i) write_file(f.dir / ("docs/" + name_of(i) + ".txt"), std::string(64 * 1024, 'a' + i % 26) + "\n");
        const fs::path small = f.dir / (std::string(where) == "out" ? "out" : "state");
        fs::create_directories(small);
        BOOST_REQUIRE_EQUAL(shell("mount -t tmpfs -o size=" + std::string(std::string(where) == "out" ? "512k" : "16k") + " tmpfs " + quote(small.string())).exit_code, 0);
        std::vector<std::string> extra = {"--runner", "sequential"};
        if (std::string(where) == "state") extra.insert(extra.end(), {"--state-dir", small.string()});
        const Result full = f.run(extra);
        BOOST_TEST(full.exit_code != 0, where);
        BOOST_TEST(full.err.find("No space left on device") != std::string::npos, full.err);
        BOOST_TEST(temporaries_under(f.dir.path()).empty(), where << ": temporary files left");
        // Space again: the same command (and state folder) finishes the work.
        const std::string saved = (f.dir / "saved").string();
        shell("cp -a " + quote(small.string()) + " " + quote(saved) + " && umount " + quote(small.string()) + " && rmdir " +
              quote(small.string()) + " && mv " + quote(saved) + " " + quote(small.string()));
        const Result rerun = f.run(extra);
        BOOST_TEST(rerun.exit_code == 0, where << ": " << rerun.err);
        FaultRun clean;
        for (int i = 0; i < partitions; ++i) write_file(clean.dir / ("docs/" + name_of(i) + ".txt"), std::string(64 * 1024, 'a' + i % 26) + "\n");
        BOOST_REQUIRE_EQUAL(clean.clean_run().exit_code, 0);
        BOOST_TEST((f.outputs() == clean.outputs()), where);
        f.check_nothing_left();
    }
}

// Temporaries no writer will finish go; what another machine may still be writing stays, and
// nothing is ever read from either. An earlier release's names carry no host, so only their age
// (here two days) tells; another host's fresh one is its writer's business.
BOOST_AUTO_TEST_CASE(temporaries_of_killed_writers_are_removed_and_never_read) {
    FaultRun f;
    const fs::path old_partition = f.dir / "out/copies/.p03.txt.steppar-tmp.999999.0", old_total = f.dir / "out/.total.json.steppar-tmp.999999.4",
                   old_input = f.dir / "docs/.p05.txt.steppar-tmp.999999.1",
                   other_host = f.dir / "out/copies/.p04.txt.steppar-tmp.0123456789abcdef.999999.2";
    write_file(old_partition, "half a partition");
    write_file(old_total, "half");
    write_file(old_input, "half an input");
    write_file(other_host, "another machine's, being written");
    for (const auto& p : {old_partition, old_total, old_input}) BOOST_REQUIRE_EQUAL(shell("touch -d '2 days ago' " + quote(p.string())).exit_code, 0);
    BOOST_REQUIRE_EQUAL(shell("touch -d '3 hours ago' " + quote(other_host.string())).exit_code, 0);
    const Result r = f.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("steppar: removed 1 temporary file(s)") != std::string::npos, r.err);  // total's, at the start
    BOOST_TEST(r.err.find("copy: removed 1 temporary file(s)") != std::string::npos, r.err);     // by copy's scan
    BOOST_TEST(!fs::exists(old_partition));
    BOOST_TEST(!fs::exists(old_total));
    BOOST_TEST(fs::exists(old_input), "inputs are never touched");
    BOOST_TEST(fs::exists(other_host), "another host's temporary, 3 hours old, is not stale");
    // The age is a limit of the environment's: 2 hours makes the other host's stale.
    const Result bad = shell("STEPPAR_STALE_TEMPORARY_HOURS=1.5 " + quote(host_program()) + " run " + quote(f.pipeline.string()));
    BOOST_TEST(bad.exit_code == 2, bad.err);
    BOOST_TEST(bad.err.find("STEPPAR_STALE_TEMPORARY_HOURS must be a whole number") != std::string::npos, bad.err);
    const Result aged = shell("STEPPAR_STALE_TEMPORARY_HOURS=2 " + quote(host_program()) + " run " + quote(f.pipeline.string()));
    BOOST_REQUIRE_MESSAGE(aged.exit_code == 0, aged.err);
    BOOST_TEST(aged.err.find("copy: removed 1 temporary file(s)") != std::string::npos, aged.err);
    BOOST_TEST(!fs::exists(other_host));
    fs::remove(old_input);
    BOOST_TEST((f.outputs() == clean_outputs()));
}

namespace {

// `unshare -p -f --mount-proc` works here: root, and a kernel (or container) that allows it.
struct CanUnsharePid {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result result(true);
        if (::geteuid() != 0) {
            result = false;
            result.message() << "needs root; skipped";
        } else if (shell("unshare -p -f --mount-proc --kill-child sh -c 'echo 100 > /proc/sys/kernel/ns_last_pid' 2>&1").exit_code != 0) {
            result = false;
            result.message() << "'unshare -p -f --mount-proc' does not work here; skipped";
        }
        return result;
    }
};

// unshare's arguments for steppar-host `args` in a pid namespace of its own (with its own
// /proc), where the pids given after `last_pid` come next: sh is pid 1, steppar-host last_pid + 1.
std::vector<std::string> in_own_pid_namespace(int last_pid, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"-p", "-f", "--mount-proc", "--kill-child", "sh", "-c",
                                     "echo " + std::to_string(last_pid) + " > /proc/sys/kernel/ns_last_pid && \"$@\"", "sh", host_program()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

// The name of a temporary in `folder` that starts with `start`, waiting for it up to 30 s ("" if none came).
std::string wait_for_temporary(const fs::path& folder, const std::string& start) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(folder, ec)) {
            const std::string name = e.path().filename().string();
            if (name.rfind(start, 0) == 0) return name;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {};
}

// ".<name>.steppar-tmp.<host>.<pid>.<n>" -> "<host>"
std::string host_of(const std::string& temporary) {
    const std::string rest = temporary.substr(temporary.rfind(".steppar-tmp.") + 13);
    return rest.substr(0, rest.find('.'));
}

}  // namespace

// Two machines sharing an output folder, played by two pid namespaces on this one. In namespace
// A a run's node holds a live temporary file (its writer's pid is above 20,000 there; namespace
// B has no such pid). A run in namespace B over the same folder sweeps it twice (its slicer's
// scan, and after its own node is SIGKILLed with a temporary open): A's temporary must survive
// and A's run finish, B's own dead writer's temporary must go. steppar before the host tag took
// "no pid 2000x here" for "its writer is dead" and deleted A's file under it.
BOOST_AUTO_TEST_CASE(a_live_temporary_of_another_pid_namespace_survives_the_sweep, *boost::unit_test::precondition(CanUnsharePid{})) {
    TempDir dir;
    write_file(dir / "docs/p1.txt", "one\n");
    const auto pipeline = [&](const std::string& name, const std::string& mode, const std::string& suffix) {
        write_file(dir / (name + ".flag"), "armed\n");
        write_file(dir / (name + ".yml"), "plugins: {test: " + fixture("steppar_test_nodes") + "}\n" + R"(catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  shared: {type: partitioned, path: out/shared, suffix: )" + suffix + R"(}
params: {mode: )" + mode + ", bad: p1, flag: " + (dir / (name + ".flag")).string() + R"(}
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:flag], outputs: [shared]}
)");
        return (dir / (name + ".yml")).string();
    };
    const std::string a_pipeline = pipeline("a", "hold", ".txt"), b_pipeline = pipeline("b", "hold_kill9", ".dat");

    Background a(in_own_pid_namespace(20000, {"run", a_pipeline, "--state-dir", (dir / "state-a").string()}), "unshare");
    const std::string a_temporary = wait_for_temporary(dir / "out/shared", ".p1.txt.steppar-tmp.");
    BOOST_REQUIRE_MESSAGE(!a_temporary.empty(), "run A never wrote its temporary: " << a.wait(0).err);

    Background b(in_own_pid_namespace(100, {"run", b_pipeline, "--state-dir", (dir / "state-b").string()}), "unshare");
    const std::string b_temporary = wait_for_temporary(dir / "out/shared", ".p1.dat.steppar-tmp.");
    BOOST_REQUIRE_MESSAGE(!b_temporary.empty(), "run B never wrote its temporary: " << b.wait(0).err);
    BOOST_TEST(host_of(a_temporary) != host_of(b_temporary), a_temporary << " and " << b_temporary);
    BOOST_TEST(fs::exists(dir / "out/shared" / a_temporary), "B's slicer removed A's live temporary");

    fs::remove(dir / "b.flag");  // B's node raises SIGKILL now, its temporary left open
    const Result b_run = b.wait(30);
    BOOST_TEST(b_run.exit_code == 1, b_run.err);
    BOOST_TEST(!fs::exists(dir / "out/shared" / b_temporary), "B's own dead writer's temporary stayed");
    BOOST_TEST(fs::exists(dir / "out/shared" / a_temporary), "B's sweep after its failure removed A's live temporary");

    fs::remove(dir / "a.flag");  // A's node finishes its partition
    const Result a_run = a.wait(30);
    BOOST_TEST(a_run.exit_code == 0, a_run.err);
    BOOST_TEST(read_file(dir / "out/shared/p1.txt") == std::string(70000, 'x') + "one\n");
    BOOST_TEST(temporaries_under(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(unreadable_partition_fails_naming_the_file, *boost::unit_test::precondition(needs("setpriv", /*root=*/true))) {
    FaultRun f;
    // What nobody runs must be reachable by nobody, and the build folder may not be (a clone under
    // /root, mode 700 on Debian): a copy of the host and the plugins, laid out as built.
    TempDir install;
    const fs::path host_copy = install / "bin/steppar-host", test_nodes = install / "steppar_test_nodes.so";
    const fs::path builtin = fs::path(host_program()).parent_path() / "../lib/steppar/plugins/steppar_builtin.so";
    shell("mkdir -p " + quote((install / "bin").string()) + " " + quote((install / "lib/steppar/plugins").string()) + " && cp " +
          quote(host_program()) + " " + quote(host_copy.string()) + " && cp " + quote(builtin.string()) + " " +
          quote((install / "lib/steppar/plugins").string()) + " && cp " + quote(fixture("steppar_test_nodes")) + " " +
          quote(test_nodes.string()) + " && chmod -R a+rX " + quote(install.path().string()));
    std::string text = read_file(f.pipeline);
    text.replace(text.find(fixture("steppar_test_nodes")), fixture("steppar_test_nodes").size(), test_nodes.string());
    write_file(f.pipeline, text);
    // The project is nobody's (a state folder of another user, or one every user may write, is refused).
    shell("chown -R 65534:65534 " + quote(f.dir.path().string()) + " && chmod 000 " + quote((f.dir / "docs/p09.txt").string()));
    const Result r = shell("cd / && setpriv --reuid=65534 --regid=65534 --clear-groups " + quote(host_copy.string()) + " run " +
                           quote(f.pipeline.string()));
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(r.err.find("partition 'p09'") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("cannot open input file '" + (f.dir / "docs/p09.txt").string() + "': Permission denied") != std::string::npos, r.err);

    // An unreadable plugin is not "not a shared library"; a plugin folder we may not enter is
    // skipped, not an internal error.
    const std::string as_nobody = "cd / && setpriv --reuid=65534 --regid=65534 --clear-groups ";
    TempDir secret;
    shell("cp " + quote(fixture("steppar_test_nodes")) + " " + quote((f.dir / "mine.so").string()) + " && chmod 600 " +
          quote((f.dir / "mine.so").string()) + " && mkdir -p " + quote((secret / "inner").string()) + " && chmod 700 " +
          quote(secret.path().string()));
    text = read_file(f.pipeline);
    text.replace(text.find("test: "), 6, "test: ./mine.so\n  unused: ");
    write_file(f.pipeline, text);
    const Result plugin = shell(as_nobody + quote(host_copy.string()) + " validate " + quote(f.pipeline.string()));
    BOOST_TEST(plugin.exit_code == 2, plugin.err);
    BOOST_TEST(plugin.err.find("mine.so) cannot be read: Permission denied") != std::string::npos, plugin.err);
    shell("chmod 644 " + quote((f.dir / "mine.so").string()));
    const Result search = shell("export STEPPAR_PLUGIN_PATH=" + quote((secret / "inner").string()) + "; " + as_nobody + quote(host_copy.string()) +
                                " validate " + quote(f.pipeline.string()));
    BOOST_TEST(search.exit_code == 0, search.err);
}

namespace {

// Whether process `pid` has a file open under `folder` (its /proc/PID/fd links).
bool has_open_under(int pid, const fs::path& folder) {
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const std::string target = fs::read_symlink(fd.path(), ec).string();
        if (!ec && target.rfind(folder.string(), 0) == 0) return true;
    }
    return false;
}

}  // namespace

// A hundred thousand partitions run, and rerun as up to date. Then SIGTERM while the slicer is
// scanning them (caught in the act: the host has a folder of the input open): the run stops
// within half a second, before any plan or slice; the rerun equals a clean run.
BOOST_AUTO_TEST_CASE(hundred_thousand_partitions_and_sigterm_during_their_slicer) {
    TempDir dir;
    for (int i = 0; i < 100000; ++i) write_file(dir / ("docs/" + std::to_string(i % 100) + "/" + std::to_string(i) + ".txt"), "x\n");
    write_file(dir / "pipeline.yml", R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 8}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)");
    const Result r = host({"run", (dir / "pipeline.yml").string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(dir / "out/total.json") == "{\"files\":100000,\"lines\":100000,\"words\":100000,\"bytes\":200000}\n");
    const Result again = host({"run", (dir / "pipeline.yml").string()});
    BOOST_TEST(again.err.find("(0 ran, 9 up to date)") != std::string::npos, again.err);

    write_file(dir / "docs/7/7.txt", "seven words in this changed partition now\n");
    fs::remove(dir / "docs/8/8.txt");
    Background run({"run", (dir / "pipeline.yml").string()});
    bool scanning = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!scanning && std::chrono::steady_clock::now() < deadline) scanning = has_open_under(run.pid(), dir / "docs");
    BOOST_REQUIRE_MESSAGE(scanning, "never saw the slicer scan the inputs");
    const auto signalled = std::chrono::steady_clock::now();
    run.signal(SIGTERM);
    const Result stopped = run.wait(20);
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
    BOOST_TEST(stopped.exit_code == 128 + SIGTERM, stopped.err);
    BOOST_TEST(latency < 0.5, "the slicer took " << latency << " s to stop");
    BOOST_TEST(stopped.err.find("count-slicer stopped") != std::string::npos, stopped.err);
    BOOST_TEST(stopped.err.find("to run in") == std::string::npos, "a plan was made: " << stopped.err);
    BOOST_TEST(stopped.err.find("started") == std::string::npos, "a step started: " << stopped.err);
    BOOST_TEST(temporaries_under(dir.path()).empty());

    const Result resumed = host({"run", (dir / "pipeline.yml").string()});
    BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
    BOOST_TEST(resumed.err.find("count: 0 new, 1 changed, 99,998 up to date, 1 retracted") != std::string::npos, resumed.err);
    // The judge: a clean sequential run of the same inputs (100k files are slow to make twice).
    fs::rename(dir / "out", dir / "resumed");
    fs::remove_all(dir / ".steppar");
    BOOST_REQUIRE_EQUAL(judge_run(dir / "pipeline.yml", {"--runner", "sequential"}).exit_code, 0);
    BOOST_TEST((snapshot(dir / "out") == snapshot(dir / "resumed")));
}

BOOST_AUTO_TEST_SUITE_END()
