// The trace's rows (trace.hpp): written and read back with every awkward byte escaped, refused
// when they are not rows; a step's fast partition rows (step_trace.hpp) read as the same rows;
// what a signal handler writes; and the state folder keeping only the newest traces
// (run_trace.hpp).
#include "support.hpp"

#include <steppar/error.hpp>
#include <steppar/run_trace.hpp>
#include <steppar/spec.hpp>
#include <steppar/step_trace.hpp>
#include <steppar/trace.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

steppar::TraceRow awkward_row() {
    steppar::TraceRow row;
    row.run = "20261125T090407.819123Z-4711";
    row.step = "count-slice-2";
    row.kind = steppar::StepKind::slice;
    row.unit = "count";
    row.slice = 2;
    row.scope = steppar::TraceScope::partition;
    row.partition = "dir/a\tb\nc\\d\re";
    row.partitions = 1;
    row.status = steppar::TraceStatus::failed;
    row.attempt = 3;
    row.exit = "SIGSEGV";
    row.start_us = 1764061447819123;
    row.end_us = 1764061448000001;
    row.usage = {1500000, 250, 20480, 7, 8, 0, 4096};
    row.host = "box";
    row.pid = 4711;
    row.slurm_job = "61_2";
    row.counters = R"({"a\tb":1,"rows":12})";
    row.message = "node 'copy': line one\nline two\twith a tab and a \\";
    return row;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream all;
    all << in.rdbuf();
    return all.str();
}

// The environment a run gives its steps, for one test.
struct TracedRun {
    steppar_test::TempDir dir;
    TracedRun() {
        ::setenv(steppar::trace_run_variable, "run-1", 1);
        ::setenv(steppar::trace_dir_variable, dir.path().c_str(), 1);
    }
    ~TracedRun() {
        ::unsetenv(steppar::trace_run_variable);
        ::unsetenv(steppar::trace_dir_variable);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(trace)

BOOST_AUTO_TEST_CASE(header_names_every_column) {
    const std::string header(steppar::trace_header());
    BOOST_TEST(header ==
               "run\tstep\tkind\tunit\tslice\tscope\tpartition\tpartitions\tstatus\tattempt\texit\tstart\tend\twall\tcpu_user\tcpu_sys\t"
               "max_rss_kib\trchar\twchar\tread_bytes\twrite_bytes\thost\tpid\tslurm_job\tcounters\tmessage\n");
}

BOOST_AUTO_TEST_CASE(rows_escape_and_read_back) {
    const steppar::TraceRow row = awkward_row();
    std::string text;
    steppar::append_trace_row(text, row);
    BOOST_TEST(text.back() == '\n');
    text.pop_back();
    // One line of exactly 26 fields: nothing in a name or message may add a tab or a newline.
    BOOST_TEST(text.find('\n') == std::string::npos);
    BOOST_TEST(std::count(text.begin(), text.end(), '\t') == 25);
    BOOST_TEST(contains(text, "\tdir/a\\tb\\nc\\\\d\\re\t"));
    BOOST_TEST(contains(text, "\t1764061447.819123\t1764061448.000001\t0.180878\t1.500000\t0.000250\t20480\t7\t8\t0\t4096\t"));
    BOOST_TEST((steppar::parse_trace_row(text) == row));

    // Unknown values are empty fields, and read back as unknown.
    steppar::TraceRow sparse;
    sparse.run = "r";
    sparse.step = "total";
    sparse.kind = steppar::StepKind::node;
    sparse.unit = "total";
    sparse.status = steppar::TraceStatus::up_to_date;
    sparse.start_us = sparse.end_us = 5;
    std::string line;
    steppar::append_trace_row(line, sparse);
    BOOST_TEST(line == "r\ttotal\tnode\ttotal\t\tstep\t\t\tup-to-date\t1\t\t0.000005\t0.000005\t0.000000\t\t\t\t\t\t\t\t\t\t\t\t\n");
    line.pop_back();
    BOOST_TEST((steppar::parse_trace_row(line) == sparse));
}

BOOST_AUTO_TEST_CASE(every_status_has_its_exact_name) {
    using steppar::TraceStatus;
    BOOST_TEST(std::string(to_string(TraceStatus::ok)) == "ok");
    BOOST_TEST(std::string(to_string(TraceStatus::failed)) == "failed");
    BOOST_TEST(std::string(to_string(TraceStatus::skipped)) == "skipped");
    BOOST_TEST(std::string(to_string(TraceStatus::up_to_date)) == "up-to-date");
    BOOST_TEST(std::string(to_string(TraceStatus::retracted)) == "retracted");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_row_is_refused) {
    std::string good;
    steppar::append_trace_row(good, awkward_row());
    good.pop_back();
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_trace_row(good + "\textra"); }), "27 fields instead of 26"));
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_trace_row("a\tb"); }), "2 fields instead of 26"));
    std::string wall = good;
    wall.replace(wall.find("0.180878"), 8, "0.180879");
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_trace_row(wall); }), "wall is not end - start"));
    std::string status = good;
    status.replace(status.find("\tfailed\t"), 8, "\tbroken\t");
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_trace_row(status); }), "unknown status 'broken'"));
    std::string seconds = good;
    seconds.replace(seconds.find("1764061447.819123"), 17, "1764061447.81912");
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::parse_trace_row(seconds); }), "start is not seconds with 6 decimals"));
}

BOOST_AUTO_TEST_CASE(run_ids_sort_by_time) {
    const std::string id = steppar::make_run_id();
    BOOST_TEST(id.size() > 24u);
    BOOST_TEST(id[8] == 'T');
    BOOST_TEST(id.substr(22, 2) == "Z-");
    BOOST_TEST(id.substr(24) == std::to_string(::getpid()));
}

BOOST_AUTO_TEST_CASE(counters_are_compact_json) {
    BOOST_TEST(steppar::counters_json({}) == "");
    BOOST_TEST(steppar::counters_json({{"rows", 12}, {"dropped", -1}, {"say \"hi\"", 2}}) == R"({"dropped":-1,"rows":12,"say \"hi\"":2})");
}

// The fast path formats a row by hand into its buffer: it must read back as the same row the
// slow path makes.
BOOST_AUTO_TEST_CASE(a_steps_partition_rows_are_rows) {
    const TracedRun run;
    {
        auto trace = steppar::StepTrace::begin({"count-slice-1", steppar::StepKind::slice, "count", 1, 2});
        BOOST_REQUIRE(trace);
        BOOST_TEST(steppar::step_trace() == trace.get());
        BOOST_TEST(steppar::trace_log() == trace.get());
        BOOST_TEST(!steppar::StepTrace::begin({"other", steppar::StepKind::slice, "count", 0, 1}));  // one per process
        trace->partition("a", steppar::TraceStatus::ok, 1000000, 1000123);
        trace->partition("odd\tname\n\\", steppar::TraceStatus::failed, 1000123, 2000000, "it broke:\tbadly");
        // More rows than the buffer holds, and a message longer than it: all arrive, in order.
        for (int i = 0; i < 2000; ++i) trace->partition("p" + std::to_string(i), steppar::TraceStatus::skipped, 5, 6);
        trace->partition("long", steppar::TraceStatus::failed, 7, 8, std::string(70000, 'x'));
        trace->set_counters({{"rows", 3}});
        trace->set_partitions(2003);
        trace->end(0, {});
    }
    BOOST_TEST(!steppar::step_trace());
    BOOST_TEST(!steppar::trace_log());
    const auto rows = lines_of(slurp(steppar::trace_rows_part(run.dir.path(), "count-slice-1", 2)));
    BOOST_REQUIRE(rows.size() == 2003u);
    const steppar::TraceRow first = steppar::parse_trace_row(rows[0]);
    BOOST_TEST(first.run == "run-1");
    BOOST_TEST(first.step == "count-slice-1");
    BOOST_TEST((first.kind == steppar::StepKind::slice));
    BOOST_TEST(first.unit == "count");
    BOOST_TEST(first.slice == 1);
    BOOST_TEST((first.scope == steppar::TraceScope::partition));
    BOOST_TEST(first.partition == "a");
    BOOST_TEST(first.partitions == 1);
    BOOST_TEST((first.status == steppar::TraceStatus::ok));
    BOOST_TEST(first.attempt == 2);
    BOOST_TEST(first.exit == "");
    BOOST_TEST(first.start_us == 1000000);
    BOOST_TEST(first.end_us == 1000123);
    BOOST_TEST(first.usage.cpu_user_us == -1);
    BOOST_TEST(first.pid == static_cast<long>(::getpid()));
    BOOST_TEST(first.host == steppar::host_name());
    BOOST_TEST(first.counters == "");
    const steppar::TraceRow odd = steppar::parse_trace_row(rows[1]);
    BOOST_TEST(odd.partition == "odd\tname\n\\");
    BOOST_TEST(odd.message == "it broke:\tbadly");
    BOOST_TEST((odd.status == steppar::TraceStatus::failed));
    BOOST_TEST(steppar::parse_trace_row(rows[1001]).partition == "p999");
    BOOST_TEST(steppar::parse_trace_row(rows[2002]).message == std::string(70000, 'x'));

    const auto step = lines_of(slurp(steppar::trace_step_part(run.dir.path(), "count-slice-1", 2)));
    BOOST_REQUIRE(step.size() == 1u);
    const steppar::TraceRow own = steppar::parse_trace_row(step[0]);
    BOOST_TEST((own.scope == steppar::TraceScope::step));
    BOOST_TEST((own.status == steppar::TraceStatus::ok));
    BOOST_TEST(own.exit == "0");
    BOOST_TEST(own.partitions == 2003);
    BOOST_TEST(own.counters == R"({"rows":3})");
    BOOST_TEST(own.usage.cpu_user_us >= 0);
    BOOST_TEST(own.usage.max_rss_kib > 0);
    BOOST_TEST(own.end_us >= own.start_us);
}

BOOST_AUTO_TEST_CASE(a_failed_or_idle_step_says_so) {
    const TracedRun run;
    {
        auto trace = steppar::StepTrace::begin({"total", steppar::StepKind::node, "total", -1, 1});
        BOOST_REQUIRE(trace);
        trace->end(1, "node 'total' failed: no");
    }
    {
        auto trace = steppar::StepTrace::begin({"count-slice-0", steppar::StepKind::slice, "count", 0, 1});
        trace->mark_up_to_date();
        trace->end(0, {});
    }
    const auto failed = steppar::parse_trace_row(lines_of(slurp(steppar::trace_step_part(run.dir.path(), "total", 1))).at(0));
    BOOST_TEST((failed.status == steppar::TraceStatus::failed));
    BOOST_TEST(failed.exit == "1");
    BOOST_TEST(failed.slice == -1);
    BOOST_TEST(failed.message == "node 'total' failed: no");
    const auto idle = steppar::parse_trace_row(lines_of(slurp(steppar::trace_step_part(run.dir.path(), "count-slice-0", 1))).at(0));
    BOOST_TEST((idle.status == steppar::TraceStatus::up_to_date));
}

// What a termination handler writes: the rows complete so far, each once.
BOOST_AUTO_TEST_CASE(a_signal_handler_writes_the_whole_rows) {
    const TracedRun run;
    auto trace = steppar::StepTrace::begin({"count-slice-0", steppar::StepKind::slice, "count", 0, 1});
    BOOST_REQUIRE(trace);
    trace->partition("a", steppar::TraceStatus::ok, 1, 2);
    trace->partition("b", steppar::TraceStatus::ok, 2, 3);
    const fs::path rows = steppar::trace_rows_part(run.dir.path(), "count-slice-0", 1);
    BOOST_TEST(slurp(rows).empty());  // buffered
    steppar::flush_step_trace_on_signal();
    BOOST_TEST(lines_of(slurp(rows)).size() == 2u);
    steppar::flush_step_trace_on_signal();
    trace.reset();
    BOOST_TEST(lines_of(slurp(rows)).size() == 2u);
    BOOST_TEST(!fs::exists(steppar::trace_step_part(run.dir.path(), "count-slice-0", 1)));  // it never ended
}

BOOST_AUTO_TEST_CASE(no_run_no_rows) {
    ::unsetenv(steppar::trace_run_variable);
    BOOST_TEST(!steppar::StepTrace::begin({"count-slice-0", steppar::StepKind::slice, "count", 0, 1}));
}

BOOST_AUTO_TEST_CASE(slurm_restarts_are_attempts) {
    BOOST_TEST(steppar::attempt_from_environment() == 1);
    ::setenv("SLURM_RESTART_COUNT", "2", 1);
    BOOST_TEST(steppar::attempt_from_environment() == 3);
    ::setenv("SLURM_RESTART_COUNT", "x", 1);
    BOOST_TEST(steppar::attempt_from_environment() == 1);
    ::unsetenv("SLURM_RESTART_COUNT");
}

// The default folder keeps the newest kept_traces() (20 here: STEPPAR_KEEP_TRACES is not set
// for the unit tests) and nothing else of it is touched.
BOOST_AUTO_TEST_CASE(the_state_folder_keeps_the_newest_traces) {
    BOOST_REQUIRE(steppar::kept_traces() == steppar::limits::default_kept_traces);
    const steppar_test::TempDir state_dir;
    const steppar::StateLayout state(state_dir.path());
    const fs::path traces = steppar::traces_dir(state);
    fs::create_directories(traces / "parts" / "20200101T000000.000000Z-1");  // a run killed before it finished
    for (int i = 0; i < 25; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "20200101T0000%02d.000000Z-1.tsv", i);
        std::ofstream(traces / name) << "old\n";
    }
    std::ofstream(traces / "notes.txt") << "mine\n";
    std::string id;
    {
        auto run = steppar::RunTrace::start(state, state_dir.path() / "also.tsv");
        BOOST_REQUIRE(run);
        id = run->run_id();
        BOOST_TEST(std::getenv(steppar::trace_run_variable) == id);
        BOOST_TEST(!fs::exists(traces / "parts" / "20200101T000000.000000Z-1"));
        run->step_row({"total", "total", steppar::StepKind::node, -1}, steppar::TraceStatus::up_to_date, "nothing to do");
        BOOST_TEST(run->has_step_row("total"));
        run->finish();
    }
    BOOST_TEST(!std::getenv(steppar::trace_run_variable));
    std::vector<std::string> kept;
    for (const auto& entry : fs::directory_iterator(traces)) kept.push_back(entry.path().filename().string());
    std::sort(kept.begin(), kept.end());
    BOOST_REQUIRE(kept.size() == 21u);  // 20 traces and notes.txt; no parts folder left
    BOOST_TEST(kept.front() == "20200101T000006.000000Z-1.tsv");
    BOOST_TEST(kept[19] == id + ".tsv");
    BOOST_TEST(kept.back() == "notes.txt");
    const std::string written = slurp(traces / (id + ".tsv"));
    BOOST_TEST(written == slurp(state_dir.path() / "also.tsv"));
    const auto lines = lines_of(written);
    BOOST_REQUIRE(lines.size() == 2u);
    BOOST_TEST(lines[0] + "\n" == std::string(steppar::trace_header()));
    const auto row = steppar::parse_trace_row(lines[1]);
    BOOST_TEST(row.run == id);
    BOOST_TEST(row.message == "nothing to do");
}

BOOST_AUTO_TEST_CASE(a_trace_file_needs_its_folder) {
    const steppar_test::TempDir state_dir;
    const steppar::StateLayout state(state_dir.path());
    BOOST_TEST(contains(error_of<steppar::UsageError>([&] { steppar::RunTrace::start(state, state_dir.path() / "no" / "t.tsv"); }),
                        "there is no folder"));
}

BOOST_AUTO_TEST_SUITE_END()
