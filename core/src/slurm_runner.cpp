#include "steppar/slurm_runner.hpp"

#include "steppar/error.hpp"
#include "steppar/executor.hpp"
#include "steppar/events.hpp"
#include "steppar/interruption.hpp"
#include "steppar/log.hpp"
#include "steppar/vouching.hpp"
#include "steppar/run_lock.hpp"
#include "steppar/signals.hpp"
#include "steppar/text.hpp"

#include <cctype>
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

// One sbatch of a job: its Slurm id, and for a slice array the slice its task 0 runs.
struct Part {
    std::string id;
    int offset = 0;
};

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
            if (equals != std::string::npos) return std::atoi(line.c_str() + equals + 1);
        }
    return default_max_array_size;
}

const std::set<std::string> active_states = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING"};

}  // namespace

void run_on_slurm(Project& project, const ExpandedGraph& graph, const SlurmRunOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    RunLock lock(project.state().lock());
    const fs::path scripts = project.state().root() / "slurm" / "jobs";
    std::error_code ec;
    fs::remove_all(scripts, ec);
    export_slurm(project, graph, options.submit, scripts);
    fs::create_directories(project.state().root() / "slurm", ec);
    const auto jobs = cluster_jobs(project, graph, options.submit.force);

    // Resume: a unit whose upstream units have nothing to redo is sliced here (the same plan the
    // slicer job would write) and only its slices without a valid marker are submitted; a unit
    // with nothing to redo is not submitted at all. Units downstream of work go in whole.
    std::map<std::string, std::vector<int>> slices_to_run;  // unit -> slices (absent: all)
    std::set<std::string> skip_unit, dirty_unit;
    std::vector<bool> skip_job(jobs.size(), false);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const ClusterJob& job = jobs[j];
        if (skip_unit.count(job.unit) || dirty_unit.count(job.unit)) {
            skip_job[j] = skip_unit.count(job.unit) > 0 || (job.kind == StepKind::slicer);
            continue;
        }
        const Unit& unit = project.pipeline().unit(job.unit);
        bool upstream_dirty = false;
        for (const auto a : job.after) upstream_dirty = upstream_dirty || !skip_unit.count(jobs[a].unit);
        if (upstream_dirty) {
            dirty_unit.insert(job.unit);
            continue;
        }
        // The same decision as the local runners (freshness.hpp): the host plans the unit now.
        const auto index = static_cast<std::size_t>(&unit - project.pipeline().units().data());
        const bool partitions = unit.replicated() || project.function(unit.nodes.front()).kind == NodeKind::partition;
        if (partitions) {
            const int count = unit.replicated() ? slice_count(graph, index) : 1;
            const SlicePlan plan = run_slicer(project, unit, count, SlicerOptions{options.submit.force, "", false});
            std::vector<int> missing;
            for (int i = 0; i < count; ++i)
                if (needs_run(project.state(), unit, part_of(plan, i), options.submit.force)) missing.push_back(i);
            if (missing.empty()) {
                check_barrier(project, unit);  // verifies (trivially) and folds the ledger
                log(unit.name + ": nothing new or changed, nothing to submit");
                skip_unit.insert(unit.name);
                skip_job[j] = true;
            } else {
                dirty_unit.insert(unit.name);
                if (unit.replicated()) {
                    slices_to_run[unit.name] = missing;
                    skip_job[j] = true;  // the slicer job: its plan is written
                }
            }
        } else if (!needs_run(project, unit, options.submit.force)) {
            log(unit.name + ": up to date, nothing to submit");
            skip_unit.insert(unit.name);
            skip_job[j] = true;
        } else {
            dirty_unit.insert(unit.name);
        }
    }

    // Submit in order, each after the submitted jobs it needs. A slice array larger than the
    // cluster's MaxArraySize goes in parts, each with the offset of its first slice.
    int max_array = 0;
    for (std::size_t j = 0; j < jobs.size() && !max_array; ++j)
        if (!skip_job[j] && jobs[j].array) max_array = cluster_max_array_size(options.run_program);
    std::vector<std::vector<Part>> parts(jobs.size());  // job -> its submissions
    std::vector<std::size_t> submitted;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        if (skip_job[j]) continue;
        const std::vector<std::string> dependency = slurm_dependency(jobs[j], [&](std::size_t a) {
            std::string ids;  // not join(): that says "(none)" for nothing
            for (const auto& part : parts[a]) ids += (ids.empty() ? "" : ":") + part.id;
            return ids;
        });
        std::vector<ArrayChunk> chunks = {{0, {}}};
        std::string tasks;
        if (jobs[j].array) {
            std::vector<int> slices;
            if (const auto it = slices_to_run.find(jobs[j].unit); it != slices_to_run.end()) slices = it->second;
            else
                for (int i = 0; i < jobs[j].tasks; ++i) slices.push_back(i);
            chunks = array_chunks(slices, max_array);
            tasks = static_cast<int>(slices.size()) < jobs[j].tasks ? " (slices " + array_ranges(slices) + "; the others have nothing to run)"
                                                                     : " (" + std::to_string(jobs[j].tasks) + " tasks)";
            if (chunks.size() > 1) tasks += " in " + std::to_string(chunks.size()) + " arrays (MaxArraySize " + std::to_string(max_array) + ")";
        }
        char file[512];
        std::snprintf(file, sizeof file, "%02zu-%s.sbatch", j + 1, jobs[j].name.c_str());
        std::vector<std::string> ids;
        for (const auto& chunk : chunks) {
            std::vector<std::string> command = {"sbatch", "--parsable"};
            command.insert(command.end(), dependency.begin(), dependency.end());
            if (jobs[j].array) {
                command.push_back("--array=" + array_ranges(chunk.tasks) +
                                  (options.submit.max_parallel > 0 ? "%" + std::to_string(options.submit.max_parallel) : ""));
                command.push_back("--export=ALL,STEPPAR_SLICE_OFFSET=" + std::to_string(chunk.offset));
            }
            command.push_back((scripts / file).string());
            std::string id = slurm(options.run_program, command);
            id = id.substr(0, id.find_first_of(";\n"));
            parts[j].push_back({id, chunk.offset});
            ids.push_back(id);
        }
        submitted.push_back(j);
        log("submitted " + jobs[j].name + " as Slurm job " + join(ids, ", ") + tasks);
    }
    if (submitted.empty()) {
        log("pipeline done on Slurm: everything is up to date");
        return;
    }
    std::vector<std::string> all_ids;
    for (const auto j : submitted)
        for (const auto& part : parts[j]) all_ids.push_back(part.id);
    const std::string id_list = join(all_ids, ",");
    // Which job a Slurm id ("123" or "123_4") belongs to, and for an array task its slice.
    auto owner = [&](const std::string& id, int* slice) -> std::optional<std::size_t> {
        for (const auto j : submitted)
            for (const auto& part : parts[j]) {
                if (id == part.id) return j;
                if (id.rfind(part.id + "_", 0) == 0) {
                    // "123_4" is task 4; "123_[0-9]" is the array's tasks not started yet.
                    const char* task = id.c_str() + part.id.size() + 1;
                    if (slice) *slice = std::isdigit(static_cast<unsigned char>(*task)) ? part.offset + std::atoi(task) : -1;
                    return j;
                }
            }
        return std::nullopt;
    };

    std::optional<InterruptWatch> interrupts(std::in_place);  // while waiting: a stop cancels the jobs

    // Wait: poll squeue (finished records stay for MinJobAge), report and cancel the hopeless.
    // The wait between looks starts short and grows while nothing changes; markers already seen
    // successful are not read again (on a network filesystem each read is a round trip).
    std::map<std::string, std::string> final_state;  // "id" or "id_task" -> state, for ended ones
    std::map<std::string, std::string> where;        // "id" or "id_task" -> the nodes it ran on
    std::map<std::string, std::string> ended_once;   // "id" or "id_task" -> an end state seen once
    std::map<std::string, std::string> seen;         // "id" or "id_task" -> "state (reason)" last reported
    std::set<std::string> done_markers;              // marker paths seen successful for their plan
    std::string last_progress, last_table;
    std::set<std::size_t> cancelled_jobs;
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
        const auto j = owner(id, &slice);
        if (!j) return "Slurm job " + id;
        return (slice >= 0 ? slice_name(jobs[*j].unit, slice) : jobs[*j].name) + " (Slurm " + id + ")";
    };
    while (true) {
        if (const int signal = interrupt_signal()) {
            std::vector<std::string> cancel = {"scancel"};
            cancel.insert(cancel.end(), all_ids.begin(), all_ids.end());
            slurm(options.run_program, cancel);
            interrupts.reset();
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
            if (state != "COMPLETED")
                if (const auto j = owner(id, nullptr)) failed.insert(*j);
        std::vector<std::string> never;
        for (std::size_t k = 0; k < jobs.size(); ++k) {
            if (cancelled_jobs.count(k) || parts[k].empty()) continue;
            std::vector<std::size_t> stack(jobs[k].after.begin(), jobs[k].after.end());
            std::set<std::size_t> seen;
            bool doomed = false;
            while (!stack.empty() && !doomed) {
                const std::size_t d = stack.back();
                stack.pop_back();
                if (!seen.insert(d).second) continue;
                doomed = failed.count(d) > 0;
                stack.insert(stack.end(), jobs[d].after.begin(), jobs[d].after.end());
            }
            if (doomed) {
                for (const auto& part : parts[k]) never.push_back(part.id);
                cancelled_jobs.insert(k);
            }
        }
        if (!never.empty()) {
            log("a job failed: cancelling " + std::to_string(never.size()) + " job(s) that depend on it");
            std::vector<std::string> cancel = {"scancel"};
            cancel.insert(cancel.end(), never.begin(), never.end());
            slurm(options.run_program, cancel);
            ours.insert(never.begin(), never.end());
            active = true;  // look again until the cancellations show
            wait = options.poll_seconds;
        }
        // Progress from the markers of the slices that have work in the current plans.
        std::vector<std::string> progress;
        for (const auto& unit : project.pipeline().units()) {
            if (!unit.replicated() || skip_unit.count(unit.name)) continue;
            std::size_t done = 0, total = 0;
            try {
                const PlanIndex plan = read_plan_index(project.state(), unit.name);
                for (std::size_t i = 0; i < plan.slice_sizes.size(); ++i) {
                    if (plan.slice_sizes[i] == 0) continue;
                    ++total;
                    const std::string path = project.state().marker(unit.name, static_cast<int>(i)).string() + "@" + plan.plan_id;
                    if (done_markers.count(path)) {
                        ++done;
                        continue;
                    }
                    if (read_step_marker(project.state(), {unit.name, static_cast<int>(i), plan.plan_id}).vouches()) {
                        ++done;
                        done_markers.insert(path);
                    }
                }
            } catch (const Error&) {
                continue;  // not sliced yet (its slicer job has not run)
            }
            progress.push_back(unit.name + " " + std::to_string(done) + "/" + std::to_string(total));
        }
        const std::string line = "slices done: " + join(progress);
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
        pollfd wake{interrupts->wake_fd(), POLLIN, 0};  // the wait, or a stop request
        ::poll(&wake, 1, static_cast<int>(wait * 1000));
    }
    interrupts.reset();

    // Outcome: every job must have COMPLETED; say why the others did not.
    std::vector<std::string> failures;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        const ClusterJob& job = jobs[j];
        if (parts[j].empty()) continue;  // not submitted: up to date
        std::vector<std::pair<std::string, int>> bad;  // "id state", slice
        for (const auto& [id, state] : final_state) {
            int slice = -1;
            if (owner(id, &slice) == j && state != "COMPLETED") bad.emplace_back(id + " " + state, slice);
        }
        if (bad.empty() || cancelled_jobs.count(j)) continue;  // cancelled by us: never ran
        const Unit& unit = project.pipeline().unit(job.unit);
        if (job.array) {
            for (const auto& [entry, slice] : bad) {
                const std::string id = entry.substr(0, entry.find(' '));
                std::string why = slice_name(unit.name, slice) + ": Slurm task " + entry + (where.count(id) ? " on " + where[id] : "");
                try {
                    const PlanIndex plan = read_plan_index(project.state(), unit.name);
                    const MarkerReading reading = read_step_marker(project.state(), {unit.name, slice, plan.plan_id});
                    if (reading.verdict == MarkerVerdict::failed) why = slice_name(unit.name, slice) + reading.failure();
                } catch (const Error&) {
                }
                if (why.find("failed on partition") == std::string::npos) {
                    const std::string partition = partition_in_progress(project, unit, slice);
                    if (!partition.empty()) why += " on partition '" + partition + "'";
                    // No marker: the task's own error line says why (an unreadable input, say).
                    const std::string said = error_line((project.state().root() / "slurm" / (job.name + "-" + id_of(entry) + ".out")).string());
                    if (!said.empty()) why += ": " + said;
                }
                failures.push_back(why);
            }
        } else {
            const bool never_ran = bad.front().first.find("CANCELLED") != std::string::npos;
            const std::string log_file = (project.state().root() / "slurm" / (job.name + "-" + parts[j].front().id + ".out")).string();
            const std::string said = error_line(log_file);
            if (!never_ran)
                failures.push_back(job.name + ": Slurm job " + bad.front().first + (said.empty() ? "" : ": " + said) + " (see " + log_file + ")");
        }
    }
    if (!failures.empty())
        throw NodeError(join(failures, "; ") +
                        (cancelled_jobs.empty() ? std::string()
                                                : " (" + std::to_string(cancelled_jobs.size()) + " dependent job(s) cancelled)") +
                        "; fix the cause and rerun to resume");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", seconds);
    log("pipeline done on Slurm: " + std::to_string(submitted.size()) + " job(s) in " + took + " s");
}

}  // namespace steppar
