#include "steppar/slurm_runner.hpp"

#include "steppar/error.hpp"
#include "steppar/executor.hpp"
#include "steppar/events.hpp"
#include "steppar/interruption.hpp"
#include "steppar/log.hpp"
#include "steppar/vouching.hpp"
#include "steppar/run_lock.hpp"
#include "steppar/state_folder.hpp"
#include "steppar/run_trace.hpp"
#include "steppar/signals.hpp"
#include "steppar/text.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// Runs a short Slurm client command (an argv, never a shell string); returns its stdout, throws
// with its stderr on failure.
std::string slurm(const ProgramRunner& run, const std::vector<std::string>& argv) {
    ProgramResult r;
    try {
        r = run(argv, {});
    } catch (const std::exception& e) {
        throw StateError(std::string(e.what()) + " (is Slurm installed, and on PATH?)");
    }
    if (r.exit_code != 0) {
        std::string said = r.error.empty() ? r.output : r.error;
        while (!said.empty() && said.back() == '\n') said.pop_back();
        throw StateError("'" + join(argv, " ") + "' failed: " + said + " (is Slurm running and SLURM_CONF set?)");
    }
    return r.output;
}

// A whole number Slurm printed (a job id, an array task, MaxArraySize): all digits, no sign,
// in range; nothing else passes for one.
std::optional<long long> whole_number(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    long long value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
    return value;
}

// The Slurm id in "61_2 FAILED": "61_2".
std::string id_of(const std::string& entry) { return entry.substr(0, entry.find(' ')); }

// The last error a job's steppar-host reported into its Slurm output file; "" when there is
// none (or no file).
std::string error_line(const std::string& path) {
    std::ifstream in(path);
    std::string line, found;
    while (std::getline(in, line))
        if (std::string said = error_reported_in(line); !said.empty()) found = std::move(said);
    return found;
}

// The cluster's MaxArraySize (array indices must stay below it), from `scontrol show config`.
int cluster_max_array_size(const ProgramRunner& run) {
    std::istringstream config(slurm(run, {"scontrol", "show", "config"}));
    for (std::string line; std::getline(config, line);)
        if (line.rfind("MaxArraySize", 0) == 0) {
            const auto equals = line.find('=');
            const auto value = equals == std::string::npos ? std::nullopt : whole_number(std::string_view(line).substr(equals + 1));
            if (!value || *value > std::numeric_limits<int>::max())
                throw StateError("'scontrol show config' gave an unreadable MaxArraySize ('" + line + "'); check the Slurm configuration");
            return static_cast<int>(*value);
        }
    return default_max_array_size;
}

const std::set<std::string> active_states = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"};

// ---- Plan: what to submit -------------------------------------------------------------------

struct Plan {
    std::vector<ClusterJob> jobs;
    std::vector<bool> skip;                       ///< per job: not submitted
    std::set<std::string> up_to_date;             ///< units with nothing to do
    std::vector<std::vector<ArrayChunk>> chunks;  ///< per job: its sbatch calls ({0, {}}: one, no array)
    std::vector<std::string> notes;               ///< per job: what the log says of its tasks
    std::vector<std::vector<std::string>> extra;  ///< per job: sbatch options of this run (a time limit)
};

// A slicer the host ran before submitting: its step row in the run's trace, as a local run's.
void trace_host_slicer(const Unit& unit, const SlicePlan& plan, std::int64_t began, const ResourceUsage& before) {
    TraceLog* const trace = trace_log();
    if (!trace) return;
    TraceRow row;
    row.step = slicer_name(unit.name);
    row.kind = StepKind::slicer;
    row.unit = unit.name;
    row.partitions = static_cast<long long>(plan.partition_count());
    row.start_us = began;
    row.end_us = trace_clock();
    row.usage = usage_between(before, usage_of_this_process());
    row.message = "sliced by the host before submitting";
    trace->add(std::move(row));
}

// Resume: a unit whose upstream units have nothing to redo is sliced here (the same plan the
// slicer job would write) and only its slices that still need to run are submitted, by the
// local scheduler's own rule (vouching.hpp: needs_run); a unit with nothing to redo is not
// submitted at all. Units downstream of work go in whole: their plan depends on what runs
// first. Array sizes are checked against MaxArraySize here, before anything is submitted.
Plan plan_jobs(Project& project, const ExpandedGraph& graph, const SlurmRunOptions& options) {
    Plan plan;
    plan.jobs = cluster_jobs(project, graph, options.submit.force);
    const auto& jobs = plan.jobs;
    plan.skip.assign(jobs.size(), false);
    std::map<std::string, std::vector<int>> slices_to_run;  // unit -> slices (absent: all)
    std::set<std::string> dirty, warned;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const ClusterJob& job = jobs[j];
        const Unit& unit = project.pipeline().unit(job.unit);
        if (unit.options.retries > 0 && warned.insert(unit.name).second)
            warn(unit.name + ": 'retries: " + std::to_string(unit.options.retries) +
                 "' is for the local runners; on Slurm, rerun to run a failed slice again (finished slices are kept)");
        if (plan.up_to_date.count(job.unit) || dirty.count(job.unit)) {
            plan.skip[j] = plan.up_to_date.count(job.unit) > 0 || (job.kind == StepKind::slicer);
            continue;
        }
        bool upstream_dirty = false;
        for (const auto a : job.after) upstream_dirty = upstream_dirty || !plan.up_to_date.count(jobs[a].unit);
        if (upstream_dirty) {
            dirty.insert(job.unit);
            continue;
        }
        const auto index = static_cast<std::size_t>(&unit - project.pipeline().units().data());
        const bool partitions = unit.replicated() || project.function(unit.nodes.front()).kind == NodeKind::partition;
        if (partitions) {
            const int count = unit.replicated() ? slice_count(graph, index) : 1;
            const std::int64_t began = trace_log() ? trace_clock() : 0;
            const ResourceUsage before = trace_log() ? usage_of_this_process() : ResourceUsage{};
            const SlicePlan sliced = run_slicer(project, unit, count, SlicerOptions{options.submit.force, "", false});
            if (unit.replicated()) trace_host_slicer(unit, sliced, began, before);
            std::vector<int> missing;
            for (int i = 0; i < count; ++i)
                if (needs_run(project.state(), unit, part_of(sliced, i), options.submit.force)) missing.push_back(i);
            if (missing.empty()) {
                check_barrier(project, unit);  // verifies (trivially) and folds the ledger
                log(unit.name + ": nothing new or changed, nothing to submit");
                plan.up_to_date.insert(unit.name);
                plan.skip[j] = true;
            } else {
                dirty.insert(unit.name);
                if (unit.replicated()) {
                    slices_to_run[unit.name] = missing;
                    plan.skip[j] = true;  // the slicer job: its plan is written
                }
            }
        } else if (!needs_run(project, unit, options.submit.force)) {
            log(unit.name + ": up to date, nothing to submit");
            plan.up_to_date.insert(unit.name);
            plan.skip[j] = true;
        } else {
            dirty.insert(unit.name);
        }
    }

    int max_array = 0;
    for (std::size_t j = 0; j < jobs.size() && !max_array; ++j)
        if (!plan.skip[j] && jobs[j].array) max_array = cluster_max_array_size(options.run_program);
    plan.chunks.assign(jobs.size(), {ArrayChunk{0, {}}});
    plan.notes.resize(jobs.size());
    plan.extra.resize(jobs.size());
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        if (plan.skip[j] || !jobs[j].array) continue;
        std::vector<int> slices;
        if (const auto it = slices_to_run.find(jobs[j].unit); it != slices_to_run.end()) slices = it->second;
        else
            for (int i = 0; i < jobs[j].tasks; ++i) slices.push_back(i);
        plan.chunks[j] = array_chunks(slices, max_array);  // refuses MaxArraySize=0 before any sbatch
        std::string& note = plan.notes[j];
        note = static_cast<int>(slices.size()) < jobs[j].tasks ? " (slices " + array_ranges(slices) + "; the others have nothing to run)"
                                                               : " (" + std::to_string(jobs[j].tasks) + " tasks)";
        if (plan.chunks[j].size() > 1)
            note += " in " + std::to_string(plan.chunks[j].size()) + " arrays (MaxArraySize " + std::to_string(max_array) + ")";
        // A slice's time limit, as the local runners have it: the unit's `timeout:`, else
        // --slice-timeout, as Slurm's `--time` (whole seconds; Slurm enforces it about once a
        // minute).
        const Unit& unit = project.pipeline().unit(jobs[j].unit);
        const double limit = unit.options.timeout_seconds > 0 ? unit.options.timeout_seconds : options.slice_timeout;
        if (limit > 0) {
            const auto seconds = static_cast<long long>(std::ceil(limit));
            plan.extra[j].push_back("--time=" + std::to_string(seconds / 60) + ":" + (seconds % 60 < 10 ? "0" : "") + std::to_string(seconds % 60));
        }
    }
    return plan;
}

// ---- Submit ------------------------------------------------------------------------------------

// What has been submitted: per job, each sbatch's Slurm id and, for a slice array, the slice
// its task 0 runs.
struct Part {
    std::string id;
    int offset = 0;
};
struct Submitted {
    std::vector<std::vector<Part>> parts;  ///< per job
    std::vector<std::size_t> jobs;         ///< the jobs submitted, in order

    std::vector<std::string> ids() const {
        std::vector<std::string> all;
        for (const auto& job : parts)
            for (const auto& part : job) all.push_back(part.id);
        return all;
    }
    // Which job a Slurm id ("123" or "123_4") belongs to, and for an array task its slice.
    std::optional<std::size_t> owner(const std::string& id, int* slice) const {
        for (const auto j : jobs)
            for (const auto& part : parts[j]) {
                if (id == part.id) return j;
                if (id.rfind(part.id + "_", 0) == 0) {
                    // "123_4" is task 4; "123_[0-9]" is the array's tasks not started yet.
                    const auto task = whole_number(std::string_view(id).substr(part.id.size() + 1));
                    if (slice)
                        *slice = task && *task <= std::numeric_limits<int>::max() - part.offset ? part.offset + static_cast<int>(*task) : -1;
                    return j;
                }
            }
        return std::nullopt;
    }
};

// One scancel of everything submitted so far.
void cancel_all(const Submitted& submitted, const ProgramRunner& run) {
    const auto ids = submitted.ids();
    if (ids.empty()) return;
    std::vector<std::string> cancel = {"scancel"};
    cancel.insert(cancel.end(), ids.begin(), ids.end());
    slurm(run, cancel);
}

// Submits in order, each job after the submitted jobs it needs. A failed sbatch, an answer that
// is not a job id, or a stop cancels what was already submitted: a partial submission never
// leaves jobs queued.
Submitted submit_jobs(const Plan& plan, const fs::path& scripts, const SlurmRunOptions& options) {
    Submitted submitted;
    submitted.parts.resize(plan.jobs.size());
    auto give_up = [&](const std::string& why, int signal) {
        const std::size_t count = submitted.ids().size();
        std::string cancelled = count ? "cancelled the " + std::to_string(count) + " job(s) already submitted" : "nothing was submitted";
        try {
            cancel_all(submitted, options.run_program);
        } catch (const Error& e) {
            cancelled = "could not cancel the job(s) already submitted (" + join(submitted.ids(), ", ") + "): " + e.what();
        }
        if (signal) throw Interrupted("interrupted by " + signal_name(signal) + " while submitting: " + cancelled + "; rerun to resume", signal);
        throw StateError(why + "; " + cancelled);
    };
    for (std::size_t j = 0; j < plan.jobs.size(); ++j) {
        if (plan.skip[j]) continue;
        const ClusterJob& job = plan.jobs[j];
        const std::vector<std::string> dependency = slurm_dependency(job, [&](std::size_t a) {
            std::string ids;  // not join(): that says "(none)" for nothing
            for (const auto& part : submitted.parts[a]) ids += (ids.empty() ? "" : ":") + part.id;
            return ids;
        });
        char file[512];
        std::snprintf(file, sizeof file, "%02zu-%s.sbatch", j + 1, job.name.c_str());
        std::vector<std::string> ids;
        for (const auto& chunk : plan.chunks[j]) {
            if (const int signal = interrupt_signal()) give_up({}, signal);
            std::vector<std::string> command = {"sbatch", "--parsable"};
            command.insert(command.end(), dependency.begin(), dependency.end());
            command.insert(command.end(), plan.extra[j].begin(), plan.extra[j].end());
            if (job.array) {
                command.push_back("--array=" + array_ranges(chunk.tasks) +
                                  (options.submit.max_parallel > 0 ? "%" + std::to_string(options.submit.max_parallel) : ""));
                command.push_back("--export=ALL,STEPPAR_SLICE_OFFSET=" + std::to_string(chunk.offset));
            }
            command.push_back((scripts / file).string());
            std::string printed;
            try {
                printed = slurm(options.run_program, command);
            } catch (const Error& e) {
                give_up("submitting " + job.name + ": " + e.what(), 0);
            }
            // --parsable: "ID" or "ID;CLUSTER".
            const std::string id = printed.substr(0, printed.find_first_of(";\n"));
            if (!whole_number(id)) give_up("submitting " + job.name + ": sbatch printed '" + printed + "' instead of a job id", 0);
            submitted.parts[j].push_back({id, chunk.offset});
            ids.push_back(id);
        }
        submitted.jobs.push_back(j);
        log("submitted " + job.name + " as Slurm job " + join(ids, ", ") + plan.notes[j]);
    }
    if (const int signal = interrupt_signal()) give_up({}, signal);
    return submitted;
}

// ---- Watch -------------------------------------------------------------------------------------

struct Outcome {
    std::map<std::string, std::string> final_state;  ///< "id" or "id_task" -> state, for ended ones
    std::map<std::string, std::string> where;        ///< "id" or "id_task" -> the nodes it ran on
    std::set<std::size_t> cancelled_jobs;            ///< cancelled by steppar: what they wait for failed
    bool stopped_early = false;                      ///< --fail-fast cancelled everything
};

// Progress from the markers of the slices that have work in the current plans; markers seen
// vouching are not read again (on a network filesystem each read is a round trip).
std::string progress_line(Project& project, const Plan& plan, std::set<std::string>& done_markers) {
    std::vector<std::string> progress;
    for (const auto& unit : project.pipeline().units()) {
        if (!unit.replicated() || plan.up_to_date.count(unit.name)) continue;
        std::size_t done = 0, total = 0;
        try {
            const PlanIndex index = read_plan_index(project.state(), unit.name);
            for (std::size_t i = 0; i < index.slice_sizes.size(); ++i) {
                if (index.slice_sizes[i] == 0) continue;
                ++total;
                const std::string key = project.state().marker(unit.name, static_cast<int>(i)).string() + "@" + index.plan_id;
                if (done_markers.count(key) || read_step_marker(project.state(), {unit.name, static_cast<int>(i), index.plan_id}).vouches()) {
                    ++done;
                    done_markers.insert(key);
                }
            }
        } catch (const Error&) {
            continue;  // not sliced yet (its slicer job has not run)
        }
        progress.push_back(unit.name + " " + std::to_string(done) + "/" + std::to_string(total));
    }
    return "slices done: " + join(progress);
}

// Polls squeue until every job has ended (finished records stay for MinJobAge), saying what
// Slurm does beyond the ordinary, cancelling what can never run (with --fail-fast: everything)
// and, on a stop, every job. The wait between looks starts short and grows while nothing
// changes.
Outcome watch_jobs(Project& project, const Plan& plan, const Submitted& submitted, const SlurmRunOptions& options,
                   const InterruptWatch& interrupts) {
    const auto& jobs = plan.jobs;
    const std::string id_list = join(submitted.ids(), ",");
    Outcome outcome;
    auto& final_state = outcome.final_state;
    auto& where = outcome.where;
    std::map<std::string, std::string> ended_once;  // "id" or "id_task" -> an end state seen once
    std::map<std::string, std::string> seen;        // "id" or "id_task" -> "state (reason)" last reported
    std::set<std::string> done_markers;
    std::string last_progress, last_table;
    double wait = options.poll_seconds;
    auto last_news = std::chrono::steady_clock::now();
    std::set<std::string> ours;      // job ids steppar cancelled itself
    std::set<std::string> troubled;  // tasks last reported in an unusual state
    auto cancelled_by_us = [&](const std::string& id) {
        for (const auto& mine : ours)
            if (id == mine || id.rfind(mine + "_", 0) == 0) return true;
        return false;
    };
    auto name_of = [&](const std::string& id) {
        int slice = -1;
        const auto j = submitted.owner(id, &slice);
        if (!j) return "Slurm job " + id;
        return (slice >= 0 ? slice_name(jobs[*j].unit, slice) : jobs[*j].name) + " (Slurm " + id + ")";
    };
    while (true) {
        if (const int signal = interrupt_signal()) {
            cancel_all(submitted, options.run_program);
            throw Interrupted("interrupted by " + signal_name(signal) + ": cancelled the Slurm jobs; finished slices are kept, rerun to resume",
                              signal);
        }
        const std::string table = slurm(options.run_program, {"squeue", "-h", "-t", "all", "-j", id_list, "-o", "%i|%T|%r|%N"});
        bool active = false;
        std::istringstream rows(table);
        for (std::string row; std::getline(rows, row);) {
            std::string field[4];
            std::istringstream cells(row);
            for (auto& f : field) std::getline(cells, f, '|');
            const std::string& id = field[0];
            const std::string& state = field[1];
            if (id.empty() || state.empty()) continue;
            if (!field[3].empty() && field[3] != "(null)") where[id] = field[3];
            if (active_states.count(state)) {
                active = true;
                final_state.erase(id);  // requeued: a state that looked final was not
                ended_once.erase(id);
            } else if (ended_once[id] == state) {
                final_state[id] = state;
            } else {
                // A requeue (scontrol requeue, a node failure with --requeue) shows the task
                // FAILED or NODE_FAIL for a moment before REQUEUED: an end counts once seen twice.
                ended_once[id] = state;
                active = true;
            }
            // What Slurm does to a task beyond the ordinary (a requeue, a node failure, a hold) is
            // news: said as it happens, so a long wait is never silent.
            const std::string& reason = field[2];
            const bool usual = state == "COMPLETED" || state == "COMPLETING" || state == "CONFIGURING" || state == "RUNNING" ||
                               (state == "CANCELLED" && cancelled_by_us(id)) ||
                               (state == "PENDING" && (reason == "None" || reason == "Priority" || reason == "Dependency" ||
                                                       reason == "Resources" || reason == "JobArrayTaskLimit"));
            const std::string now = state + (reason.empty() || reason == "None" ? "" : " (" + reason + ")");
            auto& last = seen[id];
            const std::string on = where.count(id) ? " on " + where[id] : "";
            if (last != now && !usual) {
                (state == "PENDING" ? log : warn)(name_of(id) + ": " + now + on);
                troubled.insert(id);
            } else if (last != now && state == "RUNNING" && troubled.erase(id)) {
                log(name_of(id) + ": RUNNING again" + on);
            }
            last = now;
        }
        if (table != last_table) {
            last_table = table;
            wait = options.poll_seconds;
            last_news = std::chrono::steady_clock::now();
        } else {
            wait = std::min(wait * 1.5, options.max_poll_seconds);
        }
        // A task that ended other than COMPLETED: every job waiting for it (transitively) can never
        // run. Cancel those now rather than wait for Slurm's own (slow, optional) cleanup.
        std::set<std::size_t> failed;
        for (const auto& [id, state] : final_state)
            if (state != "COMPLETED" && !cancelled_by_us(id))
                if (const auto j = submitted.owner(id, nullptr)) failed.insert(*j);
        std::vector<std::string> never;
        for (std::size_t k = 0; k < jobs.size(); ++k) {
            if (outcome.cancelled_jobs.count(k) || submitted.parts[k].empty()) continue;
            std::vector<std::size_t> stack(jobs[k].after.begin(), jobs[k].after.end());
            std::set<std::size_t> visited;
            bool doomed = false;
            while (!stack.empty() && !doomed) {
                const std::size_t d = stack.back();
                stack.pop_back();
                if (!visited.insert(d).second) continue;
                doomed = failed.count(d) > 0;
                stack.insert(stack.end(), jobs[d].after.begin(), jobs[d].after.end());
            }
            if (doomed) {
                for (const auto& part : submitted.parts[k]) never.push_back(part.id);
                outcome.cancelled_jobs.insert(k);
            }
        }
        // --fail-fast: the first failure stops everything still queued or running.
        if (options.fail_fast && !failed.empty() && !outcome.stopped_early) {
            outcome.stopped_early = true;
            for (const auto j : submitted.jobs) {
                if (outcome.cancelled_jobs.count(j)) continue;
                for (const auto& part : submitted.parts[j]) never.push_back(part.id);
                if (!failed.count(j)) outcome.cancelled_jobs.insert(j);
            }
        }
        if (!never.empty()) {
            log(outcome.stopped_early ? "a job failed (--fail-fast): cancelling every job still queued or running"
                                      : "a job failed: cancelling " + std::to_string(never.size()) + " job(s) that depend on it");
            std::vector<std::string> cancel = {"scancel"};
            cancel.insert(cancel.end(), never.begin(), never.end());
            slurm(options.run_program, cancel);
            ours.insert(never.begin(), never.end());
            active = true;  // look again until the cancellations show
            wait = options.poll_seconds;
        }
        const std::string line = progress_line(project, plan, done_markers);
        if (line != last_progress) log(line);
        last_progress = line;
        if (!active) break;
        if (std::chrono::steady_clock::now() - last_news > std::chrono::seconds(60)) {
            std::map<std::string, int> states;  // a word every minute while nothing moves
            for (const auto& [id, state] : seen)
                if (!final_state.count(id)) ++states[state];
            std::vector<std::string> counts;
            for (const auto& [state, n] : states) counts.push_back(std::to_string(n) + " " + state);
            log("waiting on Slurm: " + join(counts));
            last_news = std::chrono::steady_clock::now();
        }
        pollfd wake{interrupts.wake_fd(), POLLIN, 0};  // the wait, or a stop request
        ::poll(&wake, 1, static_cast<int>(wait * 1000));
    }
    return outcome;
}

// ---- Report ------------------------------------------------------------------------------------

// What the marker of a step Slurm calls COMPLETED says against it, in words.
std::string marker_problem(const MarkerReading& reading) {
    switch (reading.verdict) {
    case MarkerVerdict::missing: return "there is no marker";
    case MarkerVerdict::damaged: return "its marker is damaged (" + reading.damage + ")";
    case MarkerVerdict::foreign: return "its marker belongs to another unit, slice or plan";
    case MarkerVerdict::failed: return "its marker says it failed" + reading.failure();
    case MarkerVerdict::vouches: break;
    }
    return {};
}

// Every job must have COMPLETED, and every submitted slice with work and every whole-function
// node must be vouched for by its own marker (vouching.hpp): Slurm's word alone proves nothing
// about outputs. Throws naming each slice or job that did not succeed, and why.
void report(Project& project, const Plan& plan, const Submitted& submitted, Outcome& outcome) {
    const auto& jobs = plan.jobs;
    std::vector<std::string> failures;
    for (const auto j : submitted.jobs) {
        const ClusterJob& job = jobs[j];
        std::vector<std::pair<std::string, int>> bad;  // "id state", slice
        for (const auto& [id, state] : outcome.final_state) {
            int slice = -1;
            if (submitted.owner(id, &slice) == j && state != "COMPLETED") bad.emplace_back(id + " " + state, slice);
        }
        if (bad.empty() || outcome.cancelled_jobs.count(j)) continue;  // cancelled by us: never ran
        const Unit& unit = project.pipeline().unit(job.unit);
        if (job.array) {
            for (const auto& [entry, slice] : bad) {
                const std::string id = id_of(entry);
                if (outcome.stopped_early && entry.find("CANCELLED") != std::string::npos) continue;  // stopped by --fail-fast
                std::string why = slice_name(unit.name, slice) + ": Slurm task " + entry + (outcome.where.count(id) ? " on " + outcome.where[id] : "");
                bool told = false;
                try {
                    const PlanIndex index = read_plan_index(project.state(), unit.name);
                    const MarkerReading reading = read_step_marker(project.state(), {unit.name, slice, index.plan_id});
                    if (reading.verdict == MarkerVerdict::failed) {
                        why = slice_name(unit.name, slice) + reading.failure();
                        told = true;
                    }
                } catch (const Error&) {
                }
                if (!told) {
                    const std::string partition = partition_in_progress(project, unit, slice);
                    if (!partition.empty()) why += " on partition '" + partition + "'";
                    // No marker: the task's own error line says why (an unreadable input, say).
                    const std::string said = error_line((project.state().root() / "slurm" / (job.name + "-" + id + ".out")).string());
                    if (!said.empty()) why += ": " + said;
                }
                failures.push_back(why);
            }
        } else {
            const bool never_ran = bad.front().first.find("CANCELLED") != std::string::npos;
            const std::string log_file = (project.state().root() / "slurm" / (job.name + "-" + submitted.parts[j].front().id + ".out")).string();
            const std::string said = error_line(log_file);
            if (!never_ran)
                failures.push_back(job.name + ": Slurm job " + bad.front().first + (said.empty() ? "" : ": " + said) + " (see " + log_file + ")");
        }
    }
    if (failures.empty() && !outcome.stopped_early) {
        for (const auto j : submitted.jobs) {
            const ClusterJob& job = jobs[j];
            const Unit& unit = project.pipeline().unit(job.unit);
            if (job.array) {
                const PlanIndex index = read_plan_index(project.state(), unit.name);
                for (std::size_t i = 0; i < index.slice_sizes.size(); ++i) {
                    if (index.slice_sizes[i] == 0) continue;
                    const auto reading = read_step_marker(project.state(), {unit.name, static_cast<int>(i), index.plan_id});
                    if (!reading.vouches())
                        failures.push_back(slice_name(unit.name, static_cast<int>(i)) + ": Slurm says its task COMPLETED, but " + marker_problem(reading));
                }
            } else if (job.kind == StepKind::node && project.function(unit.nodes.front()).kind == NodeKind::whole) {
                const auto reading = read_step_marker(project.state(), {unit.name, -1, ""});
                if (!reading.vouches()) failures.push_back(job.name + ": Slurm says it COMPLETED, but " + marker_problem(reading));
            }
        }
    }
    if (!failures.empty() || outcome.stopped_early)
        throw NodeError((failures.empty() ? std::string("stopped by --fail-fast") : join(failures, "; ")) +
                        (outcome.cancelled_jobs.empty() ? std::string()
                                                        : " (" + std::to_string(outcome.cancelled_jobs.size()) + " dependent job(s) cancelled)") +
                        "; fix the cause and rerun to resume");
}

// ---- Trace -------------------------------------------------------------------------------------

// The run's trace: the rows the tasks wrote (each on its machine, into the shared state folder),
// then a row for every step that wrote none, from what Slurm and the plan say of it. Any of
// plan, submitted and outcome may be missing (the run stopped before it).
void trace_slurm_run(RunTrace& trace, Project& project, const ExpandedGraph& graph, const Plan* plan, const Submitted* submitted,
                     const Outcome* outcome) {
    trace.gather_all_parts();
    std::map<std::string, std::pair<TraceStatus, std::string>> slurm_says;  // step -> what Slurm's end says
    if (plan && submitted && outcome) {
        for (const auto& [id, state] : outcome->final_state) {
            int slice = -1;
            const auto j = submitted->owner(id, &slice);
            if (!j || state == "COMPLETED") continue;
            const ClusterJob& job = plan->jobs[*j];
            const bool cancelled = state.rfind("CANCELLED", 0) == 0 && (outcome->cancelled_jobs.count(*j) || outcome->stopped_early);
            slurm_says[job.array ? slice_name(job.unit, slice) : job.name] = {
                cancelled ? TraceStatus::skipped : TraceStatus::failed,
                "Slurm task " + id + " " + state + (cancelled ? ": cancelled, a job it waits for failed" : "")};
        }
    }
    // Whether an array job's submission included the task of `slice` (a resumed unit submits
    // only the slices that still have work).
    auto submitted_slice = [&](std::size_t job, int slice) {
        for (const auto& chunk : plan->chunks[job])
            for (const int task : chunk.tasks)
                if (chunk.offset + task == slice) return true;
        return false;
    };
    for (const Step& step : graph.steps) {
        if (trace.has_step_row(step.name)) continue;
        const std::string& unit = project.pipeline().units()[step.unit].name;
        const StepInfo info{step.name, unit, step.kind, step.slice};
        if (const auto said = slurm_says.find(step.name); said != slurm_says.end()) {
            trace.step_row(info, said->second.first, said->second.second);
            continue;
        }
        std::optional<std::size_t> job;
        for (std::size_t j = 0; plan && j < plan->jobs.size() && !job; ++j)
            if (plan->jobs[j].unit == unit && plan->jobs[j].kind == step.kind) job = j;
        if (plan && plan->up_to_date.count(unit))
            trace.step_row(info, TraceStatus::up_to_date, "nothing new or changed: not submitted");
        else if (job && plan->skip[*job] && step.kind == StepKind::slicer)
            trace.step_row(info, TraceStatus::ok, "sliced by the host before submitting");
        else if (job && step.kind == StepKind::slice && submitted && !submitted->parts[*job].empty() && !submitted_slice(*job, step.slice))
            trace.step_row(info, TraceStatus::up_to_date, "nothing to run for this plan: not submitted");
        else
            trace.step_row(info, TraceStatus::skipped, "not run: no row from a Slurm task");
    }
}

}  // namespace

void run_on_slurm(Project& project, const ExpandedGraph& graph, const SlurmRunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    RunLock lock(project.state().lock());
    claim_state_folder(project.state().root(), project.pipeline_file());
    const fs::path scripts = project.state().root() / "slurm" / "jobs";
    std::error_code ec;
    fs::remove_all(scripts, ec);
    // Before any submission: the tasks inherit the trace's environment (sbatch --export=ALL).
    const std::unique_ptr<RunTrace> trace = RunTrace::start(project.state(), options.trace_file);
    if (trace) log("run " + trace->run_id());
    export_slurm(project, graph, options.submit, scripts);
    fs::create_directories(project.state().root() / "slurm", ec);

    std::optional<Plan> plan;
    std::optional<Submitted> submitted;
    std::optional<Outcome> outcome;
    // Written however the run ends; a trace is a record, so its own trouble is only a warning.
    auto write_trace = [&] {
        if (!trace) return;
        try {
            trace_slurm_run(*trace, project, graph, plan ? &*plan : nullptr, submitted ? &*submitted : nullptr,
                            outcome ? &*outcome : nullptr);
            trace->finish();
        } catch (const std::exception& e) {
            warn("the trace of run " + trace->run_id() + " could not be made: " + e.what());
        }
    };
    try {
        const InterruptWatch interrupts;  // from here on a stop is heard: what was submitted is cancelled
        plan.emplace(plan_jobs(project, graph, options));
        submitted.emplace(submit_jobs(*plan, scripts, options));
        if (submitted->jobs.empty()) {
            log("pipeline done on Slurm: everything is up to date");
            write_trace();
            return;
        }
        outcome.emplace(watch_jobs(project, *plan, *submitted, options, interrupts));
        report(project, *plan, *submitted, *outcome);
    } catch (...) {
        write_trace();
        throw;
    }
    write_trace();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", seconds);
    log("pipeline done on Slurm: " + std::to_string(submitted->jobs.size()) + " job(s) in " + took + " s");
}

}  // namespace steppar
