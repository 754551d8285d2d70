// A run's report read back from its trace (run_report.hpp): every figure of a small retried run
// worked out by hand, the slowest partitions kept whatever the run's size, the timeline's
// partitions dropped above the detail limit, the outcome decided by each step's last attempt,
// traces that are not one run's refused with file and line, and a run found by id.
#include "support.hpp"

#include <steppar/error.hpp>
#include <steppar/run_report.hpp>
#include <steppar/trace.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using steppar::StepKind;
using steppar::TraceRow;
using steppar::TraceScope;
using steppar::TraceStatus;
using steppar_test::contains;
using steppar_test::error_of;

namespace {

constexpr std::int64_t t0 = 1764061447000000;  // the run's start, in microseconds

TraceRow step_row(const std::string& step, StepKind kind, const std::string& unit, int slice, std::int64_t start_ms,
                  std::int64_t end_ms, TraceStatus status = TraceStatus::ok, int attempt = 1) {
    TraceRow row;
    row.run = "run-7";
    row.step = step;
    row.kind = kind;
    row.unit = unit;
    row.slice = slice;
    row.scope = TraceScope::step;
    row.status = status;
    row.attempt = attempt;
    row.start_us = t0 + start_ms * 1000;
    row.end_us = t0 + end_ms * 1000;
    row.usage = {10000, 2000, 5000, 100, 200, 0, 4096};
    row.host = "box";
    row.pid = 100 + slice;
    return row;
}

TraceRow partition_row(const TraceRow& step, const std::string& partition, std::int64_t start_ms, std::int64_t end_ms,
                       TraceStatus status = TraceStatus::ok, const std::string& message = "") {
    TraceRow row = step;
    row.scope = TraceScope::partition;
    row.partition = partition;
    row.partitions = 1;
    row.status = status;
    row.start_us = t0 + start_ms * 1000;
    row.end_us = t0 + end_ms * 1000;
    row.usage = {};
    row.message = message;
    return row;
}

std::string trace_of(const std::vector<TraceRow>& rows) {
    std::string text(steppar::trace_header());
    for (const auto& r : rows) steppar::append_trace_row(text, r);
    return text;
}

steppar::RunReport report_of(const std::vector<TraceRow>& rows, const steppar::ReportOptions& options = {}) {
    std::istringstream in(trace_of(rows));
    return steppar::read_run_report(in, "t.tsv", options);
}

// copy: slicer, slice 0 (a, b), slice 1 attempt 1 fails on d after c, attempt 2 skips c and
// does d; barrier; then the node keep (up to date for 3 partitions, runs 1, retracts 1).
std::vector<TraceRow> retried_run() {
    std::vector<TraceRow> rows;
    TraceRow slicer = step_row("copy-slicer", StepKind::slicer, "copy", -1, 0, 10);
    slicer.slice = -1;
    TraceRow s0 = step_row("copy-slice-0", StepKind::slice, "copy", 0, 10, 110);
    rows.push_back(partition_row(s0, "a", 20, 50));
    rows.push_back(partition_row(s0, "b", 50, 100));
    TraceRow s1 = step_row("copy-slice-1", StepKind::slice, "copy", 1, 10, 60, TraceStatus::failed);
    s1.exit = "1";
    s1.message = "node 'copy' failed on partition 'd'";
    rows.insert(rows.begin(), slicer);
    rows.push_back(partition_row(s1, "c", 15, 35));
    rows.push_back(partition_row(s1, "d", 35, 55, TraceStatus::failed, "boom"));
    rows.push_back(s1);
    rows.push_back(s0);
    TraceRow s1b = step_row("copy-slice-1", StepKind::slice, "copy", 1, 60, 200, TraceStatus::ok, 2);
    rows.push_back(partition_row(s1b, "c", 61, 61, TraceStatus::skipped, "done by an earlier attempt"));
    rows.push_back(partition_row(s1b, "d", 65, 195));
    rows.push_back(s1b);
    rows.push_back(step_row("copy-barrier", StepKind::barrier, "copy", -1, 200, 201));
    TraceRow keep = step_row("keep", StepKind::node, "keep", -1, 201, 301);
    TraceRow uptodate = keep;
    uptodate.scope = TraceScope::partitions;
    uptodate.partitions = 3;
    uptodate.status = TraceStatus::up_to_date;
    uptodate.start_us = uptodate.end_us = keep.start_us;
    uptodate.usage = {};
    rows.push_back(uptodate);
    rows.push_back(partition_row(keep, "gone", 201, 201, TraceStatus::retracted, "its input was deleted"));
    rows.push_back(partition_row(keep, "d", 210, 290));
    rows.push_back(keep);
    return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_report)

BOOST_AUTO_TEST_CASE(every_figure_of_a_retried_run) {
    const auto report = report_of(retried_run());
    BOOST_TEST(report.run == "run-7");
    BOOST_TEST(report.outcome() == "ok");  // slice 1's retry made its failure good
    BOOST_TEST(report.rows == 15);
    BOOST_TEST(report.partition_rows == 8);
    BOOST_TEST(report.start_us == t0);
    BOOST_TEST(report.end_us == t0 + 301000);
    BOOST_TEST(report.partitions_with(TraceStatus::ok) == 5);  // c ran before d failed
    BOOST_TEST(report.partitions_with(TraceStatus::failed) == 1);
    BOOST_TEST(report.partitions_with(TraceStatus::skipped) == 1);
    BOOST_TEST(report.partitions_with(TraceStatus::up_to_date) == 3);
    BOOST_TEST(report.partitions_with(TraceStatus::retracted) == 1);
    BOOST_TEST(report.failed_rows == 2);
    BOOST_REQUIRE_EQUAL(report.failures.size(), 2u);
    BOOST_TEST(report.failures[0].partition == "d");
    BOOST_TEST(report.failures[1].message == "node 'copy' failed on partition 'd'");

    // Attempts in the trace's order, each with what its partitions took.
    std::vector<std::string> steps;
    for (const auto& a : report.attempts) steps.push_back(a.row.step + "#" + std::to_string(a.row.attempt));
    BOOST_TEST(steps == (std::vector<std::string>{"copy-slicer#1", "copy-slice-1#1", "copy-slice-0#1", "copy-slice-1#2",
                                                  "copy-barrier#1", "keep#1"}),
               boost::test_tools::per_element());
    const auto& s0 = report.attempts[2];
    BOOST_TEST(s0.partition_rows == 2);
    BOOST_TEST(s0.partition_us == 80000);
    BOOST_TEST(s0.longest_us == 50000);
    BOOST_TEST(s0.longest == "b");
    BOOST_TEST(report.attempts[3].partition_rows == 2);
    BOOST_TEST(report.attempts[3].longest == "d");
    BOOST_TEST(report.attempts[5].partition_rows == 2);  // retracted and ran; the up-to-date row is a count

    // Units: partitions by status, the attempts that ran and what they cost.
    BOOST_REQUIRE_EQUAL(report.units.size(), 2u);
    const auto& copy = report.units[0];
    BOOST_TEST(copy.name == "copy");
    BOOST_TEST(copy.partitions.at(TraceStatus::ok) == 4);
    BOOST_TEST(copy.partitions.at(TraceStatus::failed) == 1);
    BOOST_TEST(copy.partitions.at(TraceStatus::skipped) == 1);
    BOOST_TEST(copy.attempts == 5);
    BOOST_TEST(copy.slices == 2);
    BOOST_TEST(copy.busy_us == (10 + 100 + 50 + 140 + 1) * 1000);
    BOOST_TEST(copy.cpu_user_us == 5 * 10000);
    BOOST_TEST(copy.write_bytes == 5 * 4096);
    BOOST_TEST(copy.max_rss_kib == 5000);
    BOOST_TEST(copy.first_start_us == t0);
    BOOST_TEST(copy.last_end_us == t0 + 201000);
    BOOST_TEST(copy.slice_longest_us == 140000);  // slice 1's last attempt
    BOOST_TEST(copy.slice_median_us == 100000);
    const auto& keep = report.units[1];
    BOOST_TEST(keep.partitions.at(TraceStatus::up_to_date) == 3);
    BOOST_TEST(keep.partitions.at(TraceStatus::retracted) == 1);
    BOOST_TEST(keep.partitions.at(TraceStatus::ok) == 1);
    BOOST_TEST(keep.attempts == 1);
    BOOST_TEST(keep.slices == 0);

    // Reasons: grouped by unit, status and message, counted, with examples.
    BOOST_REQUIRE_EQUAL(report.reasons.size(), 3u);
    BOOST_TEST(report.reasons[0].unit == "copy");
    BOOST_TEST(report.reasons[0].message == "done by an earlier attempt");
    BOOST_TEST(report.reasons[0].count == 1);
    BOOST_TEST(report.reasons[0].examples == std::vector<std::string>{"c"}, boost::test_tools::per_element());
    long long up_to_date = 0, retracted = 0;
    for (const auto& r : report.reasons) {
        if (r.status == TraceStatus::up_to_date) up_to_date += r.count;
        if (r.status == TraceStatus::retracted) {
            retracted += r.count;
            BOOST_TEST(r.message == "its input was deleted");
            BOOST_TEST(r.examples == std::vector<std::string>{"gone"}, boost::test_tools::per_element());
        }
    }
    BOOST_TEST(up_to_date == 3);
    BOOST_TEST(retracted == 1);

    // The slowest partitions that ran (ok or failed), slowest first.
    std::vector<std::string> slow;
    for (const auto& s : report.slowest) slow.push_back(s.step + ":" + s.partition + "=" + std::to_string(s.wall_us / 1000));
    BOOST_TEST(slow == (std::vector<std::string>{"copy-slice-1:d=130", "keep:d=80", "copy-slice-0:b=50", "copy-slice-0:a=30",
                                                 "copy-slice-1:c=20", "copy-slice-1:d=20"}),
               boost::test_tools::per_element());

    // Concurrency: slices 0 and 1 together, then 0 with the retry.
    BOOST_TEST(report.peak_concurrency == 2);
    const double busy = 10 + 100 + 50 + 140 + 1 + 100;
    BOOST_TEST(report.mean_concurrency == busy / 301, boost::test_tools::tolerance(1e-9));
    BOOST_REQUIRE(!report.concurrency.empty());
    BOOST_TEST(report.concurrency.back().running == 0);
    BOOST_TEST(report.concurrency.front().at_us == t0);

    // Every partition row is kept for the timeline, each pointing at its attempt.
    BOOST_TEST(report.detailed);
    BOOST_REQUIRE_EQUAL(report.spans.size(), 8u);
    for (const auto& span : report.spans) {
        const TraceRow& owner = report.attempts.at(span.attempt).row;
        BOOST_TEST(span.start_us >= owner.start_us, span.partition);
        BOOST_TEST(span.end_us <= owner.end_us, span.partition);
    }
}

BOOST_AUTO_TEST_CASE(the_slowest_are_kept_and_the_timeline_aggregated_above_the_limits) {
    std::vector<TraceRow> rows;
    TraceRow slice = step_row("big-slice-0", StepKind::slice, "big", 0, 0, 100000);
    for (int i = 0; i < 5000; ++i)  // partition i takes (i * 7919 % 5000) ms: every length once
        rows.push_back(partition_row(slice, "p" + std::to_string(i), i, i + i * 7919 % 5000));
    rows.push_back(slice);
    steppar::ReportOptions options;
    options.top = 5;
    options.detail_limit = 4999;
    const auto report = report_of(rows, options);
    BOOST_TEST(!report.detailed);
    BOOST_TEST(report.spans.empty());
    BOOST_TEST(report.partition_rows == 5000);
    BOOST_TEST(report.partitions_with(TraceStatus::ok) == 5000);
    BOOST_REQUIRE_EQUAL(report.slowest.size(), 5u);
    for (std::size_t k = 0; k < 5; ++k) BOOST_TEST(report.slowest[k].wall_us == (4999 - static_cast<long long>(k)) * 1000);
    BOOST_TEST(report.attempts.at(0).longest_us == 4999000);
    BOOST_TEST(report.attempts.at(0).partition_rows == 5000);

    options.detail_limit = 5000;  // at the limit: still every partition
    const auto detailed = report_of(rows, options);
    BOOST_TEST(detailed.detailed);
    BOOST_TEST(detailed.spans.size() == 5000u);
}

BOOST_AUTO_TEST_CASE(the_outcome_is_each_steps_last_attempt) {
    auto rows = retried_run();
    rows.erase(std::remove_if(rows.begin(), rows.end(), [](const TraceRow& r) { return r.attempt == 2; }), rows.end());
    BOOST_TEST(report_of(rows).outcome() == "failed");  // no retry: the failure stands

    std::vector<TraceRow> stopped = {step_row("a-slice-0", StepKind::slice, "a", 0, 0, 10, TraceStatus::skipped)};
    BOOST_TEST(report_of(stopped).outcome() == "stopped");
    // A step that never ran (waiting for one that failed) is skipped without time: not a stop.
    std::vector<TraceRow> waiting = {step_row("a-slice-0", StepKind::slice, "a", 0, 0, 0, TraceStatus::skipped)};
    BOOST_TEST(report_of(waiting).outcome() == "ok");
}

BOOST_AUTO_TEST_CASE(a_trace_that_is_not_one_runs_is_refused_with_its_line) {
    auto rows = retried_run();
    rows[3].run = "run-8";
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { report_of(rows); }), "t.tsv:5: rows of two runs ('run-7' and 'run-8')"));
    std::istringstream no_header("run\tstep\n");
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::read_run_report(no_header, "x.tsv"); }), "x.tsv:1: not a steppar trace"));
    std::istringstream empty("");
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::read_run_report(empty, "e.tsv"); }), "e.tsv: empty, not a steppar trace"));
    std::string text = trace_of(retried_run());
    text += "run-7\tonly two fields\n";
    std::istringstream damaged(text);
    BOOST_TEST(contains(error_of<steppar::StateError>([&] { steppar::read_run_report(damaged, "d.tsv"); }), "d.tsv:17: "));
    BOOST_TEST(contains(error_of<steppar::StateError>([] { steppar::read_run_report(fs::path("/nonexistent/t.tsv")); }), "cannot read the trace /nonexistent/t.tsv"));
}

BOOST_AUTO_TEST_CASE(a_run_is_found_by_id_prefix_or_file_and_the_newest_by_default) {
    steppar_test::TempDir dir;
    const fs::path traces = dir.path() / "traces";
    BOOST_TEST(contains(error_of<steppar::UsageError>([&] { steppar::find_trace(traces, ""); }), "no trace in " + traces.string() + "; run the pipeline first"));
    fs::create_directories(traces);
    for (const char* id : {"20261204T010000.000001Z-10", "20261204T020000.000001Z-11", "20261205T010000.000001Z-12"})
        std::ofstream(traces / (std::string(id) + ".tsv")) << steppar::trace_header();
    std::ofstream(traces / "notes.txt") << "not a trace\n";
    BOOST_TEST(steppar::find_trace(traces, "") == traces / "20261205T010000.000001Z-12.tsv");
    BOOST_TEST(steppar::find_trace(traces, "20261204T02") == traces / "20261204T020000.000001Z-11.tsv");
    BOOST_TEST(steppar::find_trace(traces, "20261204T010000.000001Z-10") == traces / "20261204T010000.000001Z-10.tsv");
    BOOST_TEST(contains(error_of<steppar::UsageError>([&] { steppar::find_trace(traces, "20261204"); }), "'20261204' matches 2 runs"));
    BOOST_TEST(contains(error_of<steppar::UsageError>([&] { steppar::find_trace(traces, "2025"); }),
                        "'2025' is neither a trace file nor a run id in " + traces.string() +
                            " (runs there: 20261204T010000.000001Z-10 ... 20261205T010000.000001Z-12, 3 in all)"));
    const fs::path elsewhere = dir.path() / "saved.tsv";
    std::ofstream(elsewhere) << steppar::trace_header();
    BOOST_TEST(steppar::find_trace(traces, elsewhere.string()) == elsewhere);
}

BOOST_AUTO_TEST_SUITE_END()
