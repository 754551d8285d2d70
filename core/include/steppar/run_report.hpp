// How a run went, read back from its trace (trace.hpp): the figures `steppar-host report`
// shows, as text or as one HTML page. The trace is read once, row by row, and never held: a
// run over a million partitions has a trace of about 140 MB, and what is kept of it is
//
//   per step attempt   its row (a lane of the timeline: one per slicer, slice, barrier, node)
//                      and its partitions' count, summed and longest time (per slice, always)
//   per unit           partitions by status, process time, CPU, peak memory, I/O
//   per reason         rows skipped, retracted, up to date or failed with the same message:
//                      their count and the first few partitions
//   the slowest        the `top` slowest partitions (a heap, whatever the run's size)
//   every partition    only while the run has at most `detail_limit` partition rows; above,
//                      the timeline shows each slice's attempts without their partitions
//   concurrency        how many steps ran at once, as a step function over the run
//
// so that a report of a 1,000,000-partition run stays small (README "Reports" has the sizes).
#pragma once

#include "steppar/trace.hpp"

#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace steppar {

struct ReportOptions {
    std::size_t top = 20;              ///< how many of the slowest partitions to keep
    std::size_t detail_limit = 10000;  ///< above this many partition rows, no per-partition timeline
    std::size_t examples = 3;          ///< partitions named per reason
    std::size_t failures = 100;        ///< failed rows listed (all are counted)
};

/// One attempt of one step: its trace row and what its partitions took.
struct StepAttempt {
    TraceRow row;
    long long partition_rows = 0;  ///< partition rows of this attempt (any status)
    std::int64_t partition_us = 0;  ///< their summed wall
    std::int64_t longest_us = 0;    ///< the longest of them
    std::string longest;            ///< its partition
};

/// One partition row kept for the timeline (only below ReportOptions::detail_limit).
struct PartitionSpan {
    std::size_t attempt = 0;  ///< index into RunReport::attempts (the attempt that ran it)
    std::string partition;
    TraceStatus status = TraceStatus::ok;
    std::int64_t start_us = 0, end_us = 0;
};

/// A partition that took long.
struct SlowPartition {
    std::string unit, step, partition;
    int attempt = 1;
    TraceStatus status = TraceStatus::ok;
    std::int64_t wall_us = 0;
};

/// Rows of one unit with one status and one message, counted.
struct ReasonGroup {
    std::string unit;
    TraceStatus status = TraceStatus::skipped;
    TraceScope scope = TraceScope::partition;  ///< step: whole steps; otherwise partitions
    std::string message;
    long long count = 0;
    std::vector<std::string> examples;  ///< partitions (or steps), at most ReportOptions::examples
};

struct UnitFigures {
    std::string name;
    std::map<TraceStatus, long long> partitions;  ///< by status, up-to-date counts included
    long long attempts = 0;                       ///< step attempts that ran (a process or the host)
    long long slices = 0;                         ///< distinct slices seen
    std::int64_t first_start_us = 0, last_end_us = 0;  ///< of what ran (0: nothing ran)
    std::int64_t busy_us = 0;                     ///< summed wall of its attempts
    std::int64_t cpu_user_us = 0, cpu_sys_us = 0;
    std::int64_t max_rss_kib = 0;
    std::int64_t read_bytes = 0, write_bytes = 0, rchar = 0, wchar = 0;
    std::int64_t slice_longest_us = 0, slice_median_us = 0;  ///< over its slices' last attempts
};

/// A point of the concurrency curve: from `at_us` on, `running` steps ran (until the next).
struct ConcurrencyPoint {
    std::int64_t at_us = 0;
    int running = 0;
};

struct RunReport {
    std::string run;
    std::filesystem::path trace;
    std::int64_t start_us = 0, end_us = 0;   ///< the first start and the last end of the rows
    long long rows = 0, partition_rows = 0;
    std::vector<StepAttempt> attempts;       ///< in the trace's order
    std::vector<UnitFigures> units;          ///< in the order they first appear
    std::vector<ReasonGroup> reasons;        ///< skipped, retracted, up to date: by unit, then count
    std::vector<TraceRow> failures;          ///< failed steps and partitions (the first `failures`)
    long long failed_rows = 0;               ///< every failed row
    std::vector<SlowPartition> slowest;      ///< the slowest first
    bool detailed = true;                    ///< partitions kept for the timeline
    std::size_t detail_limit = 0;            ///< ReportOptions::detail_limit it was read with
    std::vector<PartitionSpan> spans;        ///< when detailed
    std::vector<ConcurrencyPoint> concurrency;
    int peak_concurrency = 0;
    double mean_concurrency = 0;             ///< step time / the run's wall

    /// ok when no step failed; "failed" when one did, "stopped" when steps were stopped.
    std::string outcome() const;
    long long partitions_with(TraceStatus status) const;
};

/// Reads a trace. Throws StateError naming the file and line for a row that is not a trace row,
/// and for a file with rows of more than one run.
RunReport read_run_report(std::istream& trace, const std::filesystem::path& name, const ReportOptions& options = {});
RunReport read_run_report(const std::filesystem::path& trace, const ReportOptions& options = {});

/// The trace `run` names: a trace file, a run id or the start of one (unique) under
/// <state>/traces/, or the newest there when `run` is empty. Throws UsageError saying which
/// runs there are when none (or more than one) matches.
std::filesystem::path find_trace(const std::filesystem::path& traces_folder, const std::string& run);

}  // namespace steppar
