// export slurm|k8s: the pipeline as Slurm scripts or Kubernetes Jobs.
#include "commands.hpp"

#include "command_line.hpp"
#include <steppar/cluster_export.hpp>
#include <steppar/expand.hpp>


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
            "host-program", po::value<std::string>()->default_value(host_program()),
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

}  // namespace steppar::cli
