#include "commands.hpp"
#include "graphviz.hpp"
#include "new_plugin.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/barrier_wait.hpp>
#include <steppar/cluster_export.hpp>
#include <steppar/slurm_runner.hpp>
#include <steppar/spec.hpp>
#include <steppar/step_reaper.hpp>
#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/executor.hpp>
#include <steppar/expand.hpp>
#include <steppar/log.hpp>
#include <steppar/marker.hpp>
#include <steppar/run_lock.hpp>
#include <steppar/runner.hpp>
#include <steppar/text.hpp>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>
#include <iostream>
#include <sstream>
#include <map>
#include <optional>
#include <set>
#include <unistd.h>

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace steppar::cli {
namespace {

struct Parsed {
    po::variables_map values;
    bool help = false;
};

// Every command takes the pipeline file as its first positional argument and --state-dir.
Parsed parse(const std::string& command, const std::string& summary, po::options_description options, int argc,
             char** argv) {
    options.add_options()("state-dir", po::value<std::string>(),
                          "state folder for slice plans, markers and intermediate datasets "
                          "(default: .steppar/ beside the pipeline file)")(
        "param", po::value<std::vector<std::string>>()->composing(),
        "NAME=VALUE: override a param of the pipeline file (VALUE as JSON: 5, true, [1,2], \"x\"; other text is a "
        "string); repeatable")(
        "quiet,q", po::bool_switch(), "print only warnings and errors")(
        "log-format", po::value<std::string>()->default_value("auto"),
        "how progress and messages look on stderr: plain (timestamped lines), json (one object per event), "
        "live (a progress display, run only); auto: live for run on a terminal, plain otherwise")(
        "help,h", po::bool_switch(), "show this help");
    po::options_description hidden;
    hidden.add_options()("pipeline", po::value<std::string>())(
        "report-to-host", po::bool_switch(), "a step's process run by a host: framed events on stderr");
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description positional;
    positional.add("pipeline", 1);

    Parsed parsed;
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), parsed.values);
    if (parsed.values.count("help") && parsed.values["help"].as<bool>()) {
        std::cout << "Usage: steppar-host " << command << " PIPELINE [OPTIONS]\n\n" << summary << "\n\n" << options;
        parsed.help = true;
        return parsed;
    }
    po::notify(parsed.values);  // after --help, so help never fails on a missing required option
    if (!parsed.values.count("pipeline"))
        throw UsageError(command + ": missing PIPELINE (the pipeline file, .yml or .json)");
    set_quiet(parsed.values["quiet"].as<bool>());
    if (parsed.values["report-to-host"].as<bool>()) {
        set_events(make_child_reporter(report_channel(STDERR_FILENO)));
    } else {
        // Only a local run has a display worth animating; Slurm's progress is its log lines.
        // (--quiet asks for warnings and errors only: no display either.)
        const bool animate = command == "run" && !parsed.values["quiet"].as<bool>() &&
                             !(parsed.values.count("runner") && parsed.values["runner"].as<std::string>() == "slurm");
        const LogFormat format = parse_log_format(parsed.values["log-format"].as<std::string>(), STDERR_FILENO, animate);
        if (format == LogFormat::live && !animate)
            throw UsageError("--log-format live is for 'run' with a local runner and without --quiet; use plain or json here");
        set_events(make_event_sink(format, STDERR_FILENO));
    }
    return parsed;
}

std::vector<std::string> param_overrides(const Parsed& parsed) {
    return parsed.values.count("param") ? parsed.values["param"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::unique_ptr<Project> open_project(const Parsed& parsed) {
    std::optional<fs::path> state;
    if (parsed.values.count("state-dir")) state = parsed.values["state-dir"].as<std::string>();
    return Project::open(parsed.values["pipeline"].as<std::string>(), state, param_overrides(parsed));
}

int run(int argc, char** argv) {
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
        "parallel runner: most processes at once (0: the number of cores)")(
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
        "run only multinodes/nodes carrying one of these tags (every generated step carries its multinode's name)");
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
    if (run_options.max_workers < 0) throw UsageError("--max-workers must be 0 (all cores) or more");
    run_options.host_program = boost::dll::program_location().string();
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

    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    if (runner == "slurm") {
        if (!run_options.nodes.empty() || !run_options.tags.empty() || !run_options.from_nodes.empty() ||
            !run_options.to_nodes.empty())
            throw UsageError("--runner slurm runs the whole pipeline: --nodes, --tags, --from-nodes and --to-nodes are for "
                             "the local runners");
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
        "force", po::bool_switch(), "run even when the slice's marker says it is done for this plan");
    const auto parsed = parse("run-slice",
                              "Runs one slice: reads its part of the slice plan written by the slicer (the "
                              "partitions that must run), processes them, records each in the ledger and writes "
                              "its marker. Runners and cluster jobs call this.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = project->pipeline().unit(parsed.values["node"].as<std::string>());
    if (!unit.replicated())
        throw UsageError("'" + unit.name + "' is a plain node, not a multinode: use run-node");
    remove_temporaries_on_termination_signals();
    const int slice = parsed.values["slice"].as<int>();
    // Cluster engines resubmit whole arrays: a slice with nothing to do, or already done for
    // this plan, ends at once.
    const SlicePart part = read_slice_part(project->state(), unit.name, slice);
    if (!parsed.values["force"].as<bool>() && !slice_needs_run(project->state(), unit, part)) {
        log(slice_name(unit.name, slice) + (part.partitions.empty() ? ": nothing to run in this plan" : ": already done for this plan, skipped"));
        return 0;
    }
    const StepLease lease(project->state().steps_lock());
    const StepReaper reaper;
    run_slice(*project, unit, slice);
    return 0;
}

int run_node_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("node", po::value<std::string>()->required(), "the plain node to run")(
        "only-missing", po::bool_switch(), "record partitions whose outputs exist and are newer than their inputs without running them")(
        "force", po::bool_switch(), "run every partition (or the whole function) even when up to date")(
        "planned", po::bool_switch(), "internal: the host has decided and planned this run");
    const auto parsed = parse("run-node", "Runs one plain (not sliced) node: only its dirty partitions, or its whole "
                                          "function when its inputs changed.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    const Unit& unit = project->pipeline().unit(parsed.values["node"].as<std::string>());
    if (unit.replicated())
        throw UsageError("'" + unit.name + "' is sliced: run it with 'run' or one slice with run-slice");
    remove_temporaries_on_termination_signals();
    const StepLease lease(project->state().steps_lock());
    const StepReaper reaper;
    run_node(*project, unit, {parsed.values["planned"].as<bool>(), parsed.values["force"].as<bool>(), parsed.values["only-missing"].as<bool>()});
    return 0;
}

const Unit& replicated_unit(Project& project, const Parsed& parsed) {
    const Unit& unit = project.pipeline().unit(parsed.values["node"].as<std::string>());
    if (!unit.replicated()) throw UsageError("'" + unit.name + "' is a plain node, not a multinode: use run-node");
    return unit;
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
    run_slicer(*project, unit, slices > 0 ? slices : unit.slices.resolve(),
               {parsed.values["force"].as<bool>(), parsed.values["partitions"].as<std::string>(), parsed.values["only-missing"].as<bool>()});
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
    if (parsed.values["wait"].as<bool>()) {
        BarrierWait wait;
        wait.timeout_seconds = parsed.values["timeout"].as<double>();
        wait.scan_interval_seconds = parsed.values["scan-interval"].as<double>();
        wait.use_inotify = !parsed.values["no-inotify"].as<bool>();
        if (wait.timeout_seconds < 0 || wait.scan_interval_seconds <= 0)
            throw UsageError("--timeout must be 0 (never) or more and --scan-interval more than 0 seconds");
        MarkerWatch watch(*project, unit, wait);
        watch.wait();
        check_barrier(*project, unit);
        return 0;
    }
    check_barrier(*project, unit);
    return 0;
}

int export_command(int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
            std::cout << "Usage: steppar-host export slurm|k8s PIPELINE --out DIR [OPTIONS]\n"
                         "Run 'steppar-host export slurm --help' or 'export k8s --help' for the options.\n";
            return 0;
        }
        throw UsageError("export: say what to export to: 'export slurm' or 'export k8s'");
    }
    const std::string engine = argv[1];
    po::options_description options("Options");
    options.add_options()("out", po::value<std::string>()->required(), "folder to write the scripts or manifests into");
    if (engine == "slurm") {
        options.add_options()("partition", po::value<std::string>()->default_value(""), "Slurm partition (sbatch --partition)")(
            "account", po::value<std::string>()->default_value(""), "Slurm account (sbatch --account)")(
            "sbatch-arg", po::value<std::vector<std::string>>()->composing(), "extra '#SBATCH' line, e.g. --mem=4G (repeatable)")(
            "max-parallel", po::value<int>()->default_value(0), "most array tasks of one multinode at once (%M); 0: no limit")(
            "max-array-size", po::value<int>()->default_value(default_max_array_size),
            "the cluster's MaxArraySize (scontrol show config): larger slice arrays are submitted in parts")(
            "host-program", po::value<std::string>()->default_value(boost::dll::program_location().string()),
            "steppar-host as the compute nodes see it");
    } else if (engine == "k8s") {
        options.add_options()("image", po::value<std::string>()->required(), "container image holding steppar-host and the plugins")(
            "volume-claim", po::value<std::string>()->required(), "PersistentVolumeClaim with the pipeline folder")(
            "parallelism", po::value<int>()->default_value(0), "pods of one Indexed Job at once; 0: all slices")(
            "host-program", po::value<std::string>()->default_value("steppar-host"), "steppar-host inside the image");
    } else {
        throw UsageError("export: unknown engine '" + engine + "'" + suggestion(engine, {"slurm", "k8s"}));
    }
    const auto parsed = parse("export " + engine,
                              engine == "slurm" ? "Writes one sbatch script per job (slices as job arrays) and submit.sh, "
                                                  "which submits them chained with --dependency (afterok; a barrier afterany)."
                                                : "Writes one Kubernetes Job per step (slices as Indexed Jobs) and a "
                                                  "README.md saying in which order to apply them.",
                              options, argc - 1, argv + 1);
    if (parsed.help) return 0;
    if (!param_overrides(parsed).empty())
        throw UsageError("--param does not reach the exported jobs: put the value in the pipeline file before exporting");
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    const fs::path out = parsed.values["out"].as<std::string>();
    std::vector<fs::path> written;
    if (engine == "slurm") {
        SlurmExport o;
        o.host_program = parsed.values["host-program"].as<std::string>();
        o.partition = parsed.values["partition"].as<std::string>();
        o.account = parsed.values["account"].as<std::string>();
        if (parsed.values.count("sbatch-arg")) o.sbatch_args = parsed.values["sbatch-arg"].as<std::vector<std::string>>();
        o.max_parallel = parsed.values["max-parallel"].as<int>();
        o.max_array_size = parsed.values["max-array-size"].as<int>();
        if (o.max_array_size < 1) throw UsageError("--max-array-size must be at least 1, got " + std::to_string(o.max_array_size));
        written = export_slurm(*project, graph, o, out);
    } else {
        KubernetesExport o;
        o.host_program = parsed.values["host-program"].as<std::string>();
        o.image = parsed.values["image"].as<std::string>();
        o.volume_claim = parsed.values["volume-claim"].as<std::string>();
        o.parallelism = parsed.values["parallelism"].as<int>();
        written = export_kubernetes(*project, graph, o, out);
    }
    for (const auto& file : written) std::cout << file.string() << "\n";
    return 0;
}

// The expanded graph as a picture: steps (slicer, slices, barrier, plain nodes) and the
// datasets between units. Edges inside a unit follow the steps; between units they go through
// the datasets one writes and the other reads.
struct GraphPicture {
    struct Box {
        std::string id, label, kind;  // kind: slicer, slice, barrier, node, dataset
    };
    std::vector<Box> boxes;
    std::vector<std::pair<std::string, std::string>> edges;

    GraphPicture(const Pipeline& pipeline, const ExpandedGraph& graph) {
        std::map<std::string, std::string> dataset_ids;
        auto dataset = [&](const std::string& name) {
            auto [it, added] = dataset_ids.emplace(name, "d" + std::to_string(dataset_ids.size()));
            if (added) boxes.push_back({it->second, name, "dataset"});
            return it->second;
        };
        for (std::size_t i = 0; i < graph.steps.size(); ++i) {
            const Step& step = graph.steps[i];
            const Unit& unit = pipeline.units()[step.unit];
            const std::string id = "s" + std::to_string(i);
            boxes.push_back({id, step.name, to_string(step.kind)});
            for (const auto d : step.depends_on)
                if (graph.steps[d].unit == step.unit) edges.emplace_back("s" + std::to_string(d), id);
            if (step.kind == StepKind::slicer || step.kind == StepKind::node) {
                std::set<std::string> inside;
                for (const auto& n : unit.nodes) inside.insert(n.outputs.begin(), n.outputs.end());
                for (const auto& n : unit.nodes)
                    for (const auto& in : n.inputs)
                        if (!Node::is_param(in) && !inside.count(in)) edges.emplace_back(dataset(in), id);
            }
            if (step.kind == StepKind::barrier || step.kind == StepKind::node)
                for (const auto& n : unit.nodes)
                    for (const auto& out : n.outputs)
                        if (pipeline.catalog().contains(out) && !pipeline.catalog().at(out).intermediate) edges.emplace_back(id, dataset(out));
        }
        std::sort(edges.begin(), edges.end());
        edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    }

    std::string mermaid() const {
        std::string out = "flowchart LR\n";
        for (const auto& b : boxes) {
            const std::string label = "\"" + b.label + "\"";
            out += "  " + b.id + (b.kind == "dataset" ? "[(" + label + ")]" : b.kind == "barrier" ? "{{" + label + "}}" : "[" + label + "]") + "\n";
        }
        for (const auto& [from, to] : edges) out += "  " + from + " --> " + to + "\n";
        return out;
    }

    std::string dot() const {
        std::string out = "digraph steppar {\n  rankdir=LR;\n";
        for (const auto& b : boxes) {
            std::string label;
            append_json_string(label, b.label);  // a JSON string is a valid DOT string
            const char* shape = b.kind == "dataset" ? "cylinder" : b.kind == "barrier" ? "hexagon" : "box";
            out += "  " + b.id + " [label=" + label + ", shape=" + shape + "];\n";
        }
        for (const auto& [from, to] : edges) out += "  " + from + " -> " + to + ";\n";
        return out + "}\n";
    }
};

int graph_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("format", po::value<std::string>()->default_value("text"),
                          "text (one step per line), mermaid or dot (a picture with the datasets), "
                          "svg or png (the dot picture drawn by Graphviz, if installed)")(
        "output,o", po::value<std::string>()->default_value(""), "write to this file (whole or not at all) instead of stdout");
    const auto parsed = parse("graph", "Prints the expanded graph, one step per line: kind, name, dependencies.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = parsed.values["format"].as<std::string>();
    const auto output = parsed.values["output"].as<std::string>();
    const std::vector<std::string> formats = {"text", "mermaid", "dot", "svg", "png"};
    if (std::find(formats.begin(), formats.end(), format) == formats.end())
        throw UsageError("unknown --format '" + format + "'" + suggestion(format, formats) + " (text, mermaid, dot, svg or png)");
    if (format == "png" && output.empty() && ::isatty(STDOUT_FILENO))
        throw UsageError("graph --format png writes binary data: give --output FILE.png or redirect stdout");
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    std::string text;
    if (format == "text") {
        for (const auto& step : graph.steps) {
            std::vector<std::string> deps;
            for (const auto d : step.depends_on) deps.push_back(graph.steps[d].name);
            text += std::string(to_string(step.kind)) + "\t" + step.name + "\t<- " + (deps.empty() ? "-" : join(deps, ",")) +
                    "\t[" + join(Pipeline::tags(project->pipeline().units()[step.unit]), ",") + "]\n";
        }
    } else {
        const GraphPicture picture(project->pipeline(), graph);
        text = format == "mermaid" ? picture.mermaid() : picture.dot();
    }
    if (format == "svg" || format == "png") text = render_with_graphviz(text, format);
    if (output.empty()) {
        std::cout << text;
    } else {
        AtomicFile file(output);
        file.stream() << text;
        file.commit();
    }
    return 0;
}

int nodes_command(int argc, char** argv) {
    po::options_description options("Options");
    const auto parsed = parse("nodes", "Lists each node of the pipeline with its function, kind and plugin file.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);
    for (const auto& unit : project->pipeline().units())
        for (const auto& n : unit.nodes) {
            const auto& fn = project->function(n);
            std::cout << n.name << "\t" << n.function.text() << "\t"
                      << (fn.kind == NodeKind::partition ? "partition" : "whole") << "\t"
                      << project->plugins().file(n.function.plugin).string() << "\n";
        }
    return 0;
}

}  // namespace

int validate_command(int argc, char** argv) {
    po::options_description options("Options");
    const auto parsed = parse("validate",
                              "Checks the pipeline without running anything: the file's syntax and keys, every "
                              "plugin loadable with the right SDK ABI, every function present and of the right "
                              "kind, datasets, params and configurators, a DAG with one producer per dataset, "
                              "source folders present. Exit 0 when valid, 2 with the first problem otherwise.",
                              options, argc, argv);
    if (parsed.help) return 0;
    auto project = open_project(parsed);  // every static check happens here
    const ExpandedGraph graph = expand(project->pipeline());
    std::size_t nodes = 0;
    for (const auto& unit : project->pipeline().units()) nodes += unit.nodes.size();
    std::cout << project->pipeline_file().string() << ": valid (" << nodes << " node(s) in "
              << project->pipeline().units().size() << " unit(s), " << graph.steps.size() << " steps)\n";
    // The plugins it uses, as their descriptors name them: which build is about to run.
    std::set<std::string> aliases;
    for (const auto& unit : project->pipeline().units())
        for (const auto& n : unit.nodes) aliases.insert(n.function.plugin);
    for (const auto& alias : aliases) {
        const PluginDescriptor& d = project->plugins().descriptor(alias);
        const fs::path file = project->plugins().file(alias);
        std::vector<std::string> hooks;
        if (d.setup) hooks.push_back("setup");
        if (d.teardown) hooks.push_back("teardown");
        std::cout << "  plugin '" << alias << "': " << (*d.name ? d.name : file.stem().string().c_str()) << " "
                  << (*d.version ? d.version : "(unversioned)") << ", " << (d.nodes_end - d.nodes_begin) << " node(s)"
                  << (hooks.empty() ? "" : ", " + join(hooks, " and ")) << "; SDK " << d.sdk_version << ", "
                  << d.toolchain.cxx_library << ", " << d.toolchain.compiler << "; " << file.string() << "\n";
    }
    return 0;
}

// --format text|json, checked.
std::string text_or_json(const Parsed& parsed) {
    const auto format = parsed.values["format"].as<std::string>();
    if (format != "text" && format != "json") throw UsageError("unknown --format '" + format + "'" + suggestion(format, {"text", "json"}));
    return format;
}

// Whether a unit works partition by partition (a multinode, a multipipeline, or a plain node
// with a partition function): then it has a plan and a ledger.
bool over_partitions(Project& project, const Unit& unit) {
    return unit.replicated() || project.function(unit.nodes.front()).kind == NodeKind::partition;
}

// What the unit's slicer would plan now (the dirty partitions, cut into slices), or nothing
// while an input is made upstream and does not exist yet. Writes nothing.
std::optional<PlannedUnit> plan_now(Project& project, const ExpandedGraph& graph, std::size_t u, const std::string& only = {}) {
    const Unit& unit = project.pipeline().units()[u];
    for (const auto& in : project.pipeline().external_partitioned_inputs(unit)) {
        std::error_code ec;
        if (!fs::is_directory(project.pipeline().catalog().at(in).path, ec)) return std::nullopt;
    }
    return plan_unit(project, unit, unit.replicated() ? slice_count(graph, u) : 1, {false, only, false});
}

// One step of `plan`: what it is, what it waits for, and for a slice which partitions it would
// run if the pipeline ran now ("?" where an upstream step must run first).
struct PlannedStep {
    const Step& step;
    std::vector<std::string> depends_on;
    const std::vector<std::string>* to_run = nullptr;  // slices and plain partition nodes
    const Assessment* assessment = nullptr;            // slicers and plain partition nodes
    bool unknown = false;
};

int plan_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("format", po::value<std::string>()->default_value("text"), "text or json")(
        "partitions", po::value<std::string>()->default_value(""), "as for run: hand out only partitions matching this regex");
    const auto parsed = parse("plan",
                              "Dry run: prints the expanded graph in execution order and, for each slice, the "
                              "partitions it would run now (only the new and changed ones). Writes nothing.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const auto format = text_or_json(parsed);
    auto project = open_project(parsed);
    const ExpandedGraph graph = expand(project->pipeline());
    const Pipeline& pipeline = project->pipeline();
    std::map<std::size_t, std::optional<PlannedUnit>> plans;
    for (std::size_t u = 0; u < pipeline.units().size(); ++u)
        if (over_partitions(*project, pipeline.units()[u])) plans[u] = plan_now(*project, graph, u, parsed.values["partitions"].as<std::string>());
    std::vector<PlannedStep> steps;
    for (const auto& step : graph.steps) {
        PlannedStep planned{step, {}};
        for (const auto d : step.depends_on) planned.depends_on.push_back(graph.steps[d].name);
        if (const auto it = plans.find(step.unit); it != plans.end() && step.kind != StepKind::barrier) {
            planned.unknown = !it->second;
            if (it->second) {
                if (step.kind == StepKind::slice) planned.to_run = &it->second->plan.slices[static_cast<std::size_t>(step.slice)];
                if (step.kind == StepKind::node) planned.to_run = &it->second->plan.slices[0];
                if (step.kind != StepKind::slice) planned.assessment = &it->second->assessment;
            }
        }
        steps.push_back(std::move(planned));
    }
    if (format == "json") {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& p : steps) {
            nlohmann::json j = {{"kind", to_string(p.step.kind)}, {"name", p.step.name},
                                {"unit", pipeline.units()[p.step.unit].name}, {"depends_on", p.depends_on}};
            if (p.step.kind == StepKind::slice) j["slice"] = p.step.slice;
            if (p.to_run || p.assessment || p.unknown) {
                const auto* a = p.assessment;
                j["partitions"] = p.unknown ? nlohmann::json(nullptr)
                                  : p.to_run ? nlohmann::json(p.to_run->size())
                                             : nlohmann::json(a->dirty.size());
                if (p.to_run) j["to_run"] = *p.to_run;
                if (a) {
                    j["new"] = a->new_count;
                    j["changed"] = a->changed_count;
                    j["up_to_date"] = a->up_to_date;
                    std::vector<std::string> retract;
                    for (const auto& [name, _] : a->retract) retract.push_back(name);
                    j["retract"] = retract;
                    j["foreign"] = a->foreign;
                }
            }
            out.push_back(std::move(j));
        }
        std::cout << out.dump(1) << "\n";
        return 0;
    }
    for (const auto& p : steps) {
        std::string what;
        if (p.unknown) {
            what = "? partitions (known once its inputs exist)";
        } else if (p.assessment && !p.to_run) {
            what = count_text(p.assessment->dirty.size()) + " partition(s) to run: " + summary(*p.assessment);
        } else if (p.to_run) {
            what = count_text(p.to_run->size()) + " partition(s)" + (p.to_run->empty() ? "" : ": " + join_first(*p.to_run, 10));
            if (p.assessment) what += " (" + summary(*p.assessment) + ")";
        }
        std::cout << to_string(p.step.kind) << "\t" << p.step.name << "\t<- " << (p.depends_on.empty() ? "-" : join(p.depends_on, ","))
                  << (what.empty() ? "" : "\t" + what) << "\n";
    }
    return 0;
}

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
    {
        RunLock lock(project->state().lock());  // a running pipeline keeps its state
        wait_for_previous_steps(project->state().steps_lock(), 10);
        for (const auto& entry : fs::directory_iterator(root, ec))
            if (entry.path() != project->state().lock()) removed += fs::remove_all(entry.path(), ec);
        if (ec) throw StateError("cannot clean '" + root.string() + "': " + ec.message());
        fs::remove(project->state().lock(), ec);  // while held: never unlink a lock another run holds
    }
    fs::remove(root, ec);  // only when empty
    std::cout << "removed " << root.string() << " (" << removed << " files and folders)\n";
    return 0;
}

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
    std::optional<Marker> marker;
    try {
        marker = read_marker(project.state().marker(unit.name, slice));
    } catch (const StateError& e) {
        return {"failed", e.what(), true};
    }
    if (marker && marker->plan_id == index->plan_id && !marker->success)
        return {"failed", (marker->failed_partition.empty() ? "" : "on partition '" + marker->failed_partition + "': ") + marker->message, true};
    const bool done = size == 0 || (marker && marker->plan_id == index->plan_id && marker->success);
    if (!done) return {"not run", std::to_string(size) + " partition(s) planned", true};
    const std::string what = size == 0 ? "nothing to run in the last plan" : std::to_string(size) + " partition(s)";
    StatusRow row = rerun ? StatusRow{"stale", what + "; new or changed partitions since", true} : StatusRow{"done", what, false};
    if (marker && size > 0) {
        row.metrics = marker->metrics;
        row.skipped = marker->skipped;
    }
    return row;
}

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
            const bool rerun = whole_node_needs_run(*project, unit, &why);
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
            std::optional<Marker> marker;
            try {
                marker = read_marker(project->state().node_marker(unit.name));
            } catch (const StateError& e) {
                statuses.push_back({"failed", e.what(), true});
                continue;
            }
            std::string why;
            const bool rerun = whole_node_needs_run(*project, unit, &why);
            if (!marker) statuses.push_back({"not run", "no marker", true});
            else if (!marker->success) statuses.push_back({"failed", marker->message, true});
            else if (rerun) statuses.push_back({"stale", why, true, marker->metrics});
            else statuses.push_back({"done", "up to date", false, marker->metrics});
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
    for (const auto& line : unit_lines) std::cout << line << "\n";
    for (std::size_t i = 0; i < graph.steps.size(); ++i) {
        const std::string counters = counters_text(statuses[i].metrics, statuses[i].skipped);
        std::cout << statuses[i].state << "\t" << graph.steps[i].name << "\t" << statuses[i].detail << (counters.empty() ? "" : "; " + counters)
                  << "\t" << (statuses[i].rerun ? "rerun: runs" : "rerun: skipped") << "\n";
    }
    return 0;
}

int dispatch(const std::string& command, int argc, char** argv) {
    if (command == "run") return run(argc, argv);
    if (command == "run-slice") return run_slice_command(argc, argv);
    if (command == "run-node") return run_node_command(argc, argv);
    if (command == "graph") return graph_command(argc, argv);
    if (command == "run-slicer") return run_slicer_command(argc, argv);
    if (command == "check-barrier") return check_barrier_command(argc, argv);
    if (command == "export") return export_command(argc, argv);
    if (command == "nodes") return nodes_command(argc, argv);
    if (command == "validate") return validate_command(argc, argv);
    if (command == "plan") return plan_command(argc, argv);
    if (command == "clean") return clean_command(argc, argv);
    if (command == "status") return status_command(argc, argv);
    if (command == "new-plugin") return new_plugin_command(argc, argv);
    throw UsageError("unknown command '" + command + "'" +
                     suggestion(command, {"run", "run-slice", "run-node", "run-slicer", "check-barrier", "export", "graph", "nodes",
                                          "validate", "plan", "clean", "status", "new-plugin"}) +
                     "; see steppar-host --help");
}

}  // namespace steppar::cli
