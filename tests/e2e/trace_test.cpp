// The trace of a run (trace.hpp), read with a parser of its own and checked row by row against
// what happened: a failing partition and its retry (under --launch fork and exec), a rerun
// after one new and one deleted input, a slice that crashes, a run stopped by SIGTERM, and the
// state folder keeping the newest STEPPAR_KEEP_TRACES traces (or none).
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace e2e;

namespace {

const std::vector<std::string> columns = {"run",        "step",        "kind",     "unit",      "slice",  "scope",   "partition",
                                          "partitions", "status",      "attempt",  "exit",      "start",  "end",     "wall",
                                          "cpu_user",   "cpu_sys",     "max_rss_kib", "rchar",  "wchar",  "read_bytes",
                                          "write_bytes", "host",       "pid",      "slurm_job", "counters", "message"};

// One row, its fields unescaped (\\, \t, \n, \r).
struct Row {
    std::map<std::string, std::string> field;
    const std::string& operator[](const std::string& column) const { return field.at(column); }
    // "1764061447.819123" in microseconds.
    long long micros(const std::string& column) const {
        const std::string& text = field.at(column);
        const auto dot = text.find('.');
        BOOST_REQUIRE_MESSAGE(dot != std::string::npos && text.size() - dot == 7, column << " is not seconds with 6 decimals: " << text);
        return std::stoll(text.substr(0, dot)) * 1000000 + std::stoll(text.substr(dot + 1));
    }
    // "copy-slice-1 partition p05 failed 1": what the test compares.
    std::string key() const {
        const std::string& p = field.at("partition");
        return field.at("step") + " " + field.at("scope") + (p.empty() ? "" : " " + p) + " " + field.at("status") + " " + field.at("attempt");
    }
};

std::string unescape(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        const char c = text[++i];
        out += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
    }
    return out;
}

std::vector<Row> read_trace(const fs::path& path) {
    const std::string text = read_file(path);
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    std::string header;
    for (const auto& c : columns) header += (header.empty() ? "" : "\t") + c;
    BOOST_REQUIRE_EQUAL(line, header);
    std::vector<Row> rows;
    while (std::getline(in, line)) {
        std::vector<std::string> fields;
        std::size_t start = 0;
        for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) fields.push_back(line.substr(start, tab - start));
        fields.push_back(line.substr(start));
        BOOST_REQUIRE_MESSAGE(fields.size() == columns.size(), "a row of " << fields.size() << " fields: " << line);
        Row row;
        for (std::size_t i = 0; i < columns.size(); ++i) row.field[columns[i]] = unescape(fields[i]);
        rows.push_back(std::move(row));
    }
    BOOST_REQUIRE(text.empty() || text.back() == '\n');
    return rows;
}

std::vector<std::string> keys_of(const std::vector<Row>& rows) {
    std::vector<std::string> keys;
    for (const auto& r : rows) keys.push_back(r.key());
    std::sort(keys.begin(), keys.end());
    return keys;
}

std::vector<std::string> sorted(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    return keys;
}

std::map<std::string, int> count_by_status(const std::vector<Row>& rows) {
    std::map<std::string, int> counts;
    for (const auto& r : rows) ++counts[r["status"]];
    return counts;
}

const Row& step_row(const std::vector<Row>& rows, const std::string& step, const std::string& attempt = "1") {
    for (const auto& r : rows)
        if (r["step"] == step && r["scope"] == "step" && r["attempt"] == attempt) return r;
    BOOST_FAIL("no step row of " + step + " attempt " + attempt);
    return rows.front();
}

bool is_seconds(const std::string& text) { return std::regex_match(text, std::regex(R"(\d+\.\d{6})")); }
bool is_count(const std::string& text) { return std::regex_match(text, std::regex(R"(\d+)")); }

// What holds for every trace: one run id, wall = end - start, partition rows inside the step
// row of their attempt and before it, cost columns on step rows of processes only.
void check_every_row(const std::vector<Row>& rows, const std::string& run_id) {
    const std::set<std::string> kinds = {"slicer", "slice", "barrier", "node"};
    const std::set<std::string> statuses = {"ok", "failed", "skipped", "up-to-date", "retracted"};
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        BOOST_TEST(r["run"] == run_id);
        BOOST_TEST(kinds.count(r["kind"]) == 1u, r["kind"]);
        BOOST_TEST(statuses.count(r["status"]) == 1u, r["status"]);
        BOOST_TEST(r.micros("wall") == r.micros("end") - r.micros("start"), r.key());
        BOOST_TEST(r.micros("end") >= r.micros("start"), r.key());
        BOOST_TEST(is_count(r["attempt"]));
        const char* slurm = std::getenv("SLURM_JOB_ID");  // set only when the tests themselves run in a Slurm job
        if (!slurm) BOOST_TEST(r["slurm_job"] == "");
        if (r["kind"] == "slice") BOOST_TEST(is_count(r["slice"]), r.key());
        else BOOST_TEST(r["slice"] == "", r.key());
        if (r["scope"] == "partition") {
            BOOST_TEST(!r["partition"].empty());
            BOOST_TEST(r["partitions"] == "1");
            BOOST_TEST(r["exit"] == "");
            for (const char* cost : {"cpu_user", "cpu_sys", "max_rss_kib", "rchar", "wchar", "read_bytes", "write_bytes", "counters"})
                BOOST_TEST(r[cost] == "", r.key() << ": " << cost);
            BOOST_TEST(!r["host"].empty());
            BOOST_TEST(is_count(r["pid"]));
            if (r["status"] == "retracted") continue;  // the slicer's, in the host
            // Inside the step row of the same attempt, which comes after it.
            bool found = false;
            for (std::size_t k = i + 1; k < rows.size() && !found; ++k) {
                const Row& s = rows[k];
                if (s["scope"] != "step" || s["step"] != r["step"] || s["attempt"] != r["attempt"]) continue;
                found = true;
                BOOST_TEST(r.micros("start") >= s.micros("start"), r.key());
                BOOST_TEST(r.micros("end") <= s.micros("end"), r.key());
                BOOST_TEST(r["pid"] == s["pid"], r.key());
            }
            BOOST_TEST(found, "no step row after " << r.key());
        } else if (r["scope"] == "partitions") {
            BOOST_TEST(r["status"] == "up-to-date");
            BOOST_TEST(is_count(r["partitions"]));
        } else if (r["status"] == "ok" || (r["status"] == "failed" && (r["exit"].empty() || is_count(r["exit"])))) {
            // A step that ran and ended by itself: its costs are numbers (a slicer's and
            // barrier's are the host's); one killed by a signal could not measure itself.
            BOOST_TEST(is_seconds(r["cpu_user"]), r.key() << ": cpu_user '" << r["cpu_user"] << "'");
            BOOST_TEST(is_seconds(r["cpu_sys"]), r.key());
            BOOST_TEST(is_count(r["max_rss_kib"]), r.key());
            BOOST_TEST(std::stoll(r["max_rss_kib"]) > 0, r.key());
            for (const char* io : {"rchar", "wchar", "read_bytes", "write_bytes"}) BOOST_TEST(is_count(r[io]), r.key() << ": " << io);
            BOOST_TEST(!r["host"].empty());
            BOOST_TEST(is_count(r["pid"]));
            if (r["kind"] == "slice" || r["kind"] == "node") BOOST_TEST(is_count(r["exit"]), r.key() << ": exit '" << r["exit"] << "'");
            else BOOST_TEST(r["exit"] == "");
        }
    }
}

// The run id a run printed at its start ("run: pipeline.yml, ..., run ID").
std::string run_id_in(const std::string& err) {
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_search(err, m, std::regex(R"(, run (\d{8}T\d{6}\.\d{6}Z-\d+)\n)")), err);
    return m[1];
}

// copy (fails once on p05, then succeeds: a retry) -> keep (drops p03, counts).
struct TraceRun : Workspace {
    fs::path flag;
    explicit TraceRun(const std::string& mode = "once", int retries = 1)
        : Workspace("plugins:\n  test: " + fixture("steppar_test_nodes") + R"(
catalog:
  docs:   {type: partitioned, path: docs, suffix: .txt}
  copies: {type: partitioned, path: out/copies, suffix: .txt}
  kept:   {type: partitioned, path: out/kept, suffix: .txt}
params:
  bad: p05
  mode: )" + mode + R"(
  drop: p03
  flag: FLAG
nodes:
  - {name: copy, func: test.fault, inputs: [docs, params:bad, params:mode, params:flag], outputs: [copies], slices: 2, retries: )" +
                    std::to_string(retries) + R"(}
  - {name: keep, func: test.keep_unless, inputs: [copies, params:drop], outputs: [kept]}
)") {
        flag = dir / "flag";
        std::string spec = read_file(pipeline);
        spec.replace(spec.find("FLAG"), 4, flag.string());
        write_file(pipeline, spec);
        for (const char* name : {"p01", "p02", "p03", "p04", "p05", "p06"}) write_file(dir / ("docs/" + std::string(name) + ".txt"), std::string("text of ") + name + "\n");
        write_file(flag, "armed\n");
    }
    fs::path default_trace(const std::string& run_id) const { return dir / (".steppar/traces/" + run_id + ".tsv"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(trace)

BOOST_AUTO_TEST_CASE(every_row_of_a_retried_run_and_of_its_rerun) {
    for (const std::string launch : {"fork", "exec"}) {
        BOOST_TEST_CONTEXT("--launch " << launch) {
            TraceRun ws;
            const fs::path file = ws.dir / "trace.tsv";
            const Result first = ws.run({"--launch", launch, "-j", "2", "--trace", file.string()});
            BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.err);
            const std::string id = run_id_in(first.err);
            const auto rows = read_trace(file);
            check_every_row(rows, id);
            BOOST_TEST(read_file(ws.default_trace(id)) == read_file(file));  // the same trace, twice
            BOOST_TEST(keys_of(rows) == sorted({
                "copy-slicer step ok 1",
                "copy-slice-0 partition p01 ok 1", "copy-slice-0 partition p02 ok 1", "copy-slice-0 partition p03 ok 1", "copy-slice-0 step ok 1",
                "copy-slice-1 partition p04 ok 1", "copy-slice-1 partition p05 failed 1", "copy-slice-1 step failed 1",
                "copy-slice-1 partition p04 skipped 2", "copy-slice-1 partition p05 ok 2", "copy-slice-1 partition p06 ok 2", "copy-slice-1 step ok 2",
                "copy-barrier step ok 1",
                "keep partition p01 ok 1", "keep partition p02 ok 1", "keep partition p03 ok 1", "keep partition p04 ok 1",
                "keep partition p05 ok 1", "keep partition p06 ok 1", "keep step ok 1"}), boost::test_tools::per_element());
            BOOST_TEST((count_by_status(rows) == std::map<std::string, int>{{"ok", 17}, {"failed", 2}, {"skipped", 1}}));
            BOOST_TEST(step_row(rows, "copy-slicer")["partitions"] == "6");
            BOOST_TEST(step_row(rows, "copy-slice-0")["partitions"] == "3");
            BOOST_TEST(step_row(rows, "copy-slice-0")["slice"] == "0");
            const Row& failed = step_row(rows, "copy-slice-1", "1");
            BOOST_TEST(failed["exit"] == "1");
            BOOST_TEST(failed["message"].find("failed on partition 'p05'") != std::string::npos, failed["message"]);
            BOOST_TEST(failed["slice"] == "1");
            BOOST_TEST(step_row(rows, "copy-slice-1", "2")["exit"] == "0");
            BOOST_TEST(step_row(rows, "copy-slice-1", "2")["pid"] != failed["pid"]);
            for (const auto& r : rows)
                if (r["partition"] == "p05" && r["status"] == "failed") BOOST_TEST(r["message"].find("transient failure on p05") != std::string::npos, r["message"]);
                else if (r["partition"] == "p04" && r["status"] == "skipped") BOOST_TEST(r["message"] == "done by an earlier attempt");
            const Row& keep = step_row(rows, "keep");
            BOOST_TEST(keep["kind"] == "node");
            BOOST_TEST(keep["counters"] == R"({"dropped":1,"kept":5})");
            BOOST_TEST(keep["partitions"] == "6");

            // One new input, one deleted: what ran, what was retracted, how much was up to date.
            write_file(ws.dir / "docs/p07.txt", "text of p07\n");
            fs::remove(ws.dir / "docs/p02.txt");
            const Result second = ws.run({"--launch", launch, "-j", "2"});
            BOOST_REQUIRE_MESSAGE(second.exit_code == 0, second.err);
            const std::string id2 = run_id_in(second.err);
            BOOST_TEST(id2 != id);
            const auto rerun = read_trace(ws.default_trace(id2));
            check_every_row(rerun, id2);
            BOOST_TEST(keys_of(rerun) == sorted({
                "copy-slicer partitions up-to-date 1", "copy-slicer partition p02 retracted 1", "copy-slicer step ok 1",
                "copy-slice-0 partition p07 ok 1", "copy-slice-0 step ok 1", "copy-slice-1 step up-to-date 1",
                "copy-barrier step ok 1",
                "keep partitions up-to-date 1", "keep partition p02 retracted 1", "keep partition p07 ok 1", "keep step ok 1"}),
                boost::test_tools::per_element());
            BOOST_TEST((count_by_status(rerun) == std::map<std::string, int>{{"ok", 6}, {"up-to-date", 3}, {"retracted", 2}}));
            for (const auto& r : rerun) {
                if (r["scope"] == "partitions") BOOST_TEST(r["partitions"] == "5", r.key());
                if (r["status"] == "retracted") BOOST_TEST(r["kind"] == (r["step"] == "keep" ? "node" : "slicer"));
            }
            BOOST_TEST(step_row(rerun, "copy-slice-1")["partitions"] == "0");
            BOOST_TEST(step_row(rerun, "copy-slice-1")["message"] == "nothing to run");
            BOOST_TEST(step_row(rerun, "keep")["counters"] == R"({"kept":1})");
            BOOST_TEST(!fs::exists(ws.dir / ".steppar/traces/parts"));  // every part gathered
        }
    }
}

// A slice killed by a signal: the rows of the partitions it finished were written by its
// handler, the host says how it ended, and the failed run still leaves its trace.
BOOST_AUTO_TEST_CASE(a_crashed_slice_and_a_failed_run) {
    TraceRun ws("segv", 0);
    const Result r = ws.run({"-j", "2"});
    BOOST_REQUIRE_EQUAL(r.exit_code, 1);
    const std::string id = run_id_in(r.err);
    const auto rows = read_trace(ws.default_trace(id));
    check_every_row(rows, id);
    BOOST_TEST(keys_of(rows) == sorted({
        "copy-slicer step ok 1",
        "copy-slice-0 partition p01 ok 1", "copy-slice-0 partition p02 ok 1", "copy-slice-0 partition p03 ok 1", "copy-slice-0 step ok 1",
        "copy-slice-1 partition p04 ok 1", "copy-slice-1 step failed 1",
        "copy-barrier step failed 1", "keep step skipped 1"}), boost::test_tools::per_element());
    const Row& crashed = step_row(rows, "copy-slice-1");
    BOOST_TEST(crashed["exit"] == "SIGSEGV");
    BOOST_TEST(crashed["message"].find("crashed: killed by SIGSEGV on partition 'p05'") != std::string::npos, crashed["message"]);
    BOOST_TEST(crashed["cpu_user"] == "");  // it could not measure itself
    BOOST_TEST(step_row(rows, "keep")["message"].find("not run") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_run_stopped_by_sigterm_writes_its_trace) {
    TraceRun ws("hold", 0);
    const fs::path file = ws.dir / "stopped.tsv";
    Background run({"run", ws.pipeline.string(), "-j", "2", "--trace", file.string()});
    // p05's node holds with its output's temporary on disk: slice 1 is in the middle of p05.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (temporaries_under(ws.dir / "out/copies").empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_REQUIRE(!temporaries_under(ws.dir / "out/copies").empty());
    run.signal(SIGTERM);
    const Result r = run.wait(20);
    BOOST_REQUIRE_EQUAL(r.exit_code, 128 + SIGTERM);
    const std::string id = run_id_in(r.err);
    const auto rows = read_trace(file);
    check_every_row(rows, id);
    const Row& stopped = step_row(rows, "copy-slice-1");
    BOOST_TEST(stopped["status"] == "skipped");
    BOOST_TEST(stopped["exit"] == "SIGTERM");
    std::set<std::string> keys;
    for (const auto& row : rows) keys.insert(row.key());
    BOOST_TEST(keys.count("copy-slice-1 partition p04 ok 1") == 1u);  // written by its handler
    BOOST_TEST(keys.count("copy-barrier step skipped 1") == 1u);
    BOOST_TEST(keys.count("keep step skipped 1") == 1u);
    BOOST_TEST(read_file(ws.default_trace(id)) == read_file(file));
}

// STEPPAR_KEEP_TRACES: the newest N traces stay; 0 writes none (but --trace FILE still works).
BOOST_AUTO_TEST_CASE(the_state_folder_keeps_the_newest_traces) {
    TraceRun ws("throw", 0);
    fs::remove(ws.flag);
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const Result r = shell("STEPPAR_KEEP_TRACES=2 " + quote(host_program()) + " run " + quote(ws.pipeline.string()));
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        ids.push_back(run_id_in(r.err));
    }
    std::vector<std::string> kept;
    for (const auto& entry : fs::directory_iterator(ws.dir / ".steppar/traces")) kept.push_back(entry.path().filename().string());
    std::sort(kept.begin(), kept.end());
    BOOST_TEST(kept == (std::vector<std::string>{ids[1] + ".tsv", ids[2] + ".tsv"}), boost::test_tools::per_element());
    // The last two runs had nothing to do: every step up to date or nothing to run.
    const auto idle = read_trace(ws.default_trace(ids[2]));
    check_every_row(idle, ids[2]);
    BOOST_TEST((count_by_status(idle) == std::map<std::string, int>{{"ok", 2}, {"up-to-date", 5}}));

    const fs::path file = ws.dir / "only.tsv";
    const Result off = shell("STEPPAR_KEEP_TRACES=0 " + quote(host_program()) + " run " + quote(ws.pipeline.string()) + " --trace " + quote(file.string()));
    BOOST_REQUIRE_MESSAGE(off.exit_code == 0, off.err);
    BOOST_TEST(read_trace(file).size() == idle.size());
    BOOST_TEST(!fs::exists(ws.default_trace(run_id_in(off.err))));
    const Result none = shell("STEPPAR_KEEP_TRACES=0 " + quote(host_program()) + " run " + quote(ws.pipeline.string()));
    BOOST_TEST(none.err.find(", run ") == std::string::npos, none.err);  // no trace, no run id
    const Result bad = shell("STEPPAR_KEEP_TRACES=-1 " + quote(host_program()) + " run " + quote(ws.pipeline.string()));
    BOOST_TEST(bad.exit_code == 2);
    BOOST_TEST(bad.err.find("STEPPAR_KEEP_TRACES must be a whole number from 0") != std::string::npos, bad.err);
}

BOOST_AUTO_TEST_SUITE_END()
