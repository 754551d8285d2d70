// Exactness under change: after every change (a new file, a deleted one, an input edited keeping
// its size and mtime, a param, a rebuilt plugin, another slice count, a killed slice) a rerun
// does only the work that changed, and its outputs equal, byte for byte (`diff -r`), those of a
// clean sequential run of the same inputs; outputs of untouched partitions keep their inode.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <set>
#include <thread>
#include <sys/stat.h>
#include <fcntl.h>

using namespace e2e;

namespace {

// count (wc, 3 slices) -> total (whole); long (long_words, a param); clean_and_hash
// (lowercase -> an intermediate -> sha256, 2 slices).
std::string pipeline_text(const std::string& plugin = "steppar_builtin", int slices = 3, int min_length = 5) {
    return "plugins:\n  builtin: " + plugin + R"(
catalog:
  docs:       {type: partitioned, path: data/docs, suffix: .txt}
  counts:     {type: partitioned, path: out/counts, suffix: .json}
  total:      {type: file, path: out/total.json}
  long_words: {type: partitioned, path: out/long_words, suffix: .txt}
  digests:    {type: partitioned, path: out/digests, suffix: .sha256}
params:
  min_length: )" + std::to_string(min_length) + R"(
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: )" + std::to_string(slices) + R"(}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - {name: long, func: builtin.long_words, inputs: [docs, params:min_length], outputs: [long_words], slices: 2}
  - multipipeline:
      name: clean_and_hash
      slices: 2
      nodes:
        - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lower_docs]}
        - {name: hash,  func: builtin.sha256,    inputs: [lower_docs], outputs: [digests]}
)";
}

struct Identity {
    ino_t inode;
    long long mtime_ns;
    bool operator==(const Identity&) const = default;
};

// Inode and mtime of every file under `dir` (relative path -> identity).
std::map<std::string, Identity> identities(const fs::path& dir) {
    std::map<std::string, Identity> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        struct stat st {};
        ::stat(e.path().c_str(), &st);
        out[fs::relative(e.path(), dir).string()] = {st.st_ino, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
    }
    return out;
}

// Rewrites a file in place with other bytes of the same size, then puts its old mtime back (as
// `cp -p`, `rsync -t` and `tar x` do).
void edit_keeping_size_and_mtime(const fs::path& file) {
    struct stat st {};
    BOOST_REQUIRE(::stat(file.c_str(), &st) == 0);
    std::string text = read_file(file);
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    write_file(file, text);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
}

struct Incremental {
    Workspace ws;
    explicit Incremental(const std::string& text = pipeline_text()) : ws(text) { make_docs(ws.dir / "data/docs", 40); }

    Result run(std::vector<std::string> extra = {}) const {
        const Result r = ws.run(std::move(extra));
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        return r;
    }
    // `diff -r` of the outputs and intermediates against a clean sequential run of the same
    // inputs and pipeline file.
    void check_equals_clean_run(const std::vector<std::string>& extra = {}) const {
        const std::string differences = differences_from_clean_run(ws, extra);
        BOOST_TEST(differences.empty(), differences);
    }
};

// Which files changed identity between two snapshots (rewritten, added or removed).
std::set<std::string> rewritten(const std::map<std::string, Identity>& before, const std::map<std::string, Identity>& after) {
    std::set<std::string> changed;
    for (const auto& [path, id] : before)
        if (!after.count(path) || !(after.at(path) == id)) changed.insert(path);
    for (const auto& [path, _] : after)
        if (!before.count(path)) changed.insert(path);
    return changed;
}

// A pipeline copying data/docs to out/copies with test.fault, misbehaving as `mode` says on
// partition `bad` while the file `flag` exists; `slices` is ", slices: N" or "" (a plain node);
// `more` adds nodes.
std::string fault_pipeline(const std::string& mode, const std::string& bad, const fs::path& flag, const std::string& slices,
                           const std::string& more = "") {
    return "plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  total:  {type: file, path: out/total.json}
params: {mode: )" + mode + ", bad: " + bad + ", delay_ms: 0, flag: " + flag.string() + R"(}
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:mode, params:bad, params:delay_ms, params:flag], outputs: [copies])" +
           slices + "}\n" + more;
}

// One slice of 12 documents whose node misbehaves as `mode` says on doc-0003 (its flag set) and
// then goes on for 300 ms a partition: long enough to kill the run while that step still runs.
struct SlowFaultRun {
    TempDir place;
    Workspace ws;
    explicit SlowFaultRun(const std::string& mode) : ws(slowed(fault_pipeline(mode, "doc-0003", place / "flag", ", slices: 1"))) {
        for (int i = 0; i < 12; ++i) write_file(ws.dir / ("data/docs/doc-" + std::string(i < 10 ? "000" : "00") + std::to_string(i) + ".txt"), "text\n");
        write_file(place / "flag", "armed");
    }
    static std::string slowed(std::string text) { return text.replace(text.find("delay_ms: 0"), 11, "delay_ms: 300"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(incremental)

BOOST_AUTO_TEST_CASE(a_new_partition_runs_alone_and_nothing_else_is_rewritten) {
    Incremental t;
    t.run();
    const auto before = identities(t.ws.dir / "out");
    write_file(t.ws.dir / "data/docs/zz-new.txt", "a brand new document with several words\n");
    const Result r = t.run({"--runner", "parallel"});
    BOOST_TEST(r.err.find("count: 1 new, 0 changed, 40 up to date") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("clean_and_hash: 1 new, 0 changed, 40 up to date") != std::string::npos, r.err);
    BOOST_TEST((rewritten(before, identities(t.ws.dir / "out")) ==
                std::set<std::string>{"counts/zz-new.json", "digests/zz-new.sha256", "long_words/zz-new.txt", "total.json"}));
    t.check_equals_clean_run();
    const Result again = t.run();
    BOOST_TEST(again.err.find("(0 ran,") != std::string::npos, again.err);
}

BOOST_AUTO_TEST_CASE(a_deleted_input_retracts_its_outputs_before_downstream_runs) {
    Incremental t;
    write_file(t.ws.dir / "data/docs/zz-new.txt", "soon gone\n");
    t.run();
    BOOST_REQUIRE(fs::exists(t.ws.dir / ".steppar/data/lower_docs/zz-new.p"));
    fs::remove(t.ws.dir / "data/docs/zz-new.txt");
    const Result r = t.run();
    BOOST_TEST(r.err.find("count: retracted 1 partition(s) of counts (zz-new)") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("clean_and_hash: retracted 1 partition(s) of digests (zz-new)") != std::string::npos, r.err);
    BOOST_TEST(!fs::exists(t.ws.dir / "out/counts/zz-new.json"));
    BOOST_TEST(!fs::exists(t.ws.dir / ".steppar/data/lower_docs/zz-new.p"));
    BOOST_TEST(read_file(t.ws.dir / "out/total.json").find("\"files\":41") == std::string::npos);
    t.check_equals_clean_run();
    // A deleted nested partition takes its emptied folder with it, as a clean run would not make it.
    write_file(t.ws.dir / "data/docs/deep/er/x.txt", "nested\n");
    t.run();
    fs::remove_all(t.ws.dir / "data/docs/deep");
    t.run();
    BOOST_TEST(!fs::exists(t.ws.dir / "out/counts/deep"));
    t.check_equals_clean_run();
}

BOOST_AUTO_TEST_CASE(an_input_edited_keeping_size_and_mtime_is_seen_as_changed) {
    Incremental t;
    t.run();
    const auto before = identities(t.ws.dir / "out");
    edit_keeping_size_and_mtime(t.ws.dir / "data/docs/doc-0003.txt");
    const Result r = t.run();
    BOOST_TEST(r.err.find("count: 0 new, 1 changed, 39 up to date") != std::string::npos, r.err);
    const auto changed = rewritten(before, identities(t.ws.dir / "out"));
    BOOST_TEST(changed.count("counts/doc-0003.json") == 1u);
    BOOST_TEST(changed.count("counts/doc-0004.json") == 0u);
    t.check_equals_clean_run();
}

BOOST_AUTO_TEST_CASE(a_changed_param_reruns_only_the_nodes_that_read_it) {
    Incremental t;
    t.run();
    const auto before = identities(t.ws.dir / "out");
    write_file(t.ws.pipeline, pipeline_text("steppar_builtin", 3, 6));
    const Result r = t.run();
    BOOST_TEST(r.err.find("long: 0 new, 40 changed, 0 up to date") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("count: 0 new, 0 changed, 40 up to date") != std::string::npos, r.err);
    for (const auto& path : rewritten(before, identities(t.ws.dir / "out"))) BOOST_TEST(path.rfind("long_words/", 0) == 0u, path);
    t.check_equals_clean_run();
    // --param reaches the definition the same way.
    const Result overridden = t.run({"--param", "min_length=4"});
    BOOST_TEST(overridden.err.find("long: 0 new, 40 changed, 0 up to date") != std::string::npos, overridden.err);
}

BOOST_AUTO_TEST_CASE(a_rebuilt_plugin_reruns_what_it_computes) {
    Incremental t(pipeline_text("./builtin.so"));
    fs::copy_file(fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so", t.ws.dir / "builtin.so");
    t.run();
    // Other bytes, same functions: as after a rebuild.
    std::string bytes = read_file(t.ws.dir / "builtin.so");
    bytes += std::string("rebuilt");
    write_file(t.ws.dir / "builtin.so", bytes);
    const Result r = t.run();
    BOOST_TEST(r.err.find("count: 0 new, 40 changed, 0 up to date") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("clean_and_hash: 0 new, 40 changed, 0 up to date") != std::string::npos, r.err);
    t.check_equals_clean_run();
}

// A plugin that links a helper library of the project: rebuilding only the helper (same plugin
// file) reruns what the plugin computes, and the outputs equal a clean run's. Libraries of the
// system's folders are not part of the digest.
BOOST_AUTO_TEST_CASE(a_rebuilt_helper_library_reruns_what_its_plugin_computes) {
    TempDir lib;
    write_file(lib / "tagger.cpp", "#include <steppar/sdk.hpp>\n#include <string>\nstd::string helper_word();\n"
                                   "void tag(steppar::PartitionContext& ctx) { ctx.output().write(helper_word() + \":\" + ctx.input().read_text()); }\n"
                                   "STEPPAR_NODE(tag)\n");
    const auto build_helper = [&](const std::string& word) {
        write_file(lib / "helper.cpp", "#include <string>\nstd::string helper_word() { return \"" + word + "\"; }\n");
        const Result built = shell("cd " + quote(lib.path().string()) + " && g++ -std=c++17 -shared -fPIC -o libhelper.so helper.cpp");
        BOOST_REQUIRE_MESSAGE(built.exit_code == 0, built.err);
    };
    build_helper("one");
    const Result plugin = shell("cd " + quote(lib.path().string()) + " && g++ -std=c++17 -shared -fPIC -I " + quote(source("sdk/include").string()) +
                                " -o tagger.so tagger.cpp -L. -lhelper -Wl,-rpath,'$ORIGIN'");
    BOOST_REQUIRE_MESSAGE(plugin.exit_code == 0, plugin.err);
    Workspace ws("plugins: {tagger: " + (lib / "tagger.so").string() + R"(}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  tagged: {type: partitioned, path: out/tagged, suffix: .txt}
nodes:
  - {name: tag, func: tagger.tag, inputs: [docs], outputs: [tagged], slices: 2}
)");
    make_docs(ws.dir / "data/docs", 6);
    Result r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(read_file(ws.dir / "out/tagged/doc-0001.txt").rfind("one:", 0) == 0);
    r = ws.run();
    BOOST_TEST(has(r.err, "tag: 0 new, 0 changed, 6 up to date"), r.err);
    build_helper("two");
    r = ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(has(r.err, "tag: 0 new, 6 changed, 0 up to date"), r.err);
    BOOST_TEST(read_file(ws.dir / "out/tagged/doc-0001.txt").rfind("two:", 0) == 0);
    BOOST_TEST(differences_from_clean_run(ws).empty(), differences_from_clean_run(ws));
}

BOOST_AUTO_TEST_CASE(changing_slices_reruns_nothing) {
    Incremental t;
    t.run();
    const auto before = identities(t.ws.dir / "out");
    write_file(t.ws.pipeline, pipeline_text("steppar_builtin", 5));
    const Result r = t.run();
    BOOST_TEST(r.err.find("count: 0 new, 0 changed, 40 up to date") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("(0 ran,") != std::string::npos, r.err);
    BOOST_TEST(rewritten(before, identities(t.ws.dir / "out")).empty());
    t.check_equals_clean_run();
}

BOOST_AUTO_TEST_CASE(a_slice_killed_mid_run_loses_only_its_unfinished_partitions) {
    TempDir place;
    Workspace ws(fault_pipeline("kill9", "doc-0012", place / "flag", ", slices: 2"));
    for (int i = 0; i < 20; ++i)
        write_file(ws.dir / ("data/docs/doc-" + std::string(i < 10 ? "000" : "00") + std::to_string(i) + ".txt"), "text " + std::to_string(i) + "\n");
    write_file(place / "flag", "armed");
    const Result killed = ws.run({"--runner", "sequential"});
    BOOST_TEST(killed.exit_code == 1);
    BOOST_TEST(killed.err.find("copy-slice-1 crashed: killed by SIGKILL on partition 'doc-0012'") != std::string::npos, killed.err);
    const auto before = identities(ws.dir / "out");
    BOOST_REQUIRE(before.count("copies/doc-0011.txt"));  // finished by slice 1 before the kill
    fs::remove(place / "flag");
    const Result resumed = ws.run();
    BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
    BOOST_TEST(resumed.err.find("copy: 8 new, 0 changed, 12 up to date") != std::string::npos, resumed.err);
    BOOST_TEST(rewritten(before, identities(ws.dir / "out")).count("copies/doc-0011.txt") == 0u);
    for (int i = 0; i < 20; ++i) {
        const std::string name = "doc-" + std::string(i < 10 ? "000" : "00") + std::to_string(i);
        BOOST_TEST(read_file(ws.dir / ("out/copies/" + name + ".txt")) == read_file(ws.dir / ("data/docs/" + name + ".txt")));
    }
}

BOOST_AUTO_TEST_CASE(intermediates_hold_a_partition_beside_a_folder_of_the_same_name) {
    Incremental t;
    write_file(t.ws.dir / "data/docs/can.txt", "CAN bus\n");
    write_file(t.ws.dir / "data/docs/can/bcm.txt", "Broadcast Manager\n");
    t.run();
    BOOST_TEST(fs::exists(t.ws.dir / ".steppar/data/lower_docs/can.p"));
    BOOST_TEST(fs::exists(t.ws.dir / ".steppar/data/lower_docs/can.d/bcm.p"));
    BOOST_TEST(read_file(t.ws.dir / "out/digests/can/bcm.sha256").size() == 65u);
    t.check_equals_clean_run();
}

BOOST_AUTO_TEST_CASE(a_catalog_output_that_cannot_hold_both_names_is_an_error_before_anything_runs) {
    Workspace ws(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:  {type: partitioned, path: data, suffix: .h}
  lower: {type: partitioned, path: out/lower}
nodes:
  - {name: lower, func: builtin.lowercase, inputs: [docs], outputs: [lower], slices: 2}
)");
    write_file(ws.dir / "data/can.h", "x\n");
    write_file(ws.dir / "data/can/bcm.h", "y\n");
    const Result r = ws.run();
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(r.err.find("dataset 'lower' cannot hold both partition 'can'") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("partition 'can/bcm'") != std::string::npos, r.err);
    BOOST_TEST(!fs::exists(ws.dir / "out/lower/can"), "nothing may run");
}

// Partitions left out by filter/exclude or --partitions are neither run nor retracted: their
// outputs stay as they are, as in Kedro.
BOOST_AUTO_TEST_CASE(partitions_left_out_by_filters_keep_their_outputs) {
    Incremental t;
    t.run();
    const auto before = identities(t.ws.dir / "out/counts");
    const Result narrowed = t.run({"--partitions", "^doc-000"});
    BOOST_TEST(narrowed.err.find("count: 0 new, 0 changed, 9 up to date, 31 left out") != std::string::npos, narrowed.err);
    BOOST_TEST(narrowed.err.find("retracted") == std::string::npos, narrowed.err);
    std::string text = read_file(t.ws.pipeline);
    const std::string plain = "outputs: [counts], slices: 3}";
    text.replace(text.find(plain), plain.size(), "outputs: [counts], slices: 3, exclude: '1$'}");
    write_file(t.ws.pipeline, text);
    const Result excluded = t.run();
    BOOST_TEST(excluded.err.find("retracted") == std::string::npos, excluded.err);
    BOOST_TEST((identities(t.ws.dir / "out/counts") == before), "left-out partitions keep their outputs untouched");
    const Result status = host({"status", t.ws.pipeline.string()});
    BOOST_TEST(status.out.find("unit:done\tcount\t0 new, 0 changed, 36 up to date, 4 left out") != std::string::npos, status.out);
}

BOOST_AUTO_TEST_CASE(foreign_files_in_an_output_folder_are_named_and_kept) {
    Incremental t;
    t.run();
    const std::string mine = "{\"lines\":1,\"words\":1,\"bytes\":1}\n";
    write_file(t.ws.dir / "out/counts/mine.json", mine);
    const auto before = identities(t.ws.dir / "out/counts");
    const Result r = t.ws.run();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.err.find("count: 1 file(s) in its output folders that steppar did not write") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("out/counts/mine.json") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("count: 0 new, 0 changed, 40 up to date") != std::string::npos, r.err);
    // Neither the foreign file nor any output of count was touched.
    BOOST_TEST(rewritten(before, identities(t.ws.dir / "out/counts")).empty());
    BOOST_TEST(read_file(t.ws.dir / "out/counts/mine.json") == mine);
    const Result status = host({"status", t.ws.pipeline.string()});
    BOOST_TEST(status.out.find("1 foreign file(s), kept: " + (t.ws.dir / "out/counts/mine.json").string()) != std::string::npos, status.out);
}

BOOST_AUTO_TEST_CASE(an_output_changed_or_removed_by_someone_else_is_made_again) {
    Incremental t;
    t.run();
    write_file(t.ws.dir / "out/counts/doc-0001.json", "tampered\n");
    fs::remove(t.ws.dir / "out/digests/doc-0002.sha256");
    const Result r = t.run();
    BOOST_TEST(r.err.find("count: 0 new, 1 changed, 39 up to date") != std::string::npos, r.err);
    BOOST_TEST(r.err.find("clean_and_hash: 0 new, 1 changed, 39 up to date") != std::string::npos, r.err);
    t.check_equals_clean_run();
}

// --force reaches exec'd children; a plain node that fails leaves a failed marker status reports.
BOOST_AUTO_TEST_CASE(force_reaches_exec_children_and_a_failed_plain_node_is_reported) {
    TempDir place;
    Workspace ws("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
  builtin: steppar_builtin
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  how_many: {type: file, path: out/how_many.txt}
params: {flag: )" + (place / "flag").string() + R"(}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts]}
  - {name: tally, func: test.whole_fault, inputs: [counts, params:flag], outputs: [how_many]}
)");
    make_docs(ws.dir / "data/docs", 5);
    BOOST_REQUIRE_EQUAL(ws.run().exit_code, 0);
    const auto before = identities(ws.dir / "out");
    const Result forced = ws.run({"--force", "--launch", "exec"});
    BOOST_REQUIRE_MESSAGE(forced.exit_code == 0, forced.err);
    BOOST_TEST(forced.err.find("up to date, skipped") == std::string::npos, forced.err);
    BOOST_TEST(forced.err.find("(2 ran, 0 up to date)") != std::string::npos, forced.err);
    BOOST_TEST(rewritten(before, identities(ws.dir / "out")).size() == before.size(), "--force rewrites every output");

    write_file(place / "flag", "armed");
    const Result failed = ws.run({"--force"});
    BOOST_TEST(failed.exit_code == 1);
    const Result status = host({"status", ws.pipeline.string()});
    BOOST_TEST(status.out.find("failed\ttally\tnode 'tally' failed: injected whole failure\trerun: runs") != std::string::npos, status.out);
}

// A step that ends its own process with exit(0) has not reported success: never counted as done.
BOOST_AUTO_TEST_CASE(a_node_that_exits_zero_is_not_taken_for_success) {
    // _exit(0): exit(0) would run LeakSanitizer's exit check in the sanitize build and end with
    // another code; the point here is a process that says 0.
    // A slice (forked and exec'd) and a plain node: the same rule.
    for (const auto& [launch, slices] : {std::pair{"fork", ", slices: 2"}, {"exec", ", slices: 2"}, {"fork", ""}}) {
        TempDir place;
        Workspace ws(fault_pipeline("_exit0", "doc-0003", place / "flag", slices,
                                    "  - {name: total, func: test.whole_fault, inputs: [copies, params:flag], outputs: [total]}\n"));
        for (int i = 0; i < 8; ++i) write_file(ws.dir / ("data/docs/doc-000" + std::to_string(i) + ".txt"), "text\n");
        write_file(place / "flag", "armed");
        const Result r = ws.run({"--launch", launch});
        BOOST_TEST(r.exit_code == 1, launch << ": " << r.err);
        const std::string step = *slices ? "copy-slice-0" : "copy";
        BOOST_TEST(r.err.find(step + " ended (exit code 0) on partition 'doc-0003' without reporting success: a node ended the process itself") !=
                       std::string::npos,
                   r.err);
        BOOST_TEST(!fs::exists(ws.dir / "out/total.json"), "nothing downstream may run");
        fs::remove(place / "flag");
        const Result resumed = ws.run();
        BOOST_TEST(resumed.exit_code == 0, resumed.err);
        BOOST_TEST(resumed.err.find(*slices ? "copy: 1 new, 0 changed, 7 up to date" : "copy: 5 new, 0 changed, 3 up to date") != std::string::npos,
                   resumed.err);
        BOOST_TEST(read_file(ws.dir / "out/total.json") == "8\n");
    }
}

// A slice or barrier whose pipeline changed since slicing refuses; an input deleted after slicing
// is reported by name and left for the next run.
BOOST_AUTO_TEST_CASE(cluster_steps_refuse_a_changed_pipeline_and_report_vanished_inputs) {
    Incremental t;
    const std::string pipeline = t.ws.pipeline.string();
    BOOST_REQUIRE_EQUAL(host({"run-slicer", pipeline, "--node", "long", "-q"}).exit_code, 0);
    write_file(t.ws.pipeline, pipeline_text("steppar_builtin", 3, 7));
    const Result slice = host({"run-slice", pipeline, "--node", "long", "--slice", "0"});
    BOOST_TEST(slice.exit_code == 1);
    BOOST_TEST(slice.err.find("changed since the plan was made; rerun to re-slice") != std::string::npos, slice.err);
    const Result barrier = host({"check-barrier", pipeline, "--node", "long"});
    BOOST_TEST(barrier.exit_code == 1);
    BOOST_TEST(barrier.err.find("changed since 'long' was sliced") != std::string::npos, barrier.err);

    BOOST_REQUIRE_EQUAL(host({"run-slicer", pipeline, "--node", "count", "-q"}).exit_code, 0);
    fs::remove(t.ws.dir / "data/docs/doc-0000.txt");
    const Result vanished = host({"run-slice", pipeline, "--node", "count", "--slice", "0"});
    BOOST_TEST(vanished.exit_code == 0, vanished.err);
    BOOST_TEST(vanished.err.find("1 partition(s) vanished since slicing, left for the next run (doc-0000)") != std::string::npos, vanished.err);
    for (const char* s : {"1", "2"}) BOOST_REQUIRE_EQUAL(host({"run-slice", pipeline, "--node", "count", "--slice", s, "-q"}).exit_code, 0);
    const Result passed = host({"check-barrier", pipeline, "--node", "count"});
    BOOST_TEST(passed.exit_code == 0, passed.err);
    BOOST_TEST(passed.err.find("vanished during the run") != std::string::npos, passed.err);
    t.run();
    t.check_equals_clean_run();
}

// State files are sealed: a plan part edited keeping its size (a partition swapped for another)
// is refused with how to repair it, and the next run re-slices and makes everything.
BOOST_AUTO_TEST_CASE(a_plan_part_edited_keeping_its_size_is_refused_and_the_next_run_repairs_it) {
    Incremental t;
    const std::string pipeline = t.ws.pipeline.string();
    BOOST_REQUIRE_EQUAL(host({"run-slicer", pipeline, "--node", "count", "-q"}).exit_code, 0);
    const fs::path part = t.ws.dir / ".steppar/units/count/slices/slice-0.json";
    std::string text = read_file(part);
    const auto at = text.find("doc-0000");
    BOOST_REQUIRE(at != std::string::npos);
    text.replace(at, 8, "doc-0099");  // same size, a partition that does not exist
    write_file(part, text);
    const Result slice = host({"run-slice", pipeline, "--node", "count", "--slice", "0"});
    BOOST_TEST(slice.exit_code == 1);
    BOOST_TEST(slice.err.find("is damaged or belongs to another plan") != std::string::npos, slice.err);
    BOOST_TEST(slice.err.find("rerun the pipeline to re-slice") != std::string::npos, slice.err);
    t.run();
    t.check_equals_clean_run();
}

// Nothing a node starts outlives its step, with setsid() or through a parent that exits; the
// step says what it killed. Forked and exec'd steps, slices and a plain node.
BOOST_AUTO_TEST_CASE(processes_a_node_leaves_running_are_killed_when_its_step_ends) {
    auto sleepers = [] { return shell("pgrep -f '^sleep 86397' | wc -l").out; };
    BOOST_REQUIRE_EQUAL(sleepers(), "0\n");
    for (const auto& [launch, slices] : {std::pair{"fork", ", slices: 2"}, {"exec", ", slices: 2"}, {"fork", ""}}) {
        TempDir place;
        Workspace ws(fault_pipeline("daemon", "doc-0003", place / "flag", slices));
        for (int i = 0; i < 6; ++i) write_file(ws.dir / ("data/docs/doc-000" + std::to_string(i) + ".txt"), "text\n");
        write_file(place / "flag", "armed");
        const Result r = ws.run({"--launch", launch});
        BOOST_TEST(r.exit_code == 0, launch << ": " << r.err);
        BOOST_TEST(r.err.find("killed 2 process(es) a node left running") != std::string::npos, r.err);
        BOOST_TEST(sleepers() == "0\n", launch << slices << ": a process outlived its step");
    }
}

// The host killed with SIGKILL while a step runs: the step dies (PR_SET_PDEATHSIG) and takes
// along what its node started, also the process that called setsid() and the orphan of a
// double fork, in both launch modes. (They ran forever.)
BOOST_AUTO_TEST_CASE(processes_a_node_started_die_with_a_host_killed_by_sigkill) {
    auto sleepers = [] { return shell("pgrep -f '^sleep 86397' | wc -l").out; };
    BOOST_REQUIRE_EQUAL(sleepers(), "0\n");
    for (const char* launch : {"fork", "exec"}) {
        const SlowFaultRun t("daemon");  // the step goes on after the daemons start
        const Workspace& ws = t.ws;
        Background run({"run", ws.pipeline.string(), "--launch", launch});
        for (int waited = 0; waited < 200 && sleepers() != "2\n"; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        BOOST_REQUIRE_MESSAGE(sleepers() == "2\n", launch << ": the node's daemons never started: " << run.err_so_far());
        run.signal(SIGKILL);
        run.wait(10);
        for (int waited = 0; waited < 100 && sleepers() != "0\n"; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        BOOST_TEST(sleepers() == "0\n", launch << ": a process the node started outlived the killed host");
        shell("pkill -f '^sleep 86397'");
    }
}

// A run killed so hard that nothing of it could clean up (its step, fork server and host all
// SIGKILLed) leaves a forked helper of the node running, holding the steps' lease it inherited:
// the next run finds it through the lease, kills it, says so, and runs.
BOOST_AUTO_TEST_CASE(the_next_run_kills_what_a_dead_run_left_holding_its_lease) {
    const SlowFaultRun t("fork_hold");
    const Workspace& ws = t.ws;
    Background run({"run", ws.pipeline.string()});
    // host -> fork server -> step -> helper (its own session)
    auto children_of = [](int pid) { return shell("cat /proc/" + std::to_string(pid) + "/task/*/children 2>/dev/null").out; };
    std::string server, step, helper;
    for (int waited = 0; waited < 200 && helper.empty(); ++waited) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        server = children_of(run.pid());
        if (server.empty()) continue;
        step = children_of(std::stoi(server));
        if (step.empty()) continue;
        const std::string below = children_of(std::stoi(step));
        if (!below.empty() && shell("ps -o sid= -p " + std::to_string(std::stoi(below))).out.find(std::to_string(std::stoi(below))) != std::string::npos)
            helper = below;
    }
    BOOST_REQUIRE_MESSAGE(!helper.empty(), "the node's helper never started: " << run.err_so_far());
    const int helper_pid = std::stoi(helper);
    // Stopped first, so the server cannot sweep up after the step: then all three die at once.
    ::kill(std::stoi(server), SIGSTOP);
    ::kill(std::stoi(step), SIGKILL);
    ::kill(std::stoi(server), SIGKILL);
    run.signal(SIGKILL);
    run.wait(10);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(::kill(helper_pid, 0) == 0, "the helper should have outlived the dead run");
    fs::remove(t.place / "flag");
    const Result next = ws.run();
    BOOST_TEST(next.exit_code == 0, next.err);
    BOOST_TEST(has(next.err, "killed 1 process(es) an earlier run of this pipeline left running (" + std::to_string(helper_pid)), next.err);
    BOOST_TEST(::kill(helper_pid, 0) != 0, "the helper still runs");
    BOOST_TEST(differences_from_clean_run(ws).empty(), differences_from_clean_run(ws));
}

// A node that closes its stdout and stderr and then writes its output: no event frame and no
// print lands in an output file, and its log line still reaches the run's log.
BOOST_AUTO_TEST_CASE(a_node_closing_its_stdout_and_stderr_gets_no_frames_in_its_outputs) {
    for (const char* launch : {"fork", "exec"}) {
        TempDir place;
        Workspace ws(fault_pipeline("close_std", "doc-0001", place / "flag", ", slices: 1"));
        for (int i = 0; i < 4; ++i) write_file(ws.dir / ("data/docs/doc-000" + std::to_string(i) + ".txt"), "text " + std::to_string(i) + "\n");
        write_file(place / "flag", "armed");
        const Result r = ws.run({"--launch", launch});
        BOOST_TEST(r.exit_code == 0, launch << ": " << r.err);
        for (int i = 0; i < 4; ++i)
            BOOST_TEST(read_file(ws.dir / ("out/copies/doc-000" + std::to_string(i) + ".txt")) ==
                           (i == 1 ? std::string(70000, 'x') : "text " + std::to_string(i) + "\n"),
                       launch << " " << i);
        BOOST_TEST(r.err.find("logged after closing stdout and stderr") != std::string::npos, r.err);
    }
}

// A node that closes every descriptor from 3 up (steppar's event channel, its ledger segment)
// and opens files of its own on those numbers: the step still succeeds, its ledger lines go to
// the ledger (not into the node's files), its messages through its stderr, in both launch modes,
// and the outputs equal a clean run's. (It failed with "see its message above" and nothing above.)
BOOST_AUTO_TEST_CASE(a_node_closing_steppars_descriptors_still_succeeds_and_is_recorded) {
    for (const char* launch : {"fork", "exec"}) {
        TempDir place;
        Workspace ws(fault_pipeline("close_fds", "doc-0002", place / "flag", ", slices: 1"));
        for (int i = 0; i < 4; ++i) write_file(ws.dir / ("data/docs/doc-000" + std::to_string(i) + ".txt"), "text " + std::to_string(i) + "\n");
        write_file(place / "flag", "armed");
        const Result r = ws.run({"--launch", launch});
        BOOST_TEST(r.exit_code == 0, launch << ": " << r.err);
        BOOST_TEST(!has(r.err, "see its message above"), launch << ": " << r.err);
        if (std::string(launch) == "fork") BOOST_TEST(has(r.err, "(steppar's event channel); its messages come through"), r.err);
        BOOST_TEST(differences_from_clean_run(ws).empty(), launch << ": " << differences_from_clean_run(ws));
        const Result again = ws.run({"--launch", launch});
        BOOST_TEST(has(again.err, "copy: 0 new, 0 changed, 4 up to date"), launch << ": " << again.err);
    }
}

// Several producers, one partitioned output (Kedro #3447, #806): two multinodes split docs by a
// filter and a plain node adds extra/, all into counts; total waits for all three. Moving a
// partition from one producer to another reruns only it; a partition two producers would write
// is exit 2 naming it and both, before anything is written.
BOOST_AUTO_TEST_CASE(several_producers_write_disjoint_partitions_of_one_output) {
    Incremental t(R"(plugins: {builtin: steppar_builtin}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  extra:  {type: partitioned, path: data/extra, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
  - {name: count_even, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 3, filter: "[02468]$"}
  - {name: count_odd, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2, exclude: "[02468]$"}
  - {name: count_extra, func: builtin.wc, inputs: [extra], outputs: [counts]}
)");
    write_file(t.ws.dir / "data/extra/x1.txt", "one extra\n");
    write_file(t.ws.dir / "data/extra/x2.txt", "two extra words\n");
    const Result first = t.run();
    BOOST_TEST(read_file(t.ws.dir / "out/total.json").find("\"files\":42") != std::string::npos);
    BOOST_TEST(first.err.find("steppar did not write") == std::string::npos, "a co-producer's files were called foreign: " << first.err);
    t.check_equals_clean_run();
    BOOST_TEST(t.run().err.find("(0 ran, ") != std::string::npos);

    // doc-0003 moves from count_odd to count_extra: only it runs, in count_extra.
    fs::rename(t.ws.dir / "data/docs/doc-0003.txt", t.ws.dir / "data/extra/doc-0003.txt");
    const auto before = identities(t.ws.dir / "out/counts");
    const Result moved = t.run();
    BOOST_TEST(moved.err.find("count_extra: 1 new, 0 changed, 2 up to date") != std::string::npos, moved.err);
    BOOST_TEST(moved.err.find("count_odd: 0 new, 0 changed, 19 up to date, 1 retracted") != std::string::npos, moved.err);
    BOOST_TEST(moved.err.find("steppar did not write") == std::string::npos, moved.err);
    BOOST_TEST(moved.err.find("warning") == std::string::npos, moved.err);
    BOOST_TEST((rewritten(before, identities(t.ws.dir / "out/counts")) == std::set<std::string>{"doc-0003.json"}));
    t.check_equals_clean_run();

    // doc-0004 in extra too: count_even and count_extra would both write it.
    write_file(t.ws.dir / "data/extra/doc-0004.txt", "a second doc-0004\n");
    const auto kept = identities(t.ws.dir / "out");
    const Result both = t.ws.run();
    BOOST_TEST(both.exit_code == 2);
    BOOST_TEST(both.err.find("partition 'doc-0004' of 'counts' would be written by both '") != std::string::npos, both.err);
    BOOST_TEST(both.err.find("count_even") != std::string::npos, both.err);
    BOOST_TEST(both.err.find("count_extra") != std::string::npos, both.err);
    BOOST_TEST((identities(t.ws.dir / "out") == kept), "a refused run wrote outputs");
}

BOOST_AUTO_TEST_SUITE_END()
