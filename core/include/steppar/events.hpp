// What a run tells the person or program watching it. Every message and every step's start,
// progress and end goes to one EventSink per process, which renders it in the chosen format:
//
//   plain  timestamped lines, no control characters (cron, CI, pipes; the default off a terminal)
//   json   one JSON object per event and per line (log collectors)
//   live   a progress display redrawn in place (the default for `run` on a terminal)
//
// Steps run in child processes; their stdout and stderr are a pipe to the host. A child reports
// through a `child` sink that frames each event as one line starting with the byte 0x1F
// (child_output.hpp reads them back), so the host renders every process's events in one format
// and anything else a plugin prints arrives as `output`, attributed to its step.
#pragma once

#include "steppar/step_kind.hpp"

#include <steppar/log_level.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

// Levels are the SDK's LogLevel (log_level.hpp): a node's ctx.warn() and the engine's warn() are one thing.

/// Who said it: the engine, a node through the SDK's log(), or raw output of a step's process.
enum class Origin { steppar, node, output };

struct Message {
    LogLevel level = LogLevel::info;
    Origin origin = Origin::steppar;
    std::string_view text;
    std::string_view step;       ///< the step whose process said it ("": this process)
    std::string_view node;       ///< Origin::node: which node
    std::string_view partition;  ///< Origin::node: the partition it was called for ("": a whole node)
};

/// A step as events name it.
struct StepInfo {
    std::string_view name;  ///< e.g. "count-slice-3"
    std::string_view unit;  ///< its multinode, multipipeline or node
    StepKind kind = StepKind::node;
    int slice = -1;
};

enum class StepStatus { done, failed, up_to_date, stopped, retrying };

struct StepEnd {
    StepStatus status = StepStatus::done;
    double seconds = 0;
    long long partitions = -1;  ///< -1: not known (a whole node)
    std::string_view message;   ///< why it failed
    int attempt = 1;
    int max_attempts = 1;  ///< 1 + the retries allowed
    const std::map<std::string, long long>* metrics = nullptr;  ///< done: the nodes' counters (ctx.count())
    std::size_t skipped = 0;  ///< done: output partitions the nodes skipped
    int wait_status = -1;     ///< how the step's process ended, as waitpid(2) says (-1: no process)
    long pid = 0;             ///< the step's process (0: none, or not known)
};

struct UnitSummary {
    std::string name;
    std::string kind;  ///< "multinode", "multipipeline" or "node"
    std::size_t slices = 1;
};

struct RunStart {
    std::string_view pipeline;
    std::string_view run_id;  ///< the run's id in its trace (run_trace.hpp); "" when it has none
    std::string_view runner;
    std::size_t workers = 1;
    std::size_t steps = 0;
    std::vector<UnitSummary> units;
};

struct RunEnd {
    std::string_view status;  ///< "done", "failed" or "interrupted"
    double seconds = 0;
    std::size_t steps = 0, ran = 0, up_to_date = 0, failed = 0, not_run = 0;
    int exit_code = 0;
    std::string_view message;
};

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void message(const Message& m) = 0;
    virtual void run_started(const RunStart&) {}
    /// A slicer wrote its plan: how many partitions the unit's slices will process.
    virtual void unit_planned(std::string_view /*unit*/, std::size_t /*partitions*/) {}
    /// `partitions`: how many it will process (-1: not known).
    virtual void step_started(const StepInfo&, long long /*partitions*/) {}
    virtual void step_progress(const StepInfo&, std::size_t /*done*/, std::size_t /*total*/) {}
    virtual void step_ended(const StepInfo&, const StepEnd&) {}
    virtual void run_ended(const RunEnd&) {}
    /// The command's final error (the CLI's one line).
    virtual void error(std::string_view text, int exit_code) = 0;
    /// True for a display that wants tick() a few times a second to update clocks.
    virtual bool animated() const { return false; }
    virtual void tick() {}
    /// True when step_progress() is worth calling (a child reporting to its host).
    virtual bool wants_progress() const { return false; }
};

enum class LogFormat { plain, json, live };

/// "plain", "json" or "live"; "auto" is live when `fd` is a terminal (and TERM is not dumb)
/// and `animate` is allowed, plain otherwise. Throws UsageError for anything else.
LogFormat parse_log_format(std::string_view text, int fd, bool animate);

/// This process's sink (plain on stderr until set otherwise).
EventSink& events();
/// Returns the previous sink (a forked child must not destroy its parent's display).
std::unique_ptr<EventSink> set_events(std::unique_ptr<EventSink> sink);
std::unique_ptr<EventSink> make_event_sink(LogFormat format, int fd);
/// The one-line error a steppar process ended with, read back from a line of its stderr kept in
/// a file (a Slurm task's output) in the plain or json format; "" when the line is not one.
std::string error_reported_in(std::string_view line);
/// The sink of a step's process run by a host: framed events on `fd` (its stderr pipe).
std::unique_ptr<EventSink> make_child_reporter(int fd);
/// In a step's process whose stdout and stderr are the pipe `pipe_fd` to its host: a descriptor
/// of that pipe of its own (close-on-exec, above 2) for the framed events, so a node that closes
/// or reopens its stdout/stderr can neither silence them nor get them in its files. Also keeps
/// outputs off descriptors 1 and 2 (atomic_file.hpp: keep_standard_streams).
int report_channel(int pipe_fd);

/// Called by loops over partitions: reports progress at most ten times a second (and at the
/// end), and only when someone listens.
void report_progress(std::size_t done, std::size_t total);

/// A step's counters and skipped outputs in words: "rows=12, dropped=1; 1 output partition(s)
/// skipped", or "" when it has neither.
std::string counters_text(const std::map<std::string, long long>& metrics, std::size_t skipped);

/// The lowercase name of a level ("info", "warning", "error").
const char* level_name(LogLevel level);
const char* origin_name(Origin origin);
const char* status_name(StepStatus status);

/// Local time with milliseconds ("2026-11-25 09:01:02.123") and UTC ISO 8601 ("...T...Z").
std::string local_timestamp();
std::string utc_timestamp();

}  // namespace steppar
