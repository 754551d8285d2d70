// What a step's process adds to its run's trace (trace.hpp). A slice runs in a process of its
// own (forked, exec'd, or a Slurm task on another machine), so it writes its own rows into part
// files in the run's parts folder, which the host gathers when the step has ended:
//
//   <state>/traces/parts/<run-id>/<step>.<attempt>.rows.tsv   one row per partition, in order
//   <state>/traces/parts/<run-id>/<step>.<attempt>.step.tsv   the process's own step row, last
//
// The host names the folder and the run in the environment (STEPPAR_TRACE_DIR, STEPPAR_RUN_ID),
// which forked, exec'd and Slurm steps all inherit; without them (a `run-slice` by hand) nothing
// is written. The attempt comes from the host (the fork server's request, `--attempt`), or for
// a Slurm task from SLURM_RESTART_COUNT.
//
// Cost: a partition row is formatted straight into a fixed 64 KiB buffer (one clock read per
// partition, no allocation) that is written out when full and at the end: one write(2) per
// about 400 partitions. A step stopped or crashing writes the rows complete so far from its
// signal handler (flush_step_trace_on_signal(), async-signal-safe); only SIGKILL loses the last
// buffer. The step row carries what only the process can measure of itself: getrusage and
// /proc/self/io at its end, its host, pid and Slurm job, its counters.
#pragma once

#include "steppar/trace.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace steppar {

inline constexpr const char* trace_run_variable = "STEPPAR_RUN_ID";
inline constexpr const char* trace_dir_variable = "STEPPAR_TRACE_DIR";

/// Which attempt of which step this process is.
struct TracedStep {
    std::string step;
    StepKind kind = StepKind::slice;
    std::string unit;
    int slice = -1;
    int attempt = 1;
};

/// The part files of one attempt.
std::filesystem::path trace_rows_part(const std::filesystem::path& dir, std::string_view step, int attempt);
std::filesystem::path trace_step_part(const std::filesystem::path& dir, std::string_view step, int attempt);

/// The attempt of a step not started by a local runner: SLURM_RESTART_COUNT + 1 in a Slurm
/// task (a requeued task is a new attempt), else 1.
int attempt_from_environment();

class StepTrace final : public TraceLog {
public:
    /// This process's step trace when a run traces it (the environment names run and folder),
    /// else null. It becomes trace_log() and step_trace() until it is destroyed. One at a time.
    static std::unique_ptr<StepTrace> begin(TracedStep identity);
    ~StepTrace() override;
    StepTrace(const StepTrace&) = delete;
    StepTrace& operator=(const StepTrace&) = delete;

    /// One partition's row (the fast path: see the banner).
    void partition(std::string_view name, TraceStatus status, std::int64_t start_us, std::int64_t end_us,
                   std::string_view message = {});
    /// Any other row (a slicer's findings in a cluster job).
    void add(TraceRow row) override;
    /// What the step row says beyond how the process ended.
    void set_counters(const std::map<std::string, long long>& counters);
    void set_partitions(long long partitions) noexcept { partitions_ = partitions; }
    /// The step found nothing to do (its marker already vouched, or its plan part was empty).
    void mark_up_to_date() noexcept { up_to_date_ = true; }
    /// The process is about to exit with `exit_code`: writes the rows and the step row.
    void end(int exit_code, std::string_view message);

private:
    explicit StepTrace(TracedStep identity, std::string run, std::filesystem::path dir, int fd);
    void flush() noexcept;
    void write_row_text(std::string_view text) noexcept;

    TracedStep identity_;
    std::string run_;
    std::filesystem::path dir_;
    std::string host_, slurm_job_;
    std::int64_t started_us_;
    std::string prefix_;       ///< a partition row's fields up to its name
    std::string middle_[5];    ///< after the name, per status: partitions, status, attempt, exit
    std::string suffix_;       ///< after wall: the empty cost columns, host, pid, Slurm job, counters
    std::string counters_;
    long long partitions_ = -1;
    bool up_to_date_ = false;
    bool ended_ = false;
};

/// This process's step trace, or null.
StepTrace* step_trace() noexcept;

/// Writes the rows buffered so far (whole rows only). Async-signal-safe: the termination
/// handlers of signals.hpp call it before the process dies.
void flush_step_trace_on_signal() noexcept;

}  // namespace steppar
