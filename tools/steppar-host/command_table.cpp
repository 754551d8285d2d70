#include "commands.hpp"

#include <steppar/error.hpp>
#include <steppar/text.hpp>

namespace steppar::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"run", "run the whole pipeline (slicer, slices, barrier, downstream nodes)", run_command},
        {"run-slice", "run one slice of a multinode or multipipeline (what runners and cluster jobs call)", run_slice_command},
        {"run-node", "run one plain node", run_node_command},
        {"run-slicer", "run one multinode's slicer (write its slice plan)", run_slicer_command},
        {"check-barrier", "check that every slice of a multinode has a success marker", check_barrier_command},
        {"export", "write the pipeline as Slurm scripts (export slurm) or Kubernetes Jobs (export k8s)", export_command},
        {"graph", "print the expanded graph: every step and what it waits for", graph_command},
        {"plan", "dry run: the steps in execution order with each slice's partition count", plan_command},
        {"validate", "check the pipeline file, plugins and graph without running anything (exit 0 or 2)", validate_command},
        {"why", "PATH: what made an output, from what, and whether (and why) a run would make it again", why_command},
        {"report", "[RUN] [--html FILE]: how a run went (times, slices, skipped and why, failures), as text or one HTML page", report_command},
        {"watch", "keep running; run the pipeline whenever its input folders change (fanotify, inotify or polling)", watch_command},
        {"status", "what the state folder says: each step done, failed, stale or not run, and what run would do", status_command},
        {"clean", "remove the state folder (plans, markers, intermediate data); never the catalog's data", clean_command},
        {"nodes", "list every node of the pipeline with its function, kind and plugin file", nodes_command},
        {"new-plugin", "NAME [--dir D]: write a ready out-of-tree plugin project (CMake, two nodes, a pipeline, tests)",
         new_plugin_command},
    };
    return table;
}

int dispatch(const std::string& command, int argc, char** argv) {
    std::vector<std::string> names;
    for (const auto& c : commands()) {
        if (command == c.name) return c.run(argc, argv);
        names.emplace_back(c.name);
    }
    throw UsageError("unknown command '" + command + "'" + suggestion(command, names) + "; see steppar-host --help");
}

std::string usage() {
    std::string text =
        "steppar-host: run step-parallel pipelines of C++ node plugins\n\n"
        "Usage: steppar-host COMMAND PIPELINE [OPTIONS]\n"
        "       steppar-host new-plugin NAME [--dir DIR]\n\n"
        "Commands:\n";
    for (const auto& c : commands()) {
        std::string name = c.name;
        name.resize(std::max<std::size_t>(name.size() + 1, 15), ' ');
        text += "  " + name + c.summary + "\n";
    }
    return text +
           "\nRun 'steppar-host COMMAND --help' for the options of a command.\n"
           "Exit codes: 0 success, 1 a node failed, 2 bad usage or bad pipeline file.\n";
}

}  // namespace steppar::cli
