// The trace of a run: what happened to every step and partition, with its times and costs, as
// one TSV file per run. `run` writes it to <state>/traces/<run-id>.tsv (the newest
// STEPPAR_KEEP_TRACES, default 20, are kept; 0: none) and, with `--trace FILE`, to FILE too,
// each atomically; a run that fails or is interrupted writes it as well. The first line names
// the columns; then one row per
//
//   step attempt       scope "step": a slicer, slice, barrier or plain node, once per launch
//   partition          scope "partition": one partition of one attempt of a slice (or of a
//                      plain node over partitions), and each partition a slicer retracted
//   up-to-date count   scope "partitions": how many partitions a slicer found up to date, in
//                      one row per unit and run (a rerun of a million partitions lists only
//                      what ran; 1,000,000 rows of "nothing happened" would cost more than the
//                      run itself)
//
// Columns, tab-separated, in this order (an empty field: not applicable or not known):
//
//   run          the run's id (make_run_id()), in every row
//   step         the node of the expanded graph: count-slicer, count-slice-2, count-barrier, total
//   kind         slicer, slice, barrier or node
//   unit         the multinode, multipipeline or plain node
//   slice        the slice index (slices only)
//   scope        step, partition or partitions (see above)
//   partition    the partition's name (scope partition)
//   partitions   how many partitions the row stands for: 1 for a partition, the count of an
//                up-to-date row, what a slice had to process for a step row
//   status       ok, failed, skipped, up-to-date or retracted
//   attempt      1 for the first launch of a step, 2 for its first retry, ...
//   exit         a step process's exit code, or the signal that killed it (SIGKILL)
//   start, end   seconds since the Unix epoch (UTC), 6 decimals: 1764061447.819123
//   wall         end - start, exactly (both are whole microseconds)
//   cpu_user, cpu_sys   CPU seconds of the step's process and the children it waited for
//                (getrusage), 6 decimals; for a slicer or barrier, the host's during the step
//   max_rss_kib  peak resident memory of the step's process (or its largest waited-for child)
//   rchar, wchar, read_bytes, write_bytes   /proc/self/io of the step's process: bytes passed
//                to read and write calls (any file or pipe), and bytes the storage layer read
//                and was sent (0 on tmpfs; page cache hits are not reads)
//   host, pid    where the step's process ran
//   slurm_job    SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID, or SLURM_JOB_ID, of the process
//   counters     the step's ctx.count() counters as compact JSON ({"rows":12}), step rows only
//   message      why a step or partition failed or was skipped
//
// Text fields escape '\', tab, LF and CR as \\, \t, \n, \r, as the ledger does (ledger.hpp).
// The cost columns are on step rows; a partition row carries times and status only (about
// 145 bytes; a run pays about 0.3 us per partition for its trace, see README "Traces").
#pragma once

#include "steppar/step_kind.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace steppar {

enum class TraceStatus : std::uint8_t { ok, failed, skipped, up_to_date, retracted };
enum class TraceScope : std::uint8_t { step, partition, partitions };

/// "ok", "failed", "skipped", "up-to-date", "retracted".
const char* to_string(TraceStatus status);
/// "step", "partition", "partitions".
const char* to_string(TraceScope scope);

/// What a process cost, as far as it is known (-1: not known).
struct ResourceUsage {
    std::int64_t cpu_user_us = -1, cpu_sys_us = -1;
    std::int64_t max_rss_kib = -1;
    std::int64_t rchar = -1, wchar = -1, read_bytes = -1, write_bytes = -1;

    bool operator==(const ResourceUsage&) const = default;
};

/// This process's usage so far: getrusage of itself and of the children it waited for (CPU
/// summed, memory the larger peak), and /proc/self/io when it can be read.
ResourceUsage usage_of_this_process();
/// `later` - `earlier` for CPU and I/O; the peak memory is `later`'s.
ResourceUsage usage_between(const ResourceUsage& earlier, const ResourceUsage& later);

struct TraceRow {
    std::string run, step;
    StepKind kind = StepKind::slice;
    std::string unit;
    int slice = -1;  ///< -1: none
    TraceScope scope = TraceScope::step;
    std::string partition;
    long long partitions = -1;  ///< -1: empty
    TraceStatus status = TraceStatus::ok;
    int attempt = 1;
    std::string exit;  ///< "0", "1", "SIGKILL", or ""
    std::int64_t start_us = 0, end_us = 0;  ///< microseconds since the epoch
    ResourceUsage usage;
    std::string host;
    long pid = 0;  ///< 0: empty
    std::string slurm_job;
    std::string counters;  ///< compact JSON, or ""
    std::string message;

    bool operator==(const TraceRow&) const = default;
};

/// The header line (column names, tab-separated, ending in a newline).
std::string_view trace_header();
/// Appends one row and its newline.
void append_trace_row(std::string& out, const TraceRow& row);
/// One row (without its newline). Throws StateError naming what is wrong; `wall` must equal
/// end - start.
TraceRow parse_trace_row(std::string_view line);

/// Appends microseconds since the epoch as seconds with 6 decimals ("1764061447.819123").
void append_trace_seconds(std::string& out, std::int64_t microseconds);
/// Now, in microseconds since the epoch (the system clock).
std::int64_t trace_clock() noexcept;
/// "0" or "3" for a process that exited, "SIGKILL" for one a signal killed (a waitpid status).
std::string exit_text(int wait_status);
/// A step's counters as compact JSON ({"dropped":1,"rows":12}); "" when there are none.
std::string counters_json(const std::map<std::string, long long>& counters);

/// A new run id: UTC time to the microsecond and the pid, "20261125T090407.819123Z-4711";
/// unique on a machine, and ids of one machine sort by time.
std::string make_run_id();
/// The Slurm job of this process ("61_2" for an array task, "61"), or "" outside Slurm.
std::string slurm_job_of_this_process();
/// This machine's name.
std::string host_name();

/// Where a process sends the rows of what it does (its slicer's findings, its partitions):
/// the run's trace in the host, a part file in a step's process (step_trace.hpp), or nowhere.
class TraceLog {
public:
    virtual ~TraceLog() = default;
    /// A row; the log fills in what it knows of this process (run, host, pid, Slurm job) where
    /// the row leaves it empty.
    virtual void add(TraceRow row) = 0;
};

/// This process's trace log, or null when no run traces it (the default).
TraceLog* trace_log() noexcept;
/// Sets it (not owned; null: none). Returns the previous one.
TraceLog* set_trace_log(TraceLog* log) noexcept;

}  // namespace steppar
