// The host's side of a run's trace (trace.hpp): it makes the run id, tells the steps where to
// put their rows (step_trace.hpp), writes its own rows, gathers the steps' and writes the file.
//
//   start     a run id; <state>/traces/parts/<run-id>/ made and named in the environment
//             (STEPPAR_RUN_ID, STEPPAR_TRACE_DIR) before any step process starts, so forked,
//             exec'd and Slurm steps all see it; parts folders of earlier runs (a host killed
//             with SIGKILL) are removed (the caller holds the run lock)
//   rows      the host's own as they happen: each step's row when it ends (from the scheduler's
//             events, through TraceTap), preceded by the rows of the process that ran that
//             attempt, copied from its part file; a slicer's findings (planning.cpp) through
//             trace_log(); the step row of a launched step is the host's verdict (status,
//             exit, times from launch to reaping) with the costs the process measured itself
//   finish    rows for steps that never ran, then the file(s), atomically: the default
//             <state>/traces/<run-id>.tsv (keeping the newest kept_traces(), spec.hpp:
//             STEPPAR_KEEP_TRACES, default 20; 0 writes none) and the `--trace FILE`
//
// Rows go out to the file's temporary as they come (in 1 MiB pieces), so a trace of a million
// partitions never sits in the host's memory; a step's part is copied in by copy_file_range(2),
// so its bytes never pass through the host (a third of the cost of reading and writing them).
// With both the default file and `--trace FILE`, FILE is a copy of the finished default one. A
// trace is a record, not a result: a trace that cannot be written is a warning, never a failed
// run.
#pragma once

#include "steppar/events.hpp"
#include "steppar/state.hpp"
#include "steppar/trace.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

class AtomicFile;

/// The folder of the default traces.
std::filesystem::path traces_dir(const StateLayout& state);

class RunTrace final : public TraceLog {
public:
    /// The trace of a run over `state`, also written to `file` unless it is empty; null when
    /// no trace is wanted (kept_traces() is 0 and no file). Throws UsageError when `file`'s
    /// folder does not exist. Becomes trace_log() while it lives.
    static std::unique_ptr<RunTrace> start(const StateLayout& state, const std::filesystem::path& file);
    ~RunTrace() override;
    RunTrace(const RunTrace&) = delete;
    RunTrace& operator=(const RunTrace&) = delete;

    const std::string& run_id() const noexcept { return run_; }

    void add(TraceRow row) override;
    /// From the scheduler's events (TraceTap).
    void unit_planned(std::string_view unit, std::size_t partitions);
    void step_started(const StepInfo& step);
    void step_ended(const StepInfo& step, const StepEnd& end);
    /// Every part in the parts folder, in name order (a Slurm run's tasks): their rows and step
    /// rows as the processes wrote them. Returns the steps that wrote a step row.
    std::set<std::string> gather_all_parts();
    /// Whether `step` has a step row yet.
    bool has_step_row(std::string_view step) const { return stepped_.count(step) > 0; }
    /// A step row for a step that left none: status and message say why, times are now.
    void step_row(const StepInfo& step, TraceStatus status, std::string_view message);
    /// Writes the file(s) and keeps the newest traces; removes the parts folder.
    void finish();

private:
    RunTrace(std::string run, std::filesystem::path parts, std::filesystem::path file, std::filesystem::path copy);
    void emit(std::string_view text);
    void flush();
    void copy_rows_of(const std::filesystem::path& rows_part);
    void fail(const std::string& why);

    std::string run_, host_, slurm_job_;
    std::filesystem::path parts_;
    std::filesystem::path target_, copy_;  ///< the file written, and where a copy of it goes ("": none)
    std::unique_ptr<AtomicFile> file_;
    std::string failure_;  ///< why the file cannot be trusted ("": it can)
    std::string pending_;
    std::set<std::string, std::less<>> stepped_;  ///< steps with a step row
    std::map<std::string, std::int64_t, std::less<>> started_;  ///< step -> start of its current attempt
    std::map<std::string, ResourceUsage, std::less<>> host_usage_;  ///< slicers and barriers: the host's at their start
    std::map<std::string, long long, std::less<>> planned_;  ///< unit -> partitions its slicer planned
    std::string previous_run_, previous_dir_;  ///< the environment before (restored at the end)
    bool had_run_ = false, had_dir_ = false, finished_ = false;
};

/// While it exists, the scheduler's step events reach `trace` as well as the sink they went to.
/// Null: nothing changes.
class TraceTap {
public:
    explicit TraceTap(RunTrace* trace);
    ~TraceTap();
    TraceTap(const TraceTap&) = delete;
    TraceTap& operator=(const TraceTap&) = delete;

private:
    class Sink;
    Sink* sink_ = nullptr;
};

}  // namespace steppar
