// The commands that run steps: run (the whole pipeline), and run-slice, run-node, run-slicer
// and check-barrier (one step each: what runners and cluster jobs call).
#include "commands.hpp"

#include "command_line.hpp"
#include <steppar/barrier.hpp>
#include <steppar/barrier_wait.hpp>
#include <steppar/executor.hpp>
#include <steppar/expand.hpp>
#include <steppar/run_lock.hpp>
#include <steppar/runner.hpp>
#include <steppar/slurm_runner.hpp>
#include <steppar/spec.hpp>
#include <steppar/step_reaper.hpp>
#include <steppar/step_trace.hpp>
#include <steppar/vouching.hpp>


#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/log.hpp>
#include <steppar/signals.hpp>
#include <steppar/text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar::cli {
namespace {

// A step command under a run that traces it (step_trace.hpp): its rows, and a step row saying
// how it ended. `--attempt` comes from a local runner; a Slurm task's from its environment.
template <class Work>
void traced(TracedStep identity, int attempt, Work&& work) {
    identity.attempt = attempt > 0 ? attempt : attempt_from_environment();
    const auto trace = StepTrace::begin(std::move(identity));
    try {
        work();
    } catch (const Error& e) {
        if (trace) trace->end(e.exit_code(), e.what());
        throw;
    } catch (const std::exception& e) {
        if (trace) trace->end(1, std::string("internal error: ") + e.what());
        throw;
    }
    if (trace) trace->end(0, {});
}

void up_to_date() {
    if (StepTrace* trace = step_trace()) trace->mark_up_to_date();
}

constexpr const char* attempt_help = "internal: which launch of the step this is, for the run's trace";

}  // namespace

int run_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("runner", po::value<std::string>()->default_value("parallel"),
                          "sequential: one slice or node process at a time; "
                          "parallel: up to --max-workers processes at once; "
                          "slurm: submit to Slurm (job arrays, afterok chains) and wait")(
        "partition", po::value<std::string>()->default_value(""), "slurm runner: Slurm partition")(
        "account", po::value<std::string>()->default_value(""), "slurm runner: Slurm account")(
        "sbatch-arg", po::value<std::vector<std::string>>()->composing(), "slurm runner: extra '#SBATCH' line (repeatable)")(
        "poll-interval", po::value<double>()->default_value(10),
        "slurm runner: the longest wait between two looks at the jobs, in seconds (it starts at 0.5 and grows while "
        "nothing changes)")(
        "max-workers,j", po::value<int>()->default_value(0),
        "parallel runner: most processes at once (0: the cores this process may use, after CPU affinity "
        "and the cgroup cpu.max quota)")(
        "launch", po::value<std::string>()->default_value("fork"),
        "how local runners start a step's process: fork (from a small fork server, ~1 ms) or exec "
        "(a fresh steppar-host per step, ~7 ms; for plugins that start threads when loaded)")(
        "fail-fast", po::bool_switch(), "at the first failed slice or node, stop everything still running")(
        "slice-timeout", po::value<double>()->default_value(0),
        "kill a slice (with its process group) running longer than this many seconds; 0: no limit "
        "(a node's 'timeout:' wins)")(
        "retries", po::value<int>()->default_value(0),
        "run a failed slice again up to this many times (a node's 'retries:' wins)")(
        "force", po::bool_switch(), "run every partition and node again, up to date or not")(
        "only-missing", po::bool_switch(),
        "partitions with no ledger record whose outputs all exist and are newer than their inputs are recorded "
        "as done without running (adopting outputs made before steppar kept a ledger, or after 'clean')")(
        "partitions", po::value<std::string>()->default_value(""),
        "slicers hand out only partitions whose names match this regular expression (search)")(
        "nodes", po::value<std::vector<std::string>>()->multitoken(),
        "run only these steps, nodes or multinodes (e.g. count, count-slice-2); others are taken as done")(
        "from-nodes", po::value<std::vector<std::string>>()->multitoken(),
        "run only these nodes or multinodes and everything downstream of them")(
        "to-nodes", po::value<std::vector<std::string>>()->multitoken(),
        "run only these nodes or multinodes and everything they depend on")(
        "tags", po::value<std::vector<std::string>>()->multitoken(),
        "run only multinodes/nodes carrying one of these tags (every generated step carries its multinode's name)")(
        "trace", po::value<std::string>()->default_value(""),
        "also write the run's trace (one row per step, slice and partition, with times and costs) to this TSV file; "
        "the state folder keeps the last STEPPAR_KEEP_TRACES (20) under traces/ anyway");
    const auto parsed = parse("run", "Runs the whole pipeline: each multinode's slicer, its slices and barrier, "
                                     "and every node after the barriers it needs.",
                              options, argc, argv);
    if (parsed.help) return 0;
    RunOptions run_options;
    const auto runner = parsed.values["runner"].as<std::string>();
    if (runner == "sequential")
        run_options.runner = RunnerKind::sequential;
    else if (runner == "parallel")
        run_options.runner = RunnerKind::parallel;
    else if (runner != "slurm")
        throw UsageError("unknown runner '" + runner + "'" + suggestion(runner, {"sequential", "parallel", "slurm"}));
    const auto launch = parsed.values["launch"].as<std::string>();
    if (launch == "exec")
        run_options.launch = LaunchKind::exec;
    else if (launch != "fork")
        throw UsageError("unknown --launch '" + launch + "'" + suggestion(launch, {"fork", "exec"}));
    run_options.max_workers = parsed.values["max-workers"].as<int>();
    if (run_options.max_workers < 0) throw UsageError("--max-workers must be 0 (all usable cores) or more");
    run_options.host_program = host_program();
    run_options.fail_fast = parsed.values["fail-fast"].as<bool>();
    run_options.slice_timeout = parsed.values["slice-timeout"].as<double>();
    if (!(run_options.slice_timeout >= 0 && run_options.slice_timeout <= limits::max_timeout_seconds))
        throw UsageError("--slice-timeout must be 0 (no limit) or more seconds, at most 30 days (2592000)");
    run_options.retries = parsed.values["retries"].as<int>();
    if (run_options.retries < 0 || run_options.retries > limits::max_retries)
        throw UsageError("--retries must be 0 or more, at most " + std::to_string(limits::max_retries));
    run_options.force = parsed.values["force"].as<bool>();
    run_options.only_missing = parsed.values["only-missing"].as<bool>();
    run_options.quiet = parsed.values["quiet"].as<bool>();
    run_options.partitions = parsed.values["partitions"].as<std::string>();
    // Comma-separated lists are accepted as well as repeated options.
    auto list = [&](const char* name) {
        std::vector<std::string> out;
        if (!parsed.values.count(name)) return out;
        for (const auto& item : parsed.values[name].as<std::vector<std::string>>()) {
            std::stringstream parts(item);
            for (std::string part; std::getline(parts, part, ',');)
                if (!part.empty()) out.push_back(part);
        }
        return out;
    };
    run_options.params = param_overrides(parsed);
    if (runner == "slurm" && !run_options.params.empty())
        throw UsageError("--param does not reach cluster jobs: put the value in the pipeline file for --runner slurm");
    run_options.nodes = list("nodes");
    run_options.tags = list("tags");
    run_options.from_nodes = list("from-nodes");
    run_options.to_nodes = list("to-nodes");
    run_options.trace_file = parsed.values["trace"].as<std::string>();

    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    if (runner == "slurm") {
        if (!run_options.nodes.empty() || !run_options.tags.empty() || !run_options.from_nodes.empty() ||
            !run_options.to_nodes.empty())
            throw UsageError("--runner slurm runs the whole pipeline: --nodes, --tags, --from-nodes and --to-nodes are for "
                             "the local runners");
        for (const char* local : {"retries", "launch"})
            if (!parsed.values[local].defaulted())
                throw UsageError(std::string("--") + local + " is for the local runners: " +
                                 (std::string(local) == "retries" ? "on Slurm, rerun to run a failed slice again (finished slices are kept)"
                                                                  : "Slurm tasks start steppar-host themselves"));
        if (!run_options.partitions.empty() || run_options.only_missing)
            throw UsageError("--partitions and --only-missing are for the local runners; with --runner slurm, narrow the "
                             "partitions with filter/exclude in the pipeline file, or adopt outputs with a local 'run --only-missing' first");
        SlurmRunOptions slurm;
        slurm.submit.host_program = run_options.host_program.string();
        slurm.submit.partition = parsed.values["partition"].as<std::string>();
        slurm.submit.account = parsed.values["account"].as<std::string>();
        if (parsed.values.count("sbatch-arg")) slurm.submit.sbatch_args = parsed.values["sbatch-arg"].as<std::vector<std::string>>();
        slurm.submit.max_parallel = run_options.max_workers;
        slurm.submit.force = run_options.force;
        slurm.max_poll_seconds = parsed.values["poll-interval"].as<double>();
        slurm.slice_timeout = run_options.slice_timeout;
        slurm.fail_fast = run_options.fail_fast;
        slurm.trace_file = run_options.trace_file;
        if (!(slurm.max_poll_seconds >= slurm.poll_seconds && slurm.max_poll_seconds <= 3600))
            throw UsageError("--poll-interval must be from " + std::to_string(slurm.poll_seconds).substr(0, 3) + " to 3600 seconds");
        run_on_slurm(*project, graph, slurm);
        return 0;
    }
    run_pipeline(*project, graph, run_options);
    return 0;
}

int run_slice_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("node", po::value<std::string>()->required(), "the multinode or multipipeline")(
        "slice", po::value<int>()->required(), "the slice index, 0..N-1 (as in the slice plan)")(
        "force", po::bool_switch(), "run even when the slice's marker says it is done for this plan")(
        "attempt", po::value<int>()->default_value(0), attempt_help);
    const auto parsed = parse("run-slice",
                              "Runs one slice: reads its part of the slice plan written by the slicer (the "
                              "partitions that must run), processes them, records each in the ledger and writes "
                              "its marker. Runners and cluster jobs call this.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = replicated_unit(*project, parsed);
    remove_temporaries_on_termination_signals();
    const int slice = parsed.values["slice"].as<int>();
    // Cluster engines resubmit whole arrays: a slice with nothing to do, or already done for
    // this plan, ends at once.
    traced({slice_name(unit.name, slice), StepKind::slice, unit.name, slice}, parsed.values["attempt"].as<int>(), [&] {
        const SlicePart part = read_slice_part(project->state(), unit.name, slice);
        if (!needs_run(project->state(), unit, part, parsed.values["force"].as<bool>())) {
            log(slice_name(unit.name, slice) + (part.partitions.empty() ? ": nothing to run in this plan" : ": already done for this plan, skipped"));
            up_to_date();
            return;
        }
        const StepLease lease(project->state().steps_lock());
        const StepReaper reaper;
        run_slice(*project, unit, slice);
    });
    return 0;
}

int run_node_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("node", po::value<std::string>()->required(), "the plain node to run")(
        "only-missing", po::bool_switch(), "record partitions whose outputs exist and are newer than their inputs without running them")(
        "force", po::bool_switch(), "run every partition (or the whole function) even when up to date")(
        "planned", po::bool_switch(), "internal: the host has decided and planned this run")(
        "attempt", po::value<int>()->default_value(0), attempt_help);
    const auto parsed = parse("run-node", "Runs one plain (not sliced) node: only its dirty partitions, or its whole "
                                          "function when its inputs changed.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = project->pipeline().unit(parsed.values["node"].as<std::string>());
    if (unit.replicated())
        throw UsageError("'" + unit.name + "' is sliced: run it with 'run' or one slice with run-slice");
    remove_temporaries_on_termination_signals();
    traced({unit.name, StepKind::node, unit.name, -1}, parsed.values["attempt"].as<int>(), [&] {
        const StepLease lease(project->state().steps_lock());
        const StepReaper reaper;
        run_node(*project, unit, {parsed.values["planned"].as<bool>(), parsed.values["force"].as<bool>(), parsed.values["only-missing"].as<bool>()});
    });
    return 0;
}

int run_slicer_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("node", po::value<std::string>()->required(), "the multinode or multipipeline")(
        "force", po::bool_switch(), "plan every partition, not only the dirty ones")(
        "only-missing", po::bool_switch(), "record partitions whose outputs exist and are newer than their inputs without running them")(
        "partitions", po::value<std::string>()->default_value(""), "hand out only partitions matching this regex")(
        "slices", po::value<int>()->default_value(0),
        "number of slices (0: the unit's own; exports pass the count they were made with)");
    const auto parsed = parse("run-slicer",
                              "Runs one multinode's slicer: compares its inputs and outputs with the ledger, "
                              "retracts the outputs of deleted partitions and writes the plan of the partitions "
                              "that must run. Cluster exports call this before the slices.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = replicated_unit(*project, parsed);
    const int slices = parsed.values["slices"].as<int>();
    if (slices < 0) throw UsageError("--slices must be 1 or more (0: the unit's own)");
    if (slices > max_slices())
        throw UsageError("--slices " + std::to_string(slices) + " is more than the limit of " + std::to_string(max_slices()) +
                         " slices per unit; use fewer, or raise the limit with STEPPAR_MAX_SLICES=" + std::to_string(slices));
    traced({slicer_name(unit.name), StepKind::slicer, unit.name, -1}, 0, [&] {
        run_slicer(*project, unit, slices > 0 ? slices : unit.slices.resolve(),
                   {parsed.values["force"].as<bool>(), parsed.values["partitions"].as<std::string>(), parsed.values["only-missing"].as<bool>()});
    });
    return 0;
}

int check_barrier_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("node", po::value<std::string>()->required(), "the multinode or multipipeline")(
        "wait", po::bool_switch(), "first wait until every slice has left its marker (inotify, and a scan for shared filesystems)")(
        "timeout", po::value<double>()->default_value(0), "with --wait: give up after this many seconds (0: never)")(
        "scan-interval", po::value<double>()->default_value(1), "with --wait: also scan the markers folder this often (seconds)")(
        "no-inotify", po::bool_switch(), "with --wait: only scan (where inotify is unavailable or out of watches)");
    const auto parsed = parse("check-barrier",
                              "Succeeds when every slice of the multinode's current plan has its success marker and "
                              "a ledger record for each of its partitions; otherwise lists every slice that did not "
                              "succeed and exits 1. Folds the ledger when that pays off.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = replicated_unit(*project, parsed);
    BarrierWait wait;
    wait.timeout_seconds = parsed.values["timeout"].as<double>();
    wait.scan_interval_seconds = parsed.values["scan-interval"].as<double>();
    wait.use_inotify = !parsed.values["no-inotify"].as<bool>();
    if (parsed.values["wait"].as<bool>() && (wait.timeout_seconds < 0 || wait.scan_interval_seconds <= 0))
        throw UsageError("--timeout must be 0 (never) or more and --scan-interval more than 0 seconds");
    traced({barrier_name(unit.name), StepKind::barrier, unit.name, -1}, 0, [&] {
        if (parsed.values["wait"].as<bool>()) {
            MarkerWatch watch(*project, unit, wait);
            watch.wait();
        }
        check_barrier(*project, unit);
    });
    return 0;
}

}  // namespace steppar::cli
