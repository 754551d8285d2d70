// The commands about the state folder: status (what it says, and what a rerun would do) and
// clean (remove it).
#include "commands.hpp"

#include "command_line.hpp"
#include "unit_view.hpp"

#include <steppar/barrier.hpp>
#include <steppar/expand.hpp>
#include <steppar/freshness.hpp>
#include <steppar/plan.hpp>
#include <steppar/run_lock.hpp>
#include <steppar/state_folder.hpp>
#include <steppar/vouching.hpp>

#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/log.hpp>
#include <steppar/text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace steppar::cli {

int clean_command(int argc, char** argv) {
    po::options_description options("Options");
    const auto parsed = parse("clean",
                              "Removes the state folder (slice plans, markers, ledgers, intermediate datasets), so "
                              "the next run starts from scratch. Never touches the datasets of the catalog. Refuses "
                              "while the pipeline is running.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const fs::path root = project->state().root();
    std::error_code ec;
    if (!fs::exists(root, ec)) {
        std::cout << "nothing to clean: " << root.string() << " does not exist\n";
        return 0;
    }
    std::uintmax_t removed = 0;
    std::vector<std::string> kept;
    {
        RunLock lock(project->state().lock());  // a running pipeline keeps its state
        wait_for_previous_steps(project->state().steps_lock(), 10);
        // Only what steppar writes there: anything else in the folder is someone's.
        for (const auto& entry : fs::directory_iterator(root, ec)) {
            const std::string name = entry.path().filename().string();
            if (entry.path() == project->state().lock() || name == state_signature) continue;
            if (is_state_entry(name)) removed += fs::remove_all(entry.path(), ec);
            else kept.push_back(name);
        }
        if (ec) throw StateError("cannot clean '" + root.string() + "': " + ec.message());
        fs::remove(project->state().lock(), ec);  // while held: never unlink a lock another run holds
    }
    if (kept.empty()) {
        fs::remove(root / state_signature, ec);
        fs::remove(root, ec);  // only when empty
    }
    std::cout << "removed " << root.string() << " (" << removed << " files and folders)";
    if (!kept.empty()) {
        std::sort(kept.begin(), kept.end());
        std::cout << "; kept " << kept.size() << " entr" << (kept.size() == 1 ? "y" : "ies") << " steppar did not write: " << join_first(kept, 5);
    }
    std::cout << "\n";
    return 0;
}

namespace {

// What the state folder says about one step, and what `run` would do with it now.
struct StatusRow {
    std::string state;   // done, failed, stale, not run, waiting
    std::string detail;  // why, in words
    bool rerun;          // would `run` (without --force) run it?
    std::map<std::string, long long> metrics = {};  // done: what its nodes counted (ctx.count())
    std::size_t skipped = 0;                        // done: output partitions its nodes skipped
};

// A slice (or plain partition node) of the plan on disk, and whether the next plan gives it work.
StatusRow slice_status(Project& project, const Unit& unit, int slice, const std::optional<PlanIndex>& index, bool rerun) {
    if (!index) return {"not run", "no plan yet", rerun};
    const std::size_t size = static_cast<std::size_t>(slice) < index->slice_sizes.size() ? index->slice_sizes[static_cast<std::size_t>(slice)] : 0;
    if (size == 0) return rerun ? StatusRow{"stale", "nothing to run in the last plan; new or changed partitions since", true}
                                : StatusRow{"done", "nothing to run in the last plan", false};
    const MarkerReading reading = read_step_marker(project.state(), {unit.name, slice, index->plan_id});
    switch (reading.verdict) {
    case MarkerVerdict::damaged: return {"failed", reading.damage, true};
    case MarkerVerdict::failed: {
        const Marker& m = *reading.marker;
        return {"failed", (m.failed_partition.empty() ? "" : "on partition '" + m.failed_partition + "': ") + m.message, true};
    }
    case MarkerVerdict::missing: return {"not run", std::to_string(size) + " partition(s) planned", true};
    case MarkerVerdict::foreign:
        return {"not run", std::to_string(size) + " partition(s) planned; its marker belongs to another unit, slice or plan", true};
    case MarkerVerdict::vouches: break;
    }
    const std::string what = std::to_string(size) + " partition(s)";
    StatusRow row = rerun ? StatusRow{"stale", what + "; new or changed partitions since", true} : StatusRow{"done", what, false};
    row.metrics = reading.marker->metrics;
    row.skipped = reading.marker->skipped;
    return row;
}

}  // namespace

int status_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("format", po::value<std::string>()->default_value("text"), "text or json");
    const auto parsed = parse("status",
                              "Shows, from the state folder and the ledger, each unit's partitions (done, new, "
                              "changed, to retract, foreign files in its output folders) and each step's state "
                              "(done, failed with its message, not run, stale), and whether `run` would run it now.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = text_or_json(parsed);
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    const Pipeline& pipeline = project->pipeline();
    std::map<std::size_t, std::optional<PlannedUnit>> plans;  // unit -> what a rerun plans (none: inputs not there yet)
    nlohmann::json units = nlohmann::json::array();
    std::vector<std::string> unit_lines;
    for (std::size_t u = 0; u < pipeline.units().size(); ++u) {
        const Unit& unit = pipeline.units()[u];
        nlohmann::json j = {{"name", unit.name}};
        std::string line;
        if (over_partitions(*project, unit)) {
            const auto& planned = plans[u] = plan_now(*project, graph, u);
            if (!planned) {
                j["state"] = "waiting";
                line = "waiting\t" + unit.name + "\tits input is made upstream and does not exist yet";
            } else {
                const Assessment& a = planned->assessment;
                std::vector<std::string> retract;
                for (const auto& [name, _] : a.retract) retract.push_back(name);
                const bool clean = a.dirty.empty() && retract.empty();
                j.update({{"state", clean ? "done" : "stale"}, {"partitions", a.partitions}, {"up_to_date", a.up_to_date},
                          {"new", a.new_count}, {"changed", a.changed_count}, {"retract", retract}, {"left_out", a.left_out},
                          {"foreign", a.foreign}, {"to_run", a.dirty}});
                line = std::string(clean ? "done" : "stale") + "\t" + unit.name + "\t" + summary(a);
                if (!a.dirty.empty()) line += "; to run: " + join_first(a.dirty, 5);
                if (!retract.empty()) line += "; to retract: " + join_first(retract, 5);
                if (!a.foreign.empty()) line += "; " + count_text(a.foreign.size()) + " foreign file(s), kept: " + join_first(a.foreign, 5);
                if (!a.damaged.empty()) line += "; " + a.damaged;
            }
        } else {
            std::string why;
            const bool rerun = needs_run(*project, unit, false, &why);
            j["state"] = rerun ? "stale" : "done";
            line = std::string(rerun ? "stale" : "done") + "\t" + unit.name + "\t" + (rerun ? why : "up to date");
        }
        units.push_back(std::move(j));
        unit_lines.push_back("unit:" + line);
    }
    std::vector<StatusRow> statuses;
    for (const auto& step : graph.steps) {
        const Unit& unit = pipeline.units()[step.unit];
        const auto planned = plans.find(step.unit);
        if (planned != plans.end() && !planned->second) {
            statuses.push_back({"waiting", "its input is made upstream and does not exist yet", true});
            continue;
        }
        std::optional<PlanIndex> index;
        try {
            index = read_plan_index(project->state(), unit.name);
        } catch (const StateError&) {
        }
        if (step.kind == StepKind::node && planned == plans.end()) {  // a whole function
            const MarkerReading reading = read_step_marker(project->state(), {unit.name, -1, ""});
            std::string why;
            const bool rerun = needs_run(*project, unit, false, &why);
            switch (reading.verdict) {
            case MarkerVerdict::damaged: statuses.push_back({"failed", reading.damage, true}); break;
            case MarkerVerdict::missing: statuses.push_back({"not run", "no marker", true}); break;
            case MarkerVerdict::foreign: statuses.push_back({"not run", why, true}); break;
            case MarkerVerdict::failed: statuses.push_back({"failed", reading.marker->message, true}); break;
            case MarkerVerdict::vouches:
                statuses.push_back(rerun ? StatusRow{"stale", why, true, reading.marker->metrics} : StatusRow{"done", "up to date", false, reading.marker->metrics});
                break;
            }
            continue;
        }
        const SlicePlan& next = planned->second->plan;
        if (step.kind == StepKind::slicer) {
            statuses.push_back(index ? StatusRow{"done", "last plan: generation " + std::to_string(index->generation) + ", " +
                                                             std::to_string(std::accumulate(index->slice_sizes.begin(), index->slice_sizes.end(), std::size_t{0})) +
                                                             " partition(s) to run",
                                                 true}
                                     : StatusRow{"not run", "no plan yet", true});
        } else if (step.kind == StepKind::slice || step.kind == StepKind::node) {
            const int slice = step.kind == StepKind::slice ? step.slice : 0;
            statuses.push_back(slice_status(*project, unit, slice, index, !next.slices[static_cast<std::size_t>(slice)].empty()));
        } else {  // barrier: done exactly when every slice is
            std::size_t done = 0, slices = 0;
            for (std::size_t i = 0; i < statuses.size(); ++i)
                if (graph.steps[i].unit == step.unit && graph.steps[i].kind == StepKind::slice) {
                    ++slices;
                    done += statuses[i].state == "done" || statuses[i].state == "stale";
                }
            const bool all = done == slices && index;
            statuses.push_back({all ? (next.partition_count() ? "stale" : "done") : "waiting",
                                std::to_string(done) + " of " + std::to_string(slices) + " slice(s) done", next.partition_count() > 0 || !all});
        }
    }
    // Counters of the last run of each unit's steps, summed per unit.
    std::vector<std::map<std::string, long long>> unit_metrics(pipeline.units().size());
    std::vector<std::size_t> unit_skipped(pipeline.units().size());
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        for (const auto& [name, value] : statuses[i].metrics) unit_metrics[graph.steps[i].unit][name] += value;
        unit_skipped[graph.steps[i].unit] += statuses[i].skipped;
    }
    for (std::size_t u = 0; u < pipeline.units().size(); ++u) {
        if (!unit_metrics[u].empty()) units[u]["metrics"] = unit_metrics[u];
        if (unit_skipped[u]) units[u]["skipped"] = unit_skipped[u];
        if (const std::string text = counters_text(unit_metrics[u], unit_skipped[u]); !text.empty()) unit_lines[u] += "; last run: " + text;
    }
    if (format == "json") {
        nlohmann::json steps = nlohmann::json::array();
        for (std::size_t i = 0; i < graph.steps.size(); ++i) {
            steps.push_back({{"name", graph.steps[i].name}, {"kind", to_string(graph.steps[i].kind)},
                             {"state", statuses[i].state}, {"detail", statuses[i].detail}, {"rerun", statuses[i].rerun}});
            if (!statuses[i].metrics.empty()) steps.back()["metrics"] = statuses[i].metrics;
            if (statuses[i].skipped) steps.back()["skipped"] = statuses[i].skipped;
        }
        std::cout << nlohmann::json{{"units", units}, {"steps", steps}}.dump(1) << "\n";
        return 0;
    }
    // Names and messages come from partitions and nodes: shown, never obeyed by the terminal.
    for (const auto& line : unit_lines) std::cout << visible_text(line) << "\n";
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        const std::string counters = counters_text(statuses[i].metrics, statuses[i].skipped);
        std::cout << statuses[i].state << "\t" << graph.steps[i].name << "\t" << visible_text(statuses[i].detail) << (counters.empty() ? "" : "; " + counters)
                  << "\t" << (statuses[i].rerun ? "rerun: runs" : "rerun: skipped") << "\n";
    }
    return 0;
}

}  // namespace steppar::cli
